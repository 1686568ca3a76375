"""The transactional outbox, the relay that publishes it, and the kombu topic exchange."""

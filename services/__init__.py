"""The stages. Each imports only `shared`, never another service; they talk through events and queues."""

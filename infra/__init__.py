"""The composition root: the CLI, the app factory, `ideahub up` and its supervisor, deployment files."""

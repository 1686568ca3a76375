"""dramatiq glue: the broker, its middleware, and the stage-actor wrapper (unit of work + dedupe + log context)."""

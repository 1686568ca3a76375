"""The administrators' console: the pipeline at a glance, every idea, failures, people, reports.

It reads across every stage (and retries any consumer's failed message), so it lives in the composition root.
"""

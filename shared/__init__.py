"""Code that two or more services may import: contracts, lifecycle, storage, bus, worker glue.

Nothing here imports a service or the composition root (`infra`); a test checks it.
"""

"""Intake: stores ideas from every channel, gives each a reference and a status link.

Owns: ideas (creation), the submitter's status view and withdrawal.
Emits: idea.received.v1 (and idea.status_changed.v1 on withdrawal).
Consumes: nothing; it is the start of the pipeline.
"""

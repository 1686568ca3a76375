"""Notify: tells the submitter of every change of status, by email.

Owns: notifications (one row per event, recipient and channel, ever).
Consumes: idea.received.v1, idea.status_changed.v1.
Emits: nothing.
"""

"""Notify: tells people (and systems) what happened, once each, or shows why it could not.

Owns: notifications (one row per event, recipient and channel, ever), notification_preferences.
Consumes: every domain event, from its own queue on the topic exchange.
Emits: notification.failed.v1.
"""

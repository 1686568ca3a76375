"""Sponsor matching: ranks sponsors for an accepted idea and offers it to the best one in turn.

Owns: offers (with the ranking reasons behind each).
Consumes: idea.status_changed.v1 to matching (make the first offer), offer.answered.v1 declined or expired
(next offer), offer.made.v1 (delayed: remind the sponsor before its deadline, expire it at the deadline).
Emits: offer.made.v1, offer.reminder.v1, offer.answered.v1 (accepted, declined, expired),
idea.status_changed.v1 (incubating, unmatched). Sweeps open offers for reminders and deadlines a lost message missed.
"""

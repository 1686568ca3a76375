"""Sponsor matching: ranks sponsors for an accepted idea and offers it to the best one in turn.

Owns: offers (with the ranking reasons behind each).
Consumes: idea.status_changed.v1 to matching (make the first offer), offer.answered.v1 declined (next offer).
Emits: offer.made.v1, offer.answered.v1, idea.status_changed.v1 (incubating, unmatched).
"""

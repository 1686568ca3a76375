"""Incubation: the sponsor's plan, progress and outcome for an idea they accepted.

Owns: incubations, milestones, progress_updates, outcomes.
Consumes: offer.answered.v1 accepted (open the incubation record).
Emits: incubation.started.v1, idea.status_changed.v1 (implemented, closed).
"""

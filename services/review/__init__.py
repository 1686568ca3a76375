"""Review: screens a received idea, assigns reviewers, takes their scores and decides.

Owns: review_tasks, reviews.
Consumes: idea.received.v1 (screen and assign), review.submitted.v1 (decide).
Emits: idea.status_changed.v1 (in_review, matching, rejected), review.assigned.v1, review.submitted.v1.
"""

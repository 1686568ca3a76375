"""Review: screens a received idea, assigns reviewers, takes their scores and questions, keeps deadlines, decides.

Owns: review_tasks, reviews, and the review side of questions (asking, reminding, lapsing).
Consumes: idea.received.v1 (screen and assign), review.submitted.v1 (decide), review.assigned.v1 and
review.resumed.v1 (delayed: remind, then escalate at the deadline), question.asked.v1 (delayed: remind the
submitter, then lapse), idea.status_changed.v1 (back from needs_info: resume; withdrawn: close the tasks).
Emits: idea.status_changed.v1 (in_review, needs_info, matching, rejected), review.assigned.v1,
review.submitted.v1, review.reminder.v1, review.escalated.v1, review.resumed.v1, question.asked.v1,
question.reminder.v1.
"""

"""Thin actors: each calls one handler with the settings it needs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.review import deadlines, decision, screening
from shared.clock import utcnow
from shared.contracts.events import (
    IdeaReceivedV1,
    IdeaStatusChangedV1,
    QuestionAskedV1,
    ReviewAssignedV1,
    ReviewResumedV1,
    ReviewSubmittedV1,
)
from shared.worker.declare import StageContext, stage_actor

QUEUE = "review"


@stage_actor(queue=QUEUE, batched=True)
def screen_idea(session: Session, events: list[IdeaReceivedV1], ctx: StageContext) -> None:
    screening.screen_ideas(session, events, settings=ctx.settings)


@stage_actor(queue=QUEUE)
def decide(session: Session, event: ReviewSubmittedV1, ctx: StageContext) -> None:
    decision.decide(session, event, settings=ctx.settings)


@stage_actor(queue=QUEUE)
def remind_reviewer(session: Session, event: ReviewAssignedV1 | ReviewResumedV1, ctx: StageContext) -> None:
    deadlines.remind_task(session, event.task_id, settings=ctx.settings, now=utcnow(), cause=event)


@stage_actor(queue=QUEUE)
def escalate_review(session: Session, event: ReviewAssignedV1 | ReviewResumedV1, ctx: StageContext) -> None:
    deadlines.escalate_idea(session, event.idea_id, settings=ctx.settings, now=utcnow(), cause=event)


@stage_actor(queue=QUEUE)
def remind_submitter(session: Session, event: QuestionAskedV1, ctx: StageContext) -> None:
    deadlines.remind_question(session, event.question_id, settings=ctx.settings, now=utcnow(), cause=event)


@stage_actor(queue=QUEUE)
def expire_question(session: Session, event: QuestionAskedV1, ctx: StageContext) -> None:
    deadlines.expire_question(session, event.question_id, now=utcnow(), cause=event)


@stage_actor(queue=QUEUE)
def resume_review(session: Session, event: IdeaStatusChangedV1, ctx: StageContext) -> None:
    deadlines.resume(session, event, settings=ctx.settings)


@stage_actor(queue=QUEUE)
def close_tasks(session: Session, event: IdeaStatusChangedV1, ctx: StageContext) -> None:
    deadlines.close_for_final(session, event)

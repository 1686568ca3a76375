"""`insert_ignore`: the primitive every consumer's "have I handled this?" rests on, on every database."""

from __future__ import annotations

import uuid

from shared.db.engine import make_engine, make_session_factory
from shared.db.models import ProcessedMessage
from shared.db.uow import unit_of_work
from shared.db.util import insert_ignore, insert_ignore_returning


def test_insert_ignore_says_true_once_and_false_for_the_same_key_after(stack) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(stack.database_url, pool_size=1)
    factory = make_session_factory(engine)
    row = {"consumer": "test", "event_id": uuid.uuid4()}
    try:
        with unit_of_work(factory) as session:
            assert insert_ignore(session, ProcessedMessage.__table__, row) is True
            assert insert_ignore(session, ProcessedMessage.__table__, row) is False
        with unit_of_work(factory) as session:  # committed: a later transaction sees it too
            assert insert_ignore(session, ProcessedMessage.__table__, row) is False
            other = {"consumer": "test", "event_id": uuid.uuid4()}
            assert (
                insert_ignore_returning(session, ProcessedMessage.__table__, other, ProcessedMessage.event_id)
                == (other["event_id"])
            )
            assert (
                insert_ignore_returning(session, ProcessedMessage.__table__, other, ProcessedMessage.event_id) is None
            )
    finally:
        engine.dispose()

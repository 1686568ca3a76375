"""THE transaction boundary. API dependencies and the stage-actor wrapper open it; handlers never commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit what the block did, or roll all of it back if it raised."""
    with factory() as session, session.begin():
        yield session

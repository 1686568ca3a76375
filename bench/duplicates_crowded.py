"""The duplicate search when many ideas are worded alike (one hot topic): does screening slow as they pile up?

Every idea here shares its bands with every other, the worst case for the band index. Each band is
read to at most `similarity.PER_BAND` rows, so the time per idea should stay flat; before that bound
it grew with the number of ideas (2.5 ms at the start, 18.6 ms after 3,000 on PostgreSQL).

    python bench/duplicates_crowded.py                    # PostgreSQL at 127.0.0.1, 3,000 ideas
    python bench/duplicates_crowded.py --database sqlite
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from environment import _postgres
from sqlalchemy.engine import make_url

from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.review import similarity
from shared.clock import utcnow
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrate import upgrade
from shared.db.uow import unit_of_work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--ideas", type=int, default=3000)
    o = parser.parse_args()
    scratch = None
    if o.database == "postgresql":
        scratch = f"ideahub_bench_{uuid.uuid4().hex[:10]}"
        _postgres(o.pg_url, f'CREATE DATABASE "{scratch}"')
        url = make_url(o.pg_url).set(database=scratch).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'crowded.db'}"
    try:
        upgrade(url)
        engine = make_engine(url, pool_size=1)
        factory = make_session_factory(engine)
        times = []
        for i in range(o.ideas):
            submission = Submission(
                title=f"Bench idea {i}",
                problem=f"Problem number {i}: people wait too long for the thing they need.",
                idea=f"Idea number {i}: let them book it online and send a reminder the day before.",
                email="staff@bench.example.gov.uk",
            )
            with unit_of_work(factory) as session:
                created = submit_idea(session, submission, channel="api", departments=["Other"])
            start = time.perf_counter()
            with unit_of_work(factory) as session:
                similarity.find_and_index(session, created.id, threshold=0.5, now=utcnow())
            times.append((time.perf_counter() - start) * 1000)
        engine.dispose()
    finally:
        if scratch:
            _postgres(o.pg_url, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    print(f"duplicate search + index, {o.ideas} ideas worded alike, {o.database}, {os.cpu_count()} cores")
    step = max(1, o.ideas // 4)
    for first in range(0, o.ideas, step):
        chunk = times[first : first + min(100, step)]
        print(f"  ideas {first:>6}-{first + len(chunk):<6} mean {statistics.fmean(chunk):6.2f} ms")


if __name__ == "__main__":
    main()

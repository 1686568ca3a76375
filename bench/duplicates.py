"""Benchmark of the duplicate search at screening, as the store of ideas grows.

Builds a scratch database with `--sizes` existing ideas (synthetic text, each indexed by its
MinHash bands, written with bulk Core inserts), then for `--new` new ideas, some of them reworded
copies of existing ones, times `services.review.similarity.find_and_index` (the duplicate search,
the candidates' exact scores and the new idea's band insert, in the screening transaction) and
prints mean, p50 and p95 in ms at each size, with the recall on the planted copies.

Run from the repository root: `python bench/duplicates.py` (PostgreSQL at --pg-url, a superuser
that can CREATE DATABASE) or `python bench/duplicates.py --database sqlite --sizes 10000`.
The text is made of real public-service words and made-up ones drawn with Zipf-like weights, so
that unrelated ideas share common words as real ones do (their similarity is mostly 0.05 to 0.2).
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from texts import Texts

from services.review import minhash, similarity
from shared.clock import utcnow
from shared.db.engine import make_engine
from shared.db.models import DuplicateCandidate, Idea, SimilarityBand


def idea_row(number: int, text: Text) -> dict[str, object]:
    now = utcnow()
    return {
        "reference": f"IH-BENCH-{number:07d}",
        "status": "in_review",
        "title": text[1][:200],
        "problem": text[2],
        "proposal": text[3],
        "department": text[0],
        "submitter_email": f"person{number}@bench.example.gov.uk",
        "anonymous": False,
        "status_token": secrets.token_urlsafe(24),
        "channel": "api",
        "correlation_id": uuid.uuid4(),
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


def bands_of(text: Text) -> list[int]:
    return minhash.bands(minhash.signature(minhash.shingles(minhash.idea_text(*text[1:]))))


Text = tuple[str, str, str, str]  # department, title, problem, proposal


@dataclass
class Store:
    texts: list[Text]
    ids: list[int]


def grow(engine: Engine, texts: Texts, store: Store, size: int, batch: int = 2000) -> None:
    """Add existing ideas and their bands until the store holds `size`, one bulk insert per batch."""
    ideas, bands = Idea.__table__, SimilarityBand.__table__
    insert = ideas.insert().returning(ideas.c.id, sort_by_parameter_order=True)
    while len(store.ids) < size:
        chunk = [texts.idea() for _ in range(min(batch, size - len(store.ids)))]
        with engine.begin() as connection:
            rows = [idea_row(len(store.ids) + i, text) for i, text in enumerate(chunk)]
            ids = list(connection.execute(insert, rows).scalars())
            band_rows = [{"band": b, "idea_id": i} for i, t in zip(ids, chunk, strict=True) for b in set(bands_of(t))]
            connection.execute(bands.insert(), band_rows)
        store.texts.extend(chunk)
        store.ids.extend(ids)
        print(f"\r  {len(store.ids):,} ideas stored", end="", flush=True)
    print()


@dataclass
class Measured:
    size: int
    ms: list[float]
    cpu_ms: list[float]  # of which this process's CPU (Python, the driver); the rest is the database
    sharing: list[int]
    planted: int
    eligible: int  # planted copies whose exact score is at or above the threshold
    found: int
    found_eligible: int
    others_with_candidates: int


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def measure(
    engine: Engine, texts: Texts, store: Store, *, new: int, share: float, threshold: float, first: int
) -> Measured:
    """Time the search and index of `new` ideas, a `share` of them reworded copies of stored ones.

    The new ideas stay in the database (indexed, as screening leaves them) but are not copied from.
    """
    ideas = Idea.__table__
    result = Measured(len(store.ids), [], [], [], 0, 0, 0, 0, 0)
    for n in range(new):
        planted_from = None
        if texts.rng.random() < share:
            planted_from = texts.rng.randrange(len(store.ids))
            text = texts.reworded(store.texts[planted_from], texts.rng.uniform(0.1, 0.3))
        else:
            text = texts.idea()
        with engine.begin() as connection:
            new_row = idea_row(first + n, text)
            idea_id = connection.execute(ideas.insert().returning(ideas.c.id), new_row).scalar_one()
            sharing = connection.execute(
                select(func.count(func.distinct(SimilarityBand.idea_id))).where(SimilarityBand.band.in_(bands_of(text)))
            ).scalar_one()
        with Session(engine) as session, session.begin():
            session.connection()  # checked out and begun before the clock starts, as in screening
            start, cpu = time.perf_counter(), time.process_time()
            matches = similarity.find_and_index(session, idea_id, threshold=threshold, now=utcnow())
            result.ms.append((time.perf_counter() - start) * 1000)
            result.cpu_ms.append((time.process_time() - cpu) * 1000)
        result.sharing.append(sharing)
        found = {m.idea_id for m in matches}
        if planted_from is None:
            result.others_with_candidates += bool(found)
            continue
        result.planted += 1
        score = minhash.jaccard(
            minhash.shingles(minhash.idea_text(*store.texts[planted_from][1:])),
            minhash.shingles(minhash.idea_text(*text[1:])),
        )
        hit = store.ids[planted_from] in found
        result.eligible += score >= threshold
        result.found += hit
        result.found_eligible += hit and score >= threshold
    return result


def report(m: Measured) -> str:
    return (
        f"{m.size:>9,} ideas | search + index per new idea: mean {statistics.mean(m.ms):.2f} ms, "
        f"p50 {percentile(m.ms, 50):.2f} ms, p95 {percentile(m.ms, 95):.2f} ms over {len(m.ms)} "
        f"(bench CPU mean {statistics.mean(m.cpu_ms):.2f} ms) | "
        f"ideas sharing a band p50 {percentile(m.sharing, 50):.0f}, p95 {percentile(m.sharing, 95):.0f} | "
        f"recall {m.found_eligible}/{m.eligible} planted copies scoring >= threshold "
        f"({m.found}/{m.planted} of all planted) | {m.others_with_candidates} unplanted ideas got a candidate"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--sizes", default="10000,100000", help="store sizes, comma separated (default 10000,100000)")
    parser.add_argument("--new", type=int, default=200, help="new ideas timed at each size (default 200)")
    parser.add_argument("--planted", type=float, default=0.5, help="share of new ideas that are reworded copies")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from shared.db.migrate import upgrade

    run_id = uuid.uuid4().hex[:10]
    tmp = Path(tempfile.mkdtemp(prefix=f"ideahub-dup-{run_id}-"))
    scratch = None
    admin = None
    if args.database == "postgresql":
        scratch = f"ideahub_bench_dup_{run_id}"
        admin = make_engine(args.pg_url, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
        url = make_url(args.pg_url).set(database=scratch).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp / 'ideahub.db'}"
    engine = None
    try:
        upgrade(url)
        engine = make_engine(url, pool_size=2)
        with engine.connect() as connection:
            version = connection.exec_driver_sql(
                "SELECT version()" if scratch else "SELECT 'SQLite ' || sqlite_version()"
            ).scalar()
        print(
            f"Duplicate search: {version}; {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"{minhash.BANDS} bands x {minhash.ROWS} rows, threshold {args.threshold}, "
            f"at most {similarity.MAX_SCORED} scored"
        )
        curve = ", ".join(f"{s:.1f}: {minhash.shared_band_probability(s):.3f}" for s in (0.2, 0.3, 0.4, 0.5, 0.6))
        print(f"S-curve, P(a pair shares a band) at Jaccard {curve}")
        texts = Texts(args.seed)
        store = Store([], [])
        results = []
        for number, size in enumerate(sizes):
            started = time.perf_counter()
            grow(engine, texts, store, size)
            print(f"  built in {time.perf_counter() - started:.0f} s; timing {args.new} new ideas...")
            if scratch:  # as autovacuum would leave a table that has grown: statistics and visibility map
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql("VACUUM ANALYZE")
            first = 10_000_000 * (number + 1)  # references apart from the store's
            results.append(
                measure(engine, texts, store, new=args.new, share=args.planted, threshold=args.threshold, first=first)
            )
            print(report(results[-1]))
        with engine.connect() as connection:
            candidates = connection.execute(select(func.count()).select_from(DuplicateCandidate)).scalar_one()
        print(f"{candidates} candidates recorded in all. Summary:")
        for result in results:
            print(report(result))
    finally:
        if engine is not None:
            engine.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Likely duplicates in the database: each idea's bands stored in `similarity_bands`, the ideas sharing
the most bands read back and scored exactly (`services.review.minhash`), the best kept for reviewers.

The search reads a bounded number of candidates, so that its cost stays flat as the store grows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Executable,
    String,
    bindparam,
    cast,
    func,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from services.review.minhash import BANDS, Match, bands, best_matches, idea_text, shingles, signature
from services.review.schemas import DuplicateView
from shared.db.models import DuplicateCandidate, Idea, SimilarityBand
from shared.db.uow import unit_of_work

# At most this many of the ideas sharing a band are scored, those sharing the most bands first.
# A pair at 0.5 shares 4 bands on average and one at 0.2 shares 0.1, so the close ones come
# first, and the work per idea stays bounded however large the store grows.
MAX_SCORED = 15
# At most this many ideas are read from any one band (the newest), so that a crowded band (many
# ideas on one topic, worded alike) costs the same as a quiet one: without it, N near-identical
# ideas make each screening read all N, and screening slows as the store grows.
PER_BAND = 40

_bands = SimilarityBand.__table__
_ideas = Idea.__table__
_candidates = DuplicateCandidate.__table__

_OWN_TEXT = select(_ideas.c.title, _ideas.c.problem, _ideas.c.proposal).where(_ideas.c.id == bindparam("idea_id"))


def _ranked(found: Any) -> Executable:
    """The texts of the ideas most often `found` for each `owner` (at most MAX_SCORED an owner)."""
    counted = (
        select(
            found.c.owner,
            found.c.idea_id,
            func.row_number()
            .over(partition_by=found.c.owner, order_by=(func.count().desc(), found.c.idea_id.desc()))
            .label("rank"),
        )
        .group_by(found.c.owner, found.c.idea_id)
        .subquery("counted")
    )
    return (
        select(counted.c.owner, _ideas.c.id, _ideas.c.title, _ideas.c.problem, _ideas.c.proposal)
        .join(counted, counted.c.idea_id == _ideas.c.id)
        .where(counted.c.rank <= MAX_SCORED)
    )


@cache
def _statements(dialect: str) -> tuple[Executable, Executable]:
    """The candidates' texts and the band insert, each one statement and one round trip.

    PostgreSQL takes the bands of a whole batch of ideas as two parallel arrays (owner, band),
    one lateral read a band, and the insert as the same arrays (`unnest`). SQLite, in-process and
    without LATERAL, is asked about one idea at a time, one bounded subquery a band, and takes the
    bands as separate rows.
    """
    if dialect == "postgresql":
        # The arrays travel as text ('{1,2,3}', `_pg_arrays`): psycopg would build a list of a thousand
        # numbers value by value in Python, a tenth of screening's time.
        owners: Any = cast(bindparam("owners", type_=String), postgresql.ARRAY(BigInteger))
        band_values: Any = cast(bindparam("bands", type_=String), postgresql.ARRAY(BigInteger))
        wanted = func.unnest(owners, band_values).table_valued("owner", "band").render_derived(name="wanted")
        newest = (
            select(_bands.c.idea_id)
            .where(_bands.c.band == wanted.c.band, _bands.c.idea_id != wanted.c.owner)
            .order_by(_bands.c.idea_id.desc())
            .limit(PER_BAND)
            .lateral("newest")
        )
        found = select(wanted.c.owner, newest.c.idea_id).select_from(wanted).join(newest, true()).subquery("found")
        given = func.unnest(owners, band_values).table_valued("owner", "band").render_derived(name="given")
        insert = _bands.insert().from_select(["idea_id", "band"], select(given.c.owner, given.c.band))
    else:
        per_band = [
            select(_bands.c.idea_id)
            .where(_bands.c.band == bindparam(f"band_{i}"), _bands.c.idea_id != bindparam("idea_id"))
            .order_by(_bands.c.idea_id.desc())
            .limit(PER_BAND)
            .subquery(f"band_{i}")
            for i in range(BANDS)
        ]
        found = union_all(*(select(bindparam("idea_id").label("owner"), part.c.idea_id) for part in per_band)).subquery(
            "found"
        )
        insert = _bands.insert().values(band=bindparam("band"), idea_id=bindparam("idea_id"))
    return _ranked(found), insert


_NEW_CANDIDATE = _candidates.insert()


@dataclass(frozen=True)
class _Searched:
    """An idea being searched for and indexed: its words and its bands."""

    idea_id: int
    own: frozenset[str]
    keys: list[int]


def find_and_index(
    session: Session, idea_id: int, *, threshold: float, now: datetime, text: tuple[str, str, str] | None = None
) -> list[Match]:
    """Record the likely duplicates of one idea among those already indexed, then index it."""
    own_text = text or session.connection().execute(_OWN_TEXT, {"idea_id": idea_id}).one()
    return find_and_index_many(session, [(idea_id, own_text)], threshold=threshold, now=now)[idea_id]


def find_and_index_many(
    session: Session, ideas: Sequence[tuple[int, tuple[str, str, str]]], *, threshold: float, now: datetime
) -> dict[int, list[Match]]:
    """Record the likely duplicates of each idea (id, (title, problem, proposal)), then index them all.

    Each idea is compared with those already indexed and with the ideas before it in `ideas`, as if
    they had been indexed one after another. On PostgreSQL the whole batch costs three statements
    (candidates, their record, the index) however many ideas it holds.

    Runs inside the screening transaction with Core statements; changes no status. An idea
    indexed meanwhile by a concurrent screening may be missed by this one; the later of two
    near-identical ideas screened at the same moment then finds no candidate.
    """
    connection = session.connection()
    searched = []
    for idea_id, text in ideas:
        own = shingles(idea_text(*text))
        searched.append(_Searched(idea_id, own, bands(signature(own))))
    found: dict[int, list[Match]] = {item.idea_id: [] for item in searched}
    searched = [item for item in searched if item.keys]  # an idea without words is like nothing
    if not searched:
        return found
    stored = _stored_candidates(connection, searched)
    earlier: dict[int, list[_Searched]] = {}  # band -> the ideas of this batch already given it
    for item in searched:
        others = stored.get(item.idea_id, {})
        for key in item.keys:
            others |= {mate.idea_id: mate.own for mate in earlier.get(key, ())}
        found[item.idea_id] = best_matches(item.own, others.items(), threshold=threshold)
        for key in item.keys:
            earlier.setdefault(key, []).append(item)
    rows = [
        {"idea_id": idea_id, "other_idea_id": m.idea_id, "score": m.score, "found_at": now}
        for idea_id, matches in found.items()
        for m in matches
    ]
    if rows:
        connection.execute(_NEW_CANDIDATE, rows)
    _index(connection, [(item.idea_id, item.keys) for item in searched])
    return found


def _stored_candidates(connection: Connection, searched: list[_Searched]) -> dict[int, dict[int, frozenset[str]]]:
    """For each idea, the words of the indexed ideas sharing the most bands with it (MAX_SCORED at most)."""
    texts, _ = _statements(connection.dialect.name)
    parameters: Sequence[Mapping[str, object]]
    if connection.dialect.name == "postgresql":
        parameters = [_pg_arrays([(item.idea_id, item.keys) for item in searched])]
    else:
        parameters = [
            {f"band_{i}": key for i, key in enumerate(item.keys)} | {"idea_id": item.idea_id} for item in searched
        ]
    words_of: dict[int, frozenset[str]] = {}  # an idea found for several is read into words once
    stored: dict[int, dict[int, frozenset[str]]] = {}
    for values in parameters:
        for row in connection.execute(texts, values):
            if row.id not in words_of:
                words_of[row.id] = shingles(idea_text(row.title, row.problem, row.proposal))
            stored.setdefault(row.owner, {})[row.id] = words_of[row.id]
    return stored


def _pg_arrays(keyed: list[tuple[int, list[int]]]) -> dict[str, str]:
    """The parallel arrays (owner, band) of PostgreSQL's statements, as array literals."""
    owners = ",".join(",".join([str(idea_id)] * len(keys)) for idea_id, keys in keyed)
    return {"owners": f"{{{owners}}}", "bands": f"{{{','.join(str(k) for _, keys in keyed for k in keys)}}}"}


def _index(connection: Connection, keyed: list[tuple[int, list[int]]]) -> None:
    """Store the bands of each (idea id, bands)."""
    _, insert = _statements(connection.dialect.name)
    if connection.dialect.name == "postgresql":
        connection.execute(insert, _pg_arrays(keyed))
    else:
        connection.execute(insert, [{"band": key, "idea_id": idea_id} for idea_id, keys in keyed for key in keys])


_AFTER = (
    select(_ideas.c.id, _ideas.c.title, _ideas.c.problem, _ideas.c.proposal)
    .where(_ideas.c.id > bindparam("after"))
    .order_by(_ideas.c.id)
    .limit(bindparam("batch"))
)


def index_unindexed(session_factory: sessionmaker[Session], *, batch: int = 500) -> int:
    """Index the ideas screening never indexed (those stored before the duplicate search existed).

    Bands only: no candidates are recorded for them, but every idea screened afterwards is compared
    with them. A transaction a batch; running it again indexes nothing twice. Returns how many it indexed.

    Whether an idea is indexed is asked of the bands' primary key, with its first band: the table has no
    index by idea alone (screening writes 64 rows an idea, and each index would cost every one of them), so
    asking "has this idea any band?" would read the whole table, as it once did, every batch.
    """
    indexed, after = 0, 0
    while True:
        with unit_of_work(session_factory) as session:
            connection = session.connection()
            rows = connection.execute(_AFTER, {"after": after, "batch": batch}).all()
            if not rows:
                return indexed
            keyed = [
                (row.id, bands(signature(shingles(idea_text(row.title, row.problem, row.proposal))))) for row in rows
            ]
            keyed = [(idea_id, keys) for idea_id, keys in keyed if keys]  # an idea without words is like nothing
            if keyed:
                firsts = [(keys[0], idea_id) for idea_id, keys in keyed]
                done: set[int] = set()
                for start in range(0, len(firsts), 250):  # 500 parameters a statement at most
                    pairs = tuple_(_bands.c.band, _bands.c.idea_id).in_(firsts[start : start + 250])
                    done.update(connection.execute(select(_bands.c.idea_id).where(pairs)).scalars())
                keyed = [(idea_id, keys) for idea_id, keys in keyed if idea_id not in done]
            if keyed:
                _index(connection, keyed)
            indexed += len(keyed)
            after = rows[-1].id


# What reviewers and administrators see of a likely duplicate: never who sent it.
_SHOWN = (
    select(_candidates.c.idea_id, _ideas.c.reference, _ideas.c.title, _ideas.c.status, _candidates.c.score)
    .join(_ideas, _ideas.c.id == _candidates.c.other_idea_id)
    .where(_candidates.c.idea_id.in_(bindparam("ids", expanding=True)))
    .order_by(_candidates.c.idea_id, _candidates.c.score.desc(), _candidates.c.other_idea_id.desc())
)


def shown_duplicates(session: Session, idea_ids: Iterable[int]) -> dict[int, list[DuplicateView]]:
    """The recorded likely duplicates of each idea, best first, with each other idea's current status."""
    ids = list(dict.fromkeys(idea_ids))
    found: dict[int, list[DuplicateView]] = {idea_id: [] for idea_id in ids}
    if not ids:
        return found
    for row in session.connection().execute(_SHOWN, {"ids": ids}):
        found[row.idea_id].append(
            DuplicateView(reference=row.reference, title=row.title, score=row.score, status=row.status)
        )
    return found

"""Likely duplicates: MinHash signatures of an idea's words, banded for locality-sensitive lookup.

Two ideas are compared by the Jaccard similarity of their sets of words (lower case, stop
words dropped, a plural `s` folded): the share of distinct words they have in common. An
exact comparison with every stored idea would grow with the store, so each idea keeps a
MinHash signature of `BANDS * ROWS` values, cut into `BANDS` bands of `ROWS` values; each
band is hashed to a signed 64-bit integer and stored in `similarity_bands`. Two ideas with
Jaccard similarity `s` share at least one band with probability `1 - (1 - s**ROWS)**BANDS`
(the S-curve, `shared_band_probability`), so only ideas sharing a band are read and scored
exactly on their stored text.

Everything here is deterministic across processes (hashlib, never Python's `hash()`), so bands
written by one worker are found by another.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import BigInteger, Connection, Executable, bindparam, exists, func, select, true, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from services.review.schemas import DuplicateView
from shared.db.models import DuplicateCandidate, Idea, SimilarityBand
from shared.db.uow import unit_of_work

# 64 bands of 4 rows (256 values). A pair at Jaccard 0.5 shares a band with probability 0.984,
# at 0.6 with 0.9998, at 0.4 with 0.81, at 0.2 with 0.098 and at 0.1 with 0.006: near the
# default threshold a pair is found, while most unrelated ideas (0.05 to 0.15 on real-looking
# text) share none. Three rows a band would find more near the threshold but read four times as
# many unrelated ideas; 32 bands of 4 would miss one pair in eight at 0.5.
BANDS = 64
ROWS = 4
# At most this many of the ideas sharing a band are scored, those sharing the most bands first.
# A pair at 0.5 shares 4 bands on average and one at 0.2 shares 0.1, so the close ones come
# first, and the work per idea stays bounded however large the store grows.
MAX_SCORED = 15
# At most this many ideas are read from any one band (the newest), so that a crowded band (many
# ideas on one topic, worded alike) costs the same as a quiet one: without it, N near-identical
# ideas make each screening read all N, and screening slows as the store grows.
PER_BAND = 40
# At most this many candidates are kept for reviewers, best first.
MAX_KEPT = 5

_WORD = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each etc few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just let me more most my myself no nor not now of off on once only or other ought our ours
    ourselves out over own per same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up upon us very via was
    we were what when where which while who whom why will with would you your yours yourself
    yourselves
    """.split()
)
_VALUES = struct.Struct(f"<{BANDS * ROWS}I")
_BAND = struct.Struct(f"<H{ROWS}I")


@lru_cache(maxsize=65_536)
def _normal(word: str) -> str:
    """A lower-case word with a plural ending folded; empty for a stop word or a single letter."""
    if len(word) < 2 or word in STOP_WORDS:
        return ""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case words without stop words or one-letter tokens, with a plural ending folded.

    Scoring reads every candidate's text, so this is kept lean: the per-word work is cached.
    """
    return list(filter(None, map(_normal, _WORD.findall(text.lower()))))


def shingles(text: str) -> frozenset[str]:
    """The distinct words of a text: 1-word shingles, so that a reordered or lightly reworded copy stays close."""
    return frozenset(words(text))


def idea_text(title: str, problem: str, proposal: str) -> str:
    return f"{title}\n{problem}\n{proposal}"


@lru_cache(maxsize=4096)  # 1 KiB each: common words are hashed once a process
def _word_hashes(shingle: str) -> bytes:
    """`BANDS * ROWS` independent 32-bit hashes of one shingle (an extendable-output hash gives them at once)."""
    return hashlib.shake_256(shingle.encode()).digest(_VALUES.size)


def signature(items: Iterable[str]) -> tuple[int, ...]:
    """The MinHash signature: for each of the hash functions, the least value over the shingles.

    Empty text has no signature (an empty tuple) and so no bands: it is like nothing.
    """
    rows = [_VALUES.unpack(_word_hashes(item)) for item in items]
    if not rows:
        return ()
    return tuple(map(min, zip(*rows, strict=True)))


def bands(values: Sequence[int]) -> list[int]:
    """Each band of `ROWS` values, with its position, hashed to a signed 64-bit integer (a BIGINT)."""
    if not values:
        return []
    return [
        int.from_bytes(
            hashlib.blake2b(_BAND.pack(band, *values[band * ROWS : (band + 1) * ROWS]), digest_size=8).digest(),
            "big",
            signed=True,
        )
        for band in range(BANDS)
    ]


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def shared_band_probability(similarity: float, *, band_count: int = BANDS, rows: int = ROWS) -> float:
    """The chance that two ideas with this Jaccard similarity share at least one band: the S-curve."""
    return 1 - (1 - similarity**rows) ** band_count


@dataclass(frozen=True)
class Match:
    idea_id: int
    score: float


_bands = SimilarityBand.__table__
_ideas = Idea.__table__
_candidates = DuplicateCandidate.__table__

_OWN_TEXT = select(_ideas.c.title, _ideas.c.problem, _ideas.c.proposal).where(_ideas.c.id == bindparam("idea_id"))


@cache
def _statements(dialect: str) -> tuple[Executable, Executable]:
    """The candidates' texts and the band insert, each one statement and one round trip.

    PostgreSQL takes the bands as one array parameter (`= ANY`, `unnest`); SQLite, in-process,
    takes them as separate parameters and rows.
    """
    if dialect == "postgresql":
        band_values: Any = bindparam("bands", type_=postgresql.ARRAY(BigInteger))
        wanted = func.unnest(band_values).table_valued("band").render_derived(name="wanted")
        newest = (
            select(_bands.c.idea_id)
            .where(_bands.c.band == wanted.c.band, _bands.c.idea_id != bindparam("idea_id"))
            .order_by(_bands.c.idea_id.desc())
            .limit(PER_BAND)
            .lateral("newest")
        )
        found = select(newest.c.idea_id).select_from(wanted).join(newest, true()).subquery("found")
        insert = _bands.insert().from_select(
            ["band", "idea_id"], select(func.unnest(band_values), bindparam("idea_id", type_=BigInteger))
        )
    else:  # one bounded subquery a band, each an index range read (SQLite has no LATERAL)
        per_band = [
            select(_bands.c.idea_id)
            .where(_bands.c.band == bindparam(f"band_{i}"), _bands.c.idea_id != bindparam("idea_id"))
            .order_by(_bands.c.idea_id.desc())
            .limit(PER_BAND)
            .subquery(f"band_{i}")
            for i in range(BANDS)
        ]
        found = union_all(*(select(part.c.idea_id) for part in per_band)).subquery("found")
        insert = _bands.insert().values(band=bindparam("band"), idea_id=bindparam("idea_id"))
    sharing = (
        select(found.c.idea_id)
        .group_by(found.c.idea_id)
        .order_by(func.count().desc(), found.c.idea_id.desc())
        .limit(MAX_SCORED)
        .subquery()
    )
    texts = select(_ideas.c.id, _ideas.c.title, _ideas.c.problem, _ideas.c.proposal).join(
        sharing, sharing.c.idea_id == _ideas.c.id
    )
    return texts, insert


_NEW_CANDIDATE = _candidates.insert()


def best_matches(own: frozenset[str], others: Iterable[tuple[int, frozenset[str]]], *, threshold: float) -> list[Match]:
    """Those at or above the threshold, best first (the newest first among equals), at most MAX_KEPT."""
    scored = [Match(idea_id, round(jaccard(own, theirs), 4)) for idea_id, theirs in others]
    kept = [m for m in scored if m.score >= threshold]
    kept.sort(key=lambda m: (-m.score, -m.idea_id))
    return kept[:MAX_KEPT]


def find_and_index(
    session: Session, idea_id: int, *, threshold: float, now: datetime, text: tuple[str, str, str] | None = None
) -> list[Match]:
    """Record the likely duplicates of an idea among those already indexed, then index it.

    Runs inside the screening transaction with Core statements; changes no status. An idea
    indexed meanwhile by a concurrent screening may be missed by this one; the later of two
    near-identical ideas screened at the same moment then finds no candidate.
    """
    connection = session.connection()
    own_row = text or connection.execute(_OWN_TEXT, {"idea_id": idea_id}).one()  # (title, problem, proposal)
    own = shingles(idea_text(*own_row))
    keys = bands(signature(own))
    if not keys:
        return []
    texts, insert = _statements(connection.dialect.name)
    if connection.dialect.name == "postgresql":
        candidates = connection.execute(texts, {"bands": keys, "idea_id": idea_id})
    else:
        candidates = connection.execute(texts, {f"band_{i}": key for i, key in enumerate(keys)} | {"idea_id": idea_id})
    matches = best_matches(
        own,
        ((row.id, shingles(idea_text(row.title, row.problem, row.proposal))) for row in candidates),
        threshold=threshold,
    )
    if matches:
        connection.execute(
            _NEW_CANDIDATE,
            [{"idea_id": idea_id, "other_idea_id": m.idea_id, "score": m.score, "found_at": now} for m in matches],
        )
    _index(connection, insert, idea_id, keys)
    return matches


def _index(connection: Connection, insert: Executable, idea_id: int, keys: list[int]) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(insert, {"bands": keys, "idea_id": idea_id})
    else:
        connection.execute(insert, [{"band": key, "idea_id": idea_id} for key in keys])


_UNINDEXED = (
    select(_ideas.c.id, _ideas.c.title, _ideas.c.problem, _ideas.c.proposal)
    .where(_ideas.c.id > bindparam("after"), ~exists().where(_bands.c.idea_id == _ideas.c.id))
    .order_by(_ideas.c.id)
    .limit(bindparam("batch"))
)


def index_unindexed(session_factory: sessionmaker[Session], *, batch: int = 500) -> int:
    """Index the ideas screening never indexed (those stored before the duplicate search existed).

    Bands only: no candidates are recorded for them, but every idea screened afterwards is compared
    with them. A transaction a batch; running it again indexes nothing twice. Returns how many it indexed.
    """
    indexed, after = 0, 0
    while True:
        with unit_of_work(session_factory) as session:
            connection = session.connection()
            rows = connection.execute(_UNINDEXED, {"after": after, "batch": batch}).all()
            if not rows:
                return indexed
            _, insert = _statements(connection.dialect.name)
            for row in rows:
                keys = bands(signature(shingles(idea_text(row.title, row.problem, row.proposal))))
                if keys:  # an idea without words has no bands: it is like nothing
                    _index(connection, insert, row.id, keys)
                    indexed += 1
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
            DuplicateView(reference=row.reference or "", title=row.title, score=row.score, status=row.status)
        )
    return found

"""MinHash for likely duplicates, with no database: words, signatures, bands, and the exact score.

Two ideas are compared by the Jaccard similarity of their sets of words (lower case, stop
words dropped, a plural `s` folded): the share of distinct words they have in common. An
exact comparison with every stored idea would grow with the store, so each idea keeps a
MinHash signature of `BANDS * ROWS` values, cut into `BANDS` bands of `ROWS` values; each
band is hashed to a signed 64-bit integer. Two ideas with Jaccard similarity `s` share at
least one band with probability `1 - (1 - s**ROWS)**BANDS` (the S-curve,
`shared_band_probability`), so only ideas sharing a band need be read and scored exactly.

Everything here is deterministic across processes (hashlib, never Python's `hash()`), so bands
written by one worker are found by another. `services.review.similarity` stores and searches them.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# 64 bands of 4 rows (256 values). A pair at Jaccard 0.5 shares a band with probability 0.984,
# at 0.6 with 0.9998, at 0.4 with 0.81, at 0.2 with 0.098 and at 0.1 with 0.006: near the
# default threshold a pair is found, while most unrelated ideas (0.05 to 0.15 on real-looking
# text) share none. Three rows a band would find more near the threshold but read four times as
# many unrelated ideas; 32 bands of 4 would miss one pair in eight at 0.5.
BANDS = 64
ROWS = 4
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


# The signature is the least of each of the BANDS * ROWS 32-bit hash values over an idea's words. Python
# would take them one by one; instead each word's hashes are read as one big integer, and half of the
# values at a time sit in 64-bit lanes, the upper 32 bits of each lane empty: subtracting two such
# integers then compares every lane at once, the borrow of a lane staying inside it (SWAR, "SIMD within a
# register"). It is equal to the plain definition (tests/unit/test_similarity.py), about twice as fast, and
# needs no numpy, which would weigh on every worker's memory (the figures are in CHANGELOG.md).
_LANES = BANDS * ROWS // 2
_LOW = int.from_bytes(((1 << 32) - 1).to_bytes(8, "little") * _LANES, "little")  # each lane's lower half
_GUARD = int.from_bytes((1 << 32).to_bytes(8, "little") * _LANES, "little")  # the bit above each lane's value


def _least(a: int, b: int) -> int:
    """Lane by lane, the lesser of two integers of 64-bit lanes each holding a 32-bit value."""
    no_borrow = ((a | _GUARD) - b) & _GUARD  # the guard bit stays set where a >= b
    b_lanes = no_borrow - (no_borrow >> 32)  # all 32 value bits set in those lanes
    return a ^ ((a ^ b) & b_lanes)


def signature(items: Iterable[str]) -> tuple[int, ...]:
    """The MinHash signature: for each of the hash functions, the least value over the shingles.

    Empty text has no signature (an empty tuple) and so no bands: it is like nothing.
    """
    even = odd = None
    for item in items:
        values = int.from_bytes(_word_hashes(item), "little")  # value i in bits 32i..32i+31
        e, o = values & _LOW, (values >> 32) & _LOW  # values 0, 2, 4, ... and 1, 3, 5, ... in lanes
        even, odd = (e, o) if even is None or odd is None else (_least(even, e), _least(odd, o))
    if even is None or odd is None:
        return ()
    return _VALUES.unpack((even | (odd << 32)).to_bytes(_VALUES.size, "little"))


_POSITIONS = [struct.pack("<H", band) for band in range(BANDS)]


def bands(values: Sequence[int]) -> list[int]:
    """Each band of `ROWS` values, with its position, hashed to a signed 64-bit integer (a BIGINT).

    A band's hash input is its position (2 bytes) and its values (4 bytes each), little-endian.
    """
    if not values:
        return []
    packed, width = _VALUES.pack(*values), 4 * ROWS
    return [
        int.from_bytes(
            hashlib.blake2b(position + packed[band * width : (band + 1) * width], digest_size=8).digest(),
            "big",
            signed=True,
        )
        for band, position in enumerate(_POSITIONS)
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


def best_matches(own: frozenset[str], others: Iterable[tuple[int, frozenset[str]]], *, threshold: float) -> list[Match]:
    """Those at or above the threshold, best first (the newest first among equals), at most MAX_KEPT."""
    scored = [Match(idea_id, round(jaccard(own, theirs), 4)) for idea_id, theirs in others]
    kept = [m for m in scored if m.score >= threshold]
    kept.sort(key=lambda m: (-m.score, -m.idea_id))
    return kept[:MAX_KEPT]

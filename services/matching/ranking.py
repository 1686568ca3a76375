"""Sponsor fit: text similarity of the idea to a sponsor's interests, department, and spare capacity."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]{3,}")
_STOP = frozenset("the and for with that this from are was were have has not but you your our can will".split())

WEIGHTS = {"interests": 0.6, "department": 0.25, "capacity": 0.15}


def words(text: str) -> Counter[str]:
    return Counter(w for w in _WORD.findall(text.lower()) if w not in _STOP)


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[word] for word, count in a.items())
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


@dataclass(frozen=True)
class Candidate:
    sponsor_id: int
    name: str
    department: str | None
    interests: str
    capacity: int
    load: int


@dataclass(frozen=True)
class Ranked:
    sponsor_id: int
    score: float
    reasons: list[str]


def rank(idea_text: str, idea_department: str | None, candidates: list[Candidate]) -> list[Ranked]:
    """Best fit first; each entry says why, in words an administrator can read."""
    idea_words = words(idea_text)
    ranked = []
    for c in candidates:
        similarity = cosine(idea_words, words(c.interests))
        same_department = bool(idea_department) and c.department == idea_department
        spare = max(c.capacity - c.load, 0)
        spare_share = spare / c.capacity if c.capacity else 0.0
        score = (
            WEIGHTS["interests"] * similarity
            + WEIGHTS["department"] * same_department
            + WEIGHTS["capacity"] * spare_share
        )
        shared = sorted(set(idea_words) & set(words(c.interests)))[:5]
        reasons = [
            f"interests match {similarity:.0%}" + (f" ({', '.join(shared)})" if shared else ""),
            "same department" if same_department else "different department",
            f"{spare} of {c.capacity} places free",
        ]
        ranked.append(Ranked(c.sponsor_id, round(score, 4), reasons))
    return sorted(ranked, key=lambda r: (-r.score, r.sponsor_id))

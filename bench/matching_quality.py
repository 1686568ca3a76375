"""Quality and cost of sponsor ranking (services/matching/ranking.py) on a labelled set.

For each idea of bench/matching_set.py, ranks the eight sponsors and checks the labelled one: precision@1
(the first choice is the labelled sponsor), precision@2 (it is in the first two) and the mean reciprocal
rank, on each part of the set and on all; the same for two baselines computed here: a plain
bag-of-words cosine of the idea's words to the sponsor's interests, and the formula Ideahub used before
(60% that cosine, 25% same department, 15% share of places free). The set has three parts, in the order
they were written (see matching_set.py): development, held-out and fresh. Then the misses, and the mean time to rank
one idea against the 8 sponsors and against 400 (the 8 repeated with other ids), with the text caches warm
(a worker that has ranked before) and cold (cleared before every ranking).

Run from the repository root: `.venv/bin/python bench/matching_quality.py`.
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence

from matching_set import CASES, DEVELOPMENT, FRESH, HELD_OUT, SPONSORS, Case

from services.matching.ranking import Candidate, IdeaText, clear_caches, rank

Ranker = Callable[[IdeaText, Sequence[Candidate]], list[int]]

_WORD = re.compile(r"[a-z0-9]{3,}")
_STOP = frozenset("the and for with that this from are was were have has not but you your our can will".split())


def bag_of_words(text: str) -> Counter[str]:
    return Counter(w for w in _WORD.findall(text.lower()) if w not in _STOP)


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[word] for word, count in a.items())
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


def idea_words(idea: IdeaText) -> Counter[str]:
    return bag_of_words(f"{idea.title} {idea.problem} {idea.idea}")


def cosine_only(idea: IdeaText, candidates: Sequence[Candidate]) -> list[int]:
    words = idea_words(idea)
    scores = {c.sponsor_id: cosine(words, bag_of_words(c.interests)) for c in candidates}
    return sorted(scores, key=lambda sponsor_id: (-scores[sponsor_id], sponsor_id))


def previous_formula(idea: IdeaText, candidates: Sequence[Candidate]) -> list[int]:
    words = idea_words(idea)
    scores = {}
    for c in candidates:
        same = bool(idea.department) and c.department == idea.department
        spare = max(c.capacity - c.load, 0) / c.capacity if c.capacity else 0.0
        scores[c.sponsor_id] = 0.6 * cosine(words, bag_of_words(c.interests)) + 0.25 * same + 0.15 * spare
    return sorted(scores, key=lambda sponsor_id: (-scores[sponsor_id], sponsor_id))


def ideahub(idea: IdeaText, candidates: Sequence[Candidate]) -> list[int]:
    return [r.sponsor_id for r in rank(idea, candidates).ranked]


RANKERS: dict[str, Ranker] = {
    "Ideahub ranking": ideahub,
    "bag-of-words cosine": cosine_only,
    "previous formula": previous_formula,
}


@dataclasses.dataclass
class Quality:
    p1: float
    p2: float
    mrr: float
    misses: list[tuple[Case, int]]


def quality(ranker: Ranker, cases: Sequence[Case]) -> Quality:
    positions, misses = [], []
    for case in cases:
        order = ranker(case.idea, SPONSORS)
        position = order.index(case.expected) + 1 if case.expected in order else math.inf
        positions.append(position)
        if position != 1:
            misses.append((case, order[0]))
    n = len(cases)
    return Quality(
        p1=sum(p == 1 for p in positions) / n,
        p2=sum(p <= 2 for p in positions) / n,
        mrr=sum(1 / p for p in positions) / n,
        misses=misses,
    )


def many_sponsors(count: int, *, distinct: bool = False) -> list[Candidate]:
    """The eight sponsors repeated with other ids; `distinct` adds a sentence of its own to each profile, so
    that no two profiles share a cached analysis."""
    out = []
    for i in range(count):
        sponsor = SPONSORS[i % len(SPONSORS)]
        interests = f"{sponsor.interests} Profile number {i}." if distinct else sponsor.interests
        out.append(dataclasses.replace(sponsor, sponsor_id=1000 + i, name=f"Sponsor {i}", interests=interests))
    return out


def mean_ms(candidates: Sequence[Candidate], *, cold: bool, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        for case in CASES:
            if cold:
                clear_caches()
            start = time.perf_counter()
            rank(case.idea, candidates)
            times.append(time.perf_counter() - start)
    return statistics.fmean(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each idea is ranked for the timings")
    args = parser.parse_args()

    sets = {"development": DEVELOPMENT, "held-out": HELD_OUT, "fresh": FRESH, "all": CASES}
    parts = ", ".join(f"{len(cases)} {name}" for name, cases in sets.items() if name != "all")
    print(f"{len(CASES)} ideas ({parts}), {len(SPONSORS)} sponsors")
    print(f"{'':22} {'set':12} {'p@1':>6} {'p@2':>6} {'MRR':>6}")
    for name, ranker in RANKERS.items():
        for set_name, cases in sets.items():
            if cases:
                q = quality(ranker, cases)
                print(f"{name:22} {set_name:12} {q.p1:6.3f} {q.p2:6.3f} {q.mrr:6.3f}")

    names = {c.sponsor_id: c.name for c in SPONSORS}
    for name in RANKERS:
        misses = quality(RANKERS[name], CASES).misses
        print(f"\nmisses of the {name} ({len(misses)}):")
        for case, got in misses:
            part = next(name for name, cases in sets.items() if case in cases)
            print(f"  {case.idea.title!r} ({part}): expected {names[case.expected]}, got {names[got]}")

    print("\nmean time to rank one idea, ms (warm: profiles analysed before; cold: text caches cleared first):")
    for label, candidates in (
        ("8 sponsors", SPONSORS),
        ("400 sponsors", many_sponsors(400)),
        ("400 sponsors, every profile different", many_sponsors(400, distinct=True)),
    ):
        mean_ms(candidates, cold=False, rounds=1)  # warm up
        warm = mean_ms(candidates, cold=False, rounds=args.rounds)
        cold = mean_ms(candidates, cold=True, rounds=1)
        print(f"  {label:38} {warm:7.3f} warm, {cold:7.3f} cold")


if __name__ == "__main__":
    main()

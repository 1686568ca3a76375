"""Likely duplicates: words, MinHash signatures, bands and scores, without a database."""

from __future__ import annotations

import random
import struct
import subprocess
import sys

import pytest

from services.review import minhash
from services.review.minhash import Match, bands, best_matches, jaccard, shingles, signature, words

TOPIC = (
    "patient ward nurse discharge pharmacy clinic referral appointment letter form queue waiting record "
    "phone email text reminder rota shift bed triage volunteer transport parking budget training report "
    "survey printer scanner portal booking audit complaint"
).split()


def random_text(rng: random.Random) -> str:
    """Words from a shared topic list plus words of its own, as two unrelated ideas in one department."""
    own = [f"{rng.choice('bdfgklmnprst')}{rng.choice('aeiou')}{rng.randrange(10_000)}x" for _ in range(24)]
    return " ".join(rng.sample(TOPIC, 16) + own)


def reworded(rng: random.Random, text: str, change: float) -> str:
    """The same text with a share of its words replaced and its order shuffled."""
    out = [f"new{rng.randrange(10**6)}w" if rng.random() < change else word for word in text.split()]
    rng.shuffle(out)
    return " ".join(out)


def test_words_are_lower_case_without_stop_words_punctuation_or_plural_endings() -> None:
    text = "The FORMS are too long; staff re-type ADDRESSES into 3 systems! Café queues, bus & process."
    assert words(text) == [
        "form", "long", "staff", "re", "type", "address", "system", "café", "queue", "bus", "process",
    ]  # fmt: skip


def test_shingles_ignore_order_case_and_repetition() -> None:
    assert shingles("Cut the forms, cut the queues") == shingles("queues: CUT FORMS") == {"cut", "form", "queue"}


def test_a_signature_does_not_depend_on_the_order_of_the_words() -> None:
    items = list(shingles("numbered tickets at the front desk show who is next"))
    assert signature(items) == signature(reversed(items))
    assert len(signature(items)) == minhash.BANDS * minhash.ROWS


def test_bands_are_the_same_in_another_process_and_fit_a_signed_bigint() -> None:
    """Bands written by one worker must be found by another: no per-process hash seed may leak in."""
    text = "Numbered tickets at the front desk, with the current number on a screen"
    here = bands(signature(shingles(text)))
    code = (
        f"from services.review.minhash import bands, signature, shingles; print(bands(signature(shingles({text!r}))))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "random"}
    )
    assert there.stdout.strip() == str(here)
    assert len(here) == minhash.BANDS == len(set(here))
    assert all(-(2**63) <= band < 2**63 for band in here)


def test_the_hashing_is_frozen_so_that_stored_bands_stay_valid() -> None:
    """Changing the hashing orphans every stored band: this fails first, so it is done on purpose."""
    assert bands(signature(shingles("queue tickets front desk")))[:2] == [5949118529074687572, -4945656839436594992]


def test_empty_text_has_no_signature_and_no_bands() -> None:
    assert signature(shingles("the and of it")) == ()
    assert bands(()) == []


def test_the_s_curve_finds_pairs_near_the_threshold_and_almost_never_unrelated_ones() -> None:
    probability = minhash.shared_band_probability
    assert probability(0.5) > 0.98
    assert probability(0.6) > 0.999
    assert probability(0.1) < 0.01
    assert probability(0.05) < 0.001
    assert probability(0.2) < probability(0.3) < probability(0.4) < probability(0.5)


def shares_a_band(a: str, b: str) -> bool:
    return bool(set(bands(signature(shingles(a)))) & set(bands(signature(shingles(b)))))


def test_near_identical_texts_share_a_band() -> None:
    rng = random.Random(11)
    pairs = [(text, reworded(rng, text, 0.1)) for text in (random_text(rng) for _ in range(100))]
    assert min(jaccard(shingles(a), shingles(b)) for a, b in pairs) >= 0.6
    assert all(shares_a_band(a, b) for a, b in pairs)


def test_pairs_just_above_the_default_threshold_share_a_band_at_least_97_times_in_100() -> None:
    rng = random.Random(13)
    pairs = [(text, reworded(rng, text, 0.33)) for text in (random_text(rng) for _ in range(600))]
    near = [(a, b) for a, b in pairs if 0.5 <= jaccard(shingles(a), shingles(b)) < 0.6]
    assert len(near) > 150
    assert sum(shares_a_band(a, b) for a, b in near) >= 0.97 * len(near)


def test_unrelated_texts_almost_never_share_a_band() -> None:
    rng = random.Random(12)
    texts = [random_text(rng) for _ in range(400)]
    pairs = list(zip(texts[::2], texts[1::2], strict=True))
    assert max(jaccard(shingles(a), shingles(b)) for a, b in pairs) < 0.25
    assert sum(shares_a_band(a, b) for a, b in pairs) <= 2  # the S-curve expects 0.01 of 200 pairs


def test_the_score_is_the_share_of_distinct_words_in_common() -> None:
    assert jaccard(frozenset("abcd"), frozenset("abce")) == pytest.approx(3 / 5)
    assert jaccard(frozenset("ab"), frozenset("ab")) == 1.0
    assert jaccard(frozenset("ab"), frozenset("cd")) == 0.0
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_best_matches_keeps_those_at_or_above_the_threshold_best_first_at_most_five() -> None:
    own = frozenset("abcdefghij")
    others = [
        (1, frozenset("abcdefghij")),  # 1.0
        (2, frozenset("abcde")),  # 0.5: at the threshold, kept
        (3, frozenset("abcd")),  # 0.4: below
        (4, frozenset("abcdefghi")),  # 0.9
        (5, frozenset("abcdefgh")),  # 0.8
        (6, frozenset("abcdefg")),  # 0.7
        (7, frozenset("abcdef")),  # 0.6
        (8, frozenset("abcdefghij")),  # 1.0, newer than 1
    ]
    assert best_matches(own, others, threshold=0.5) == [
        Match(8, 1.0), Match(1, 1.0), Match(4, 0.9), Match(5, 0.8), Match(6, 0.7),
    ]  # fmt: skip
    assert best_matches(own, others, threshold=0.95) == [Match(8, 1.0), Match(1, 1.0)]


def test_the_signature_is_the_least_value_of_each_hash_over_the_words() -> None:
    """The lane-by-lane minimum must be exactly the column-wise minimum, whatever the values."""
    rng = random.Random(7)
    columns = minhash.BANDS * minhash.ROWS
    texts = [random_text(rng) for _ in range(50)] + ["one", "queue queue", "a b c d e f g"]
    for text in texts:
        items = list(shingles(text))
        rows = [struct.unpack(f"<{columns}I", minhash._word_hashes(item)) for item in items]
        expected = tuple(min(row[i] for row in rows) for i in range(columns)) if rows else ()
        assert signature(items) == expected
    # Values that differ only in a lane's top bit, and equal ones: the borrow must not cross lanes.
    high, low = 0xFFFFFFFF, 0x7FFFFFFF
    a = int.from_bytes(struct.pack("<4I", high, low, low, high), "little")
    b = int.from_bytes(struct.pack("<4I", low, high, low, 0), "little")
    mask = int.from_bytes(struct.pack("<4I", 0xFFFFFFFF, 0, 0xFFFFFFFF, 0), "little")
    even = minhash._least(a & mask, b & mask)
    odd = minhash._least((a >> 32) & mask, (b >> 32) & mask)
    assert struct.unpack("<4I", (even | (odd << 32)).to_bytes(16, "little")) == (low, low, low, 0)

"""The review decision rule: a mean score of at least 3 and more than half recommending acceptance."""

from __future__ import annotations

import pytest

from services.review.decision import decide_rule
from shared.db.models import Review


def review(score: float, recommendation: str, comment: str = "a comment") -> Review:
    """A review whose four scores average `score` (quarters are made by raising some scores by one)."""
    base = int(score)
    raised = round((score - base) * 4)
    scores = [base + 1] * raised + [base] * (4 - raised)
    impact, feasibility, cost, evidence = scores
    return Review(
        impact=impact,
        feasibility=feasibility,
        cost=cost,
        evidence=evidence,
        recommendation=recommendation,
        comment=comment,
    )


def decide(reviews: list[Review]):
    return decide_rule(reviews, min_mean=3.0, min_accept_share=0.5)


def test_a_mean_of_three_with_a_majority_accepting_is_accepted():
    decision = decide([review(3, "accept"), review(4, "accept"), review(2, "reject")])
    assert decision.accept
    assert decision.mean == 3.0


def test_a_good_mean_with_only_half_accepting_is_rejected_because_more_than_half_is_needed():
    decision = decide([review(4, "accept"), review(4, "reject")])
    assert not decision.accept
    assert decision.accept_share == 0.5


def test_a_mean_below_three_is_rejected_even_when_everyone_accepts():
    decision = decide([review(2.75, "accept"), review(3, "accept")])
    assert not decision.accept
    assert decision.accept_share == 1.0


@pytest.mark.parametrize(
    ("reviews", "accept"),
    [
        ([(3, "accept")], True),
        ([(2.75, "accept")], False),
        ([(5, "reject")], False),
        ([(5, "needs_info")], False),
        ([(5, "accept"), (5, "needs_info")], False),
        ([(3.25, "accept"), (2.75, "accept")], True),
        ([(5, "accept"), (5, "accept"), (1, "reject")], True),
        ([(1, "accept"), (1, "accept"), (5, "reject")], False),
    ],
)
def test_the_rule_needs_both_the_mean_and_the_majority(reviews, accept):
    assert decide([review(score, recommendation) for score, recommendation in reviews]).accept is accept


def test_the_mean_is_of_the_four_scores_of_every_review_rounded_to_two_places():
    reviewed = [
        Review(impact=5, feasibility=4, cost=3, evidence=2, recommendation="accept", comment="a"),
        Review(impact=3, feasibility=3, cost=3, evidence=4, recommendation="accept", comment="b"),
        Review(impact=1, feasibility=2, cost=2, evidence=2, recommendation="reject", comment="c"),
    ]
    assert decide(reviewed).mean == round((3.5 + 3.25 + 1.75) / 3, 2)


def test_the_thresholds_come_from_the_caller():
    reviews = [review(2, "accept"), review(2, "reject"), review(2, "reject")]
    assert decide_rule(reviews, min_mean=2.0, min_accept_share=0.25).accept
    assert not decide_rule(reviews, min_mean=2.5, min_accept_share=0.25).accept
    assert not decide_rule(reviews, min_mean=2.0, min_accept_share=0.5).accept


def test_the_reasons_are_the_reviewers_comments_in_order():
    decision = decide(
        [review(4, "accept", "Cheap to try."), review(2, "reject", "No evidence yet."), review(4, "accept", "Yes.")]
    )
    assert decision.reasons == ["Cheap to try.", "No evidence yet.", "Yes."]

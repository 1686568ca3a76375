"""Sponsor ranking: shared interests first, then department, then spare places; each choice explained."""

from __future__ import annotations

from services.matching.ranking import Candidate, rank

IDEA = "Shorter hospital waiting lists: text patients when a cancelled appointment frees a slot"


def sponsor(sponsor_id: int, interests: str, *, department: str | None = "Health", capacity=3, load=0) -> Candidate:
    return Candidate(sponsor_id, f"Sponsor {sponsor_id}", department, interests, capacity, load)


def test_the_sponsor_whose_interests_share_words_with_the_idea_comes_first():
    candidates = [
        sponsor(1, "road maintenance and potholes"),
        sponsor(2, "hospital waiting lists and patients"),
        sponsor(3, "school meals"),
    ]
    ranked = rank(IDEA, "Health", candidates)
    assert ranked[0].sponsor_id == 2
    assert ranked[0].score > ranked[1].score


def test_shared_interests_outweigh_a_shared_department():
    candidates = [
        sponsor(1, "road maintenance", department="Health"),
        sponsor(2, "hospital waiting lists and patients", department="Transport"),
    ]
    assert [r.sponsor_id for r in rank(IDEA, "Health", candidates)] == [2, 1]


def test_all_else_equal_the_same_department_is_preferred():
    candidates = [
        sponsor(1, "hospital waiting lists", department="Transport"),
        sponsor(2, "hospital waiting lists", department="Health"),
    ]
    assert [r.sponsor_id for r in rank(IDEA, "Health", candidates)] == [2, 1]


def test_all_else_equal_more_free_places_are_preferred():
    candidates = [
        sponsor(1, "hospital waiting lists", capacity=4, load=3),
        sponsor(2, "hospital waiting lists", capacity=4, load=0),
    ]
    assert [r.sponsor_id for r in rank(IDEA, "Health", candidates)] == [2, 1]


def test_a_tie_is_broken_by_sponsor_id_so_the_order_is_stable():
    candidates = [sponsor(7, "hospital waiting lists"), sponsor(3, "hospital waiting lists")]
    assert [r.sponsor_id for r in rank(IDEA, "Health", candidates)] == [3, 7]


def test_the_reasons_name_the_shared_words_the_department_and_the_free_places():
    (ranked,) = rank(IDEA, "Health", [sponsor(5, "the hospital waiting lists", capacity=4, load=1)])
    interests, department, places = ranked.reasons
    assert interests.startswith("interests match ")
    assert interests.endswith("(hospital, lists, waiting)")
    assert department == "same department"
    assert places == "3 of 4 places free"


def test_the_reasons_say_when_the_department_differs_and_nothing_is_shared():
    (ranked,) = rank(IDEA, "Health", [sponsor(5, "road maintenance", department="Transport")])
    assert ranked.reasons == ["interests match 0%", "different department", "3 of 3 places free"]


def test_an_idea_without_a_department_matches_no_department():
    (ranked,) = rank(IDEA, None, [sponsor(5, "hospital", department=None)])
    assert ranked.reasons[1] == "different department"


def test_an_overloaded_sponsor_has_no_places_free_rather_than_a_negative_number():
    (ranked,) = rank(IDEA, "Health", [sponsor(5, "hospital", capacity=2, load=5)])
    assert ranked.reasons[2] == "0 of 2 places free"


def test_a_sponsor_without_capacity_can_still_be_ranked():
    (ranked,) = rank(IDEA, "Health", [sponsor(5, "hospital", capacity=0, load=0)])
    assert ranked.reasons[2] == "0 of 0 places free"
    assert ranked.score > 0


def test_common_words_do_not_count_as_shared_interests():
    (ranked,) = rank("the and for with", None, [sponsor(5, "the and for with")])
    assert ranked.reasons[0] == "interests match 0%"

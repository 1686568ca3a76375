"""What a submission and a review must look like before anything is stored."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.intake.schemas import Submission
from services.review.schemas import ReviewIn

GOOD = {
    "title": "Numbered tickets at the front desk",
    "problem": "People queue for an hour without knowing when they will be seen.",
    "idea": "Hand out numbered tickets and show the current number on a screen.",
    "email": "jo.bloggs@example.gov.uk",
}


def submission(**changes) -> Submission:
    return Submission(**{**GOOD, **changes})


def refused_fields(error: ValidationError) -> set[str]:
    return {str(detail["loc"][0]) for detail in error.errors()}


def test_a_complete_submission_is_accepted():
    accepted = submission(department="Health", name="Jo Bloggs", anonymous=True)
    assert accepted.title == GOOD["title"]
    assert accepted.anonymous is True
    assert accepted.benefit is None


@pytest.mark.parametrize("missing", ["title", "problem", "idea", "email"])
def test_a_submission_without_a_required_field_is_refused(missing):
    data = {name: value for name, value in GOOD.items() if name != missing}
    with pytest.raises(ValidationError) as raised:
        Submission(**data)
    assert refused_fields(raised.value) == {missing}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "   "),
        ("title", "x" * 201),
        ("title", "Tickets\nBcc: everyone@example.gov.uk"),
        ("title", "Tickets\r\nBcc: everyone@example.gov.uk"),
        ("title", "Tickets\x00"),
        ("name", "Jo\nBcc: everyone@example.gov.uk"),
        ("department", "Health\rX"),
        ("problem", ""),
        ("idea", "   "),
        ("email", "jo.bloggs"),
        ("email", "jo@bloggs"),
        ("email", "jo@@example.gov.uk"),
        ("email", "jo@example.gov.uk\nBcc: everyone@example.gov.uk"),
        ("email", "jo@example.gov.uk\r\nBcc: everyone@example.gov.uk"),
        ("email", "Jo <jo@example.gov.uk>"),
        ("email", "jo@example.gov.uk, ann@example.gov.uk"),
        ("email", ""),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(field, value):
    with pytest.raises(ValidationError) as raised:
        submission(**{field: value})
    assert refused_fields(raised.value) == {field}


@pytest.mark.parametrize("email", ["jo\x00@example.gov.uk", "jo\x07@example.gov.uk", "jo@exam\x7fple.gov.uk"])
def test_an_email_with_a_control_character_is_refused(email):
    with pytest.raises(ValidationError) as raised:
        submission(email=email)
    assert refused_fields(raised.value) == {"email"}


def test_a_title_of_two_hundred_characters_is_long_enough():
    assert len(submission(title="x" * 200).title) == 200


def test_unknown_extra_fields_are_refused():
    with pytest.raises(ValidationError) as raised:
        submission(status="implemented")
    assert refused_fields(raised.value) == {"status"}


def test_a_good_email_is_accepted_trimmed_and_lowercased():
    assert submission(email="  Jo.Bloggs@Example.GOV.uk ").email == "jo.bloggs@example.gov.uk"


def test_surrounding_whitespace_is_trimmed_from_text():
    assert submission(title="  Numbered tickets \n").title == "Numbered tickets"


def test_a_script_tag_in_the_title_is_kept_as_text_because_validation_is_not_escaping():
    title = "<script>alert('hi')</script> & more"
    assert submission(title=title).title == title


GOOD_REVIEW = {
    "scores": {"impact": 4, "feasibility": 3, "cost": 5, "evidence": 2},
    "recommendation": "accept",
    "comment": "Cheap to try in one office first.",
}


def review_in(**changes) -> ReviewIn:
    return ReviewIn(**{**GOOD_REVIEW, **changes})


def test_a_complete_review_is_accepted_and_its_overall_score_is_the_mean():
    accepted = review_in()
    assert accepted.scores.overall == 3.5
    assert accepted.recommendation == "accept"


@pytest.mark.parametrize("score", ["impact", "feasibility", "cost", "evidence"])
@pytest.mark.parametrize("value", [0, 6, -1])
def test_a_score_outside_one_to_five_is_refused(score, value):
    with pytest.raises(ValidationError):
        review_in(scores={**GOOD_REVIEW["scores"], score: value})


@pytest.mark.parametrize("value", [1, 5])
def test_the_ends_of_the_score_range_are_accepted(value):
    assert review_in(scores={**GOOD_REVIEW["scores"], "impact": value}).scores.impact == value


def test_a_missing_score_is_refused():
    scores = {name: value for name, value in GOOD_REVIEW["scores"].items() if name != "cost"}
    with pytest.raises(ValidationError):
        review_in(scores=scores)


@pytest.mark.parametrize("recommendation", ["maybe", "ACCEPT", ""])
def test_an_unknown_recommendation_is_refused(recommendation):
    with pytest.raises(ValidationError) as raised:
        review_in(recommendation=recommendation)
    assert refused_fields(raised.value) == {"recommendation"}


@pytest.mark.parametrize("comment", ["", "   ", "x" * 5001])
def test_an_empty_or_over_long_comment_is_refused(comment):
    with pytest.raises(ValidationError) as raised:
        review_in(comment=comment)
    assert refused_fields(raised.value) == {"comment"}


def test_unknown_fields_in_a_review_are_refused():
    with pytest.raises(ValidationError) as raised:
        review_in(reviewer_id=3)
    assert refused_fields(raised.value) == {"reviewer_id"}

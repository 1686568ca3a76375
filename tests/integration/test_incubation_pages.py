"""The incubation pages (the plan and its milestones, the figures, progress, the outcome) and the case study page,
through the real app and a signed-in browser on each stack: each form's success, and its errors changing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from shared.db.models import CaseStudy, Incubation, Milestone, ProgressUpdate
from shared.db.uow import unit_of_work
from tests.conftest import Stack
from tests.integration.sponsor_world import (
    CASE_STUDY,
    World,
    due,
    implemented,
    milestones,
    words,
    world_on,
)


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    yield from world_on(stack)


# --- incubations ----------------------------------------------------------------------------------------------------


def test_milestones_are_added_changed_reached_and_removed_and_a_date_that_does_not_exist_is_refused(
    world: World,
) -> None:
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    path = f"/incubations/{reference}/milestones"
    no_such_day = browser.post(
        path, {"milestone_title": "Choose streets", "due-day": "31", "due-month": "2", "due-year": "2027"}
    )
    assert no_such_day.status_code == 422
    assert '<a href="#due-day">The due date must be a real date</a>' in no_such_day.text
    assert 'value="Choose streets"' in no_such_day.text  # nothing typed is lost
    assert 'id="due-day" name="due-day" type="text" inputmode="numeric" value="31"' in no_such_day.text
    both = browser.post(path, {"milestone_title": " ", "due-day": "3", "due-year": "2027"})
    assert both.status_code == 422
    assert '<a href="#milestone_title">' in both.text
    assert '<a href="#due-month">The due date must include a month</a>' in both.text
    assert milestones(world, idea_id) == []

    first, second = date.today() + timedelta(days=30), date.today() + timedelta(days=60)
    added = browser.post(path, {"milestone_title": "Choose streets"} | due(first))
    assert (added.status_code, added.headers["location"]) == (303, f"/incubations/{reference}?done=milestone-added")
    assert browser.post(path, {"milestone_title": "Plant trees"} | due(second)).status_code == 303
    assert milestones(world, idea_id) == [("Choose streets", first, "open"), ("Plant trees", second, "open")]
    page = browser.get(added.headers["location"])
    assert "The milestone has been added to the plan" in words(page)
    assert f"Due {first.day} {first:%B %Y}" in words(page)
    with unit_of_work(world.factory) as session:
        rows = session.execute(select(Milestone.title, Milestone.id).where(Milestone.idea_id == idea_id))
        ids = {title: milestone_id for title, milestone_id in rows}

    change = f"{path}/{ids['Choose streets']}"
    form = browser.get(change)
    assert form.status_code == 200
    assert 'value="Choose streets"' in form.text
    assert f'name="due-year" type="text" inputmode="numeric" value="{first.year}"' in form.text
    later = first + timedelta(days=7)
    refused = browser.post(change, {"milestone_title": "Choose streets"} | due(later) | {"due-year": "27"})
    assert refused.status_code == 422
    assert "The year must include 4 numbers" in words(refused)
    changed = browser.post(change, {"milestone_title": "Choose the streets"} | due(later))
    assert changed.headers["location"] == f"/incubations/{reference}?done=milestone-changed"
    unchanged = browser.post(change, {"milestone_title": "Choose the streets"} | due(later))
    assert unchanged.headers["location"] == f"/incubations/{reference}?done=milestone-unchanged"
    assert len(world.events(idea_id, "milestone.scheduled.v1")) == 3  # two added, one date changed

    reached = browser.post(f"{change}/reached")
    assert reached.headers["location"] == f"/incubations/{reference}?done=milestone-reached"
    assert browser.post(f"{change}/reached").headers["location"].endswith("done=milestone-already-reached")
    assert len(world.events(idea_id, "milestone.reached.v1")) == 1
    assert "was reached" in words(browser.get(change))  # no form for a reached milestone

    remove = f"{path}/{ids['Plant trees']}/remove"
    confirm = browser.get(remove)
    assert "Are you sure you want to remove this milestone?" in words(confirm)
    assert milestones(world, idea_id)[1][2] == "open"  # asking is not removing
    assert browser.post(remove).headers["location"] == f"/incubations/{reference}?done=milestone-removed"
    assert milestones(world, idea_id) == [
        ("Choose the streets", later, "reached"),
        ("Plant trees", second, "dropped"),
    ]
    assert browser.get(remove).status_code == 404  # a removed milestone is no longer shown
    again = browser.post(remove)
    assert again.status_code == 409
    assert "only one still to be reached can be dropped" in words(again)


def test_the_figures_refuse_a_negative_or_endless_number_and_keep_what_was_typed(world: World) -> None:
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    typed = {
        "budget": "-5",
        "staff_days": "12.5",
        "projected_benefits": "Cooler streets.",
        "projected_money_a_year": "1e999",
        "projected_hours_a_year": "",
        "projected_people": "2,000",
    }
    refused = browser.post(f"/incubations/{reference}/plan", typed)
    assert refused.status_code == 422
    assert '<a href="#budget">Enter the budget in pounds, as a number of 0 or more' in refused.text
    assert '<a href="#projected_money_a_year">' in refused.text
    assert 'value="-5"' in refused.text
    assert "Cooler streets." in refused.text
    assert world.scalar(select(Incubation.budget).where(Incubation.idea_id == idea_id)) is None

    saved = browser.post(
        f"/incubations/{reference}/plan", typed | {"budget": "£5,000", "projected_money_a_year": "800"}
    )
    assert saved.headers["location"] == f"/incubations/{reference}?done=plan"
    with unit_of_work(world.factory) as session:
        record = session.get(Incubation, idea_id)
        assert record is not None
        assert (record.budget, record.staff_days, record.projected_people) == (5000, 12.5, 2000)
        assert (record.projected_money_a_year, record.projected_hours_a_year) == (800, None)
    page = browser.get(saved.headers["location"])
    assert 'id="budget" name="budget" type="text" inputmode="decimal" spellcheck="false" value="5000"' in page.text


def test_progress_updates_are_listed_newest_first_and_private_ones_are_marked(world: World) -> None:
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    refused = browser.post(f"/incubations/{reference}/updates", {"note": "Suppliers are late."})
    assert refused.status_code == 422
    assert '<a href="#state">Choose how the work is going' in refused.text
    assert "Suppliers are late." in refused.text
    nul = browser.post(f"/incubations/{reference}/updates", {"state": "on_track", "note": "Fine\x00"})
    assert nul.status_code == 422
    assert '<a href="#note">Remove the control characters (such as NUL)' in nul.text
    risky = browser.post(f"/incubations/{reference}/updates", {"state": "at_risk", "note": "Suppliers are late."})
    assert risky.status_code == 303
    hidden = {"state": "blocked", "note": "The budget holder is ill.", "private": "yes"}
    assert browser.post(f"/incubations/{reference}/updates", hidden).headers["location"].endswith("done=update")
    page = words(browser.get(f"/incubations/{reference}"))
    assert page.index("The budget holder is ill.") < page.index("Suppliers are late.")
    assert page.count("Private: staff only") == 2  # the checkbox's label, and the private update
    with unit_of_work(world.factory) as session:
        rows = session.execute(
            select(ProgressUpdate.state, ProgressUpdate.private).where(ProgressUpdate.idea_id == idea_id)
        ).all()
    assert sorted(rows) == [("at_risk", False), ("blocked", True)]
    listed = browser.get("/incubations")
    row = next(r for r in listed.text.split('<tr class="govuk-table__row">') if reference in r)
    assert '<strong class="govuk-tag govuk-tag--red">Blocked</strong>' in row


def test_an_implemented_outcome_needs_its_benefits_and_numbers_that_make_sense(world: World) -> None:
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    path = f"/incubations/{reference}/outcome"
    nothing = browser.post(path, {})
    assert nothing.status_code == 422
    assert '<a href="#result">Choose how it ended' in nothing.text
    assert '<a href="#summary">Write a summary' in nothing.text
    without = browser.post(path, {"result": "implemented", "summary": "Forty streets have shade.", "lessons": "x"})
    assert without.status_code == 422
    assert '<a href="#benefits">Say in words what benefits the idea brought' in without.text
    # The chosen reveal stays open, with what was typed.
    assert 'class="govuk-radios__conditional" id="conditional-result-implemented"' in without.text
    negative = {"result": "implemented", "summary": "Done.", "benefits": "Fewer heat calls.", "people_affected": "-3"}
    refused = browser.post(path, negative)
    assert refused.status_code == 422
    assert '<a href="#people_affected">' in refused.text
    closed_without = browser.post(path, {"result": "closed", "summary": "Stopped.", "benefits": "x"})
    assert '<a href="#lessons">Say what was learned' in closed_without.text
    assert world.status(idea_id) == "incubating"

    recorded = browser.post(
        path,
        {
            "result": "implemented",
            "summary": "Forty streets have shade.",
            "benefits": "Fewer heat calls.",
            "money_saved_a_year": "12000",
            "hours_saved_a_year": "300",
            "people_affected": "4000",
            "lessons": "typed before choosing implemented: not kept",
        },
    )
    assert recorded.headers["location"] == f"/incubations/{reference}?done=implemented"
    assert world.status(idea_id) == "implemented"
    page = browser.get(recorded.headers["location"])
    text = words(page)
    assert "The outcome is recorded: the idea is implemented" in text
    assert "Money saved a year £12,000" in text
    assert "People affected 4,000" in text
    assert "typed before choosing" not in text
    assert "Write the case study" in text
    assert 'action="/incubations/' not in page.text  # the forms are replaced by the outcome
    late = browser.post(f"/incubations/{reference}/updates", {"state": "on_track", "note": "Late."})
    assert late.status_code == 409
    assert "its plan can no longer change" in words(late)


# --- case studies ---------------------------------------------------------------------------------------------------


def test_a_case_study_is_written_from_the_outcome_previewed_and_published_by_an_administrator(world: World) -> None:
    idea_id, reference = implemented(world)
    sponsor, admin = world.browser("parks"), world.browser("admin")
    path = f"/incubations/{reference}/case-study"
    draft = sponsor.get(path)
    assert draft.status_code == 200
    assert 'value="Forty streets have shade."' in draft.text  # the summary, from the outcome
    assert "Fewer heat calls." in draft.text
    assert "Not saved yet" in words(draft)
    assert f'action="/incubations/{reference}/case-study/publish"' not in draft.text

    with_address = sponsor.post(path, CASE_STUDY | {"what_was_done": "Ask sam.submitter@example.gov.uk for more."})
    assert with_address.status_code == 422
    assert '<a href="#what_was_done">Take out the email address: a case study is public' in with_address.text
    assert "Shade for hot streets" in with_address.text
    assert world.scalar(select(CaseStudy.id).where(CaseStudy.idea_id == idea_id)) is None
    negative = sponsor.post(path, CASE_STUDY | {"people_affected": "-1"})
    assert '<a href="#people_affected">' in negative.text

    saved = sponsor.post(path, CASE_STUDY)
    assert saved.headers["location"] == f"{path}?done=saved"
    page = sponsor.get(saved.headers["location"])
    text = words(page)
    assert "The case study has been saved" in text
    assert "State: Draft" in text
    assert "Idea from a member of staff in Housing. Sponsored by Sofia Sponsor, Housing." in text
    assert "£12,000 saved a year" in text
    assert sponsor.post(f"{path}/publish").status_code == 403

    assert 'id="publish"' in admin.get(path).text
    published = admin.post(f"{path}/publish")
    assert published.headers["location"] == f"{path}?done=published"
    assert world.scalar(select(CaseStudy.state).where(CaseStudy.idea_id == idea_id)) == "published"
    shown = admin.get(published.headers["location"])
    assert "State: Published" in words(shown)
    assert 'href="/case-studies/shade-for-hot-streets-' in shown.text
    assert len(world.events(idea_id, "case_study.published.v1")) == 1

    late = sponsor.post(path, CASE_STUDY | {"title": "A new title"})
    assert late.status_code == 409
    assert "This case study is published: ask an administrator" in words(late)
    assert "A new title" in late.text  # what was typed is still there
    assert world.scalar(select(CaseStudy.title).where(CaseStudy.idea_id == idea_id)) == "Shade for hot streets"

    assert admin.post(f"{path}/withdraw").headers["location"] == f"{path}?done=withdrawn"
    assert world.scalar(select(CaseStudy.state).where(CaseStudy.idea_id == idea_id)) == "withdrawn"
    assert admin.post(f"{path}/withdraw").status_code == 409


def test_a_case_study_waits_for_the_outcome(world: World) -> None:
    _, reference = world.incubating("parks")
    page = world.browser("parks").get(f"/incubations/{reference}/case-study")
    assert page.status_code == 409
    assert "has no outcome yet" in words(page)
    refused = world.browser("admin").post(f"/incubations/{reference}/case-study/publish")
    assert refused.status_code == 409

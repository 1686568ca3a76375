"""A sponsor's work through the service code the API and pages share, on each stack's real database:
offers and matching by hand, the plan and its milestones, progress, the outcome, the case study and its credit.

Stage work runs as the workers run it (`run_handler`, which drops a redelivered event); the API's own answers
(status codes, JSON, who may call what) are in test_sponsor_api.py and test_access.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from infra import people
from infra.composition import Runtime
from services.incubation import actors as incubation_actors
from services.incubation import case_studies, handlers, queries
from services.incubation.schemas import CaseStudyIn, Figures, MilestoneChange, OutcomeIn, PlanIn, UpdateIn
from services.intake import handlers as intake
from services.intake.schemas import Submission
from services.matching import actors as matching_actors
from services.matching import handlers as matching
from services.matching import queries as matching_queries
from shared import lifecycle
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Idea, Incubation, Milestone, Offer, OutboxMessage, Person
from shared.db.uow import unit_of_work
from shared.errors import Conflict, InvalidField, NotFound
from shared.paging import PageRequest
from shared.principal import Principal
from shared.worker.declare import StageActor, StageContext
from shared.worker.stage import run_handler
from tests.conftest import Stack

SPONSORS = {
    "parks": ("Sofia Sponsor", "Housing", "Environment", "parks, trees and shade in hot streets"),
    "buses": ("Sean Sponsor", "Transport", "Transport", "buses, routes and timetables"),
    "clinics": ("Cara Sponsor", "Health", "Health", "clinics, appointments and waiting lists"),
}


@dataclass
class World:
    runtime: Runtime
    settings: Settings
    sponsors: dict[str, Principal]
    admin: Principal

    @property
    def factory(self) -> Any:
        return self.runtime.session_factory

    def deliver(self, actor: StageActor, payload: dict[str, Any]) -> None:
        run_handler(actor, self.factory, StageContext(self.settings), payload)

    def events(self, idea_id: int, event_type: str) -> list[dict[str, Any]]:
        with unit_of_work(self.factory) as session:
            rows = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.idea_id == idea_id, OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id)
            ).all()
        return [json.loads(row) for row in rows]

    def status(self, idea_id: int) -> str:
        with unit_of_work(self.factory) as session:
            return str(session.scalar(select(Idea.status).where(Idea.id == idea_id)))

    def offers(self, idea_id: int) -> list[tuple[str, str, int]]:
        """(sponsor key, state, round) of each offer of the idea, in the order made."""
        names = {p.id: key for key, p in self.sponsors.items()}
        with unit_of_work(self.factory) as session:
            rows = session.execute(
                select(Offer.sponsor_id, Offer.state, Offer.round).where(Offer.idea_id == idea_id).order_by(Offer.id)
            ).all()
        return [(names[row.sponsor_id], row.state, row.round) for row in rows]

    def last_offer(self, idea_id: int) -> int:
        with unit_of_work(self.factory) as session:
            return int(session.scalar(select(Offer.id).where(Offer.idea_id == idea_id).order_by(Offer.id.desc())) or 0)

    def pass_on(self, idea_id: int, seen: int) -> int:
        """Deliver the offer answers not yet delivered to matching, as the relay would; how many there are now."""
        answered = self.events(idea_id, "offer.answered.v1")
        for payload in answered[seen:]:
            if payload["answer"] == "accepted":
                self.deliver(incubation_actors.start_incubation, payload)
            else:
                self.deliver(matching_actors.offer_declined, payload)
        return len(answered)


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    settings = stack.settings(max_offers=2, milestone_grace="1h", milestone_reminder="30m")
    sponsors = {}
    for key, (name, department, themes, interests) in SPONSORS.items():
        email = f"sponsors.{key}@example.gov.uk"
        person_id = people.add(
            settings,
            email=email,
            name=name,
            role="sponsor",
            department=department,
            themes=themes,
            interests=interests,
            capacity=20,
        )
        sponsors[key] = Principal(person_id, email, name, "sponsor")
    admin_id = people.add(settings, email="sponsors.admin@example.gov.uk", name="Ada Admin", role="admin")
    runtime = Runtime(settings)
    yield World(runtime, settings, sponsors, Principal(admin_id, "sponsors.admin@example.gov.uk", "Ada Admin", "admin"))
    runtime.close()


def in_matching(world: World, *, title: str, idea: str, department: str, anonymous: bool = False) -> int:
    """A new idea taken to `matching`, and its first offer made as the matching worker makes it."""
    body = Submission(
        title=f"{title} {uuid.uuid4().hex[:4]}",
        problem="It is a problem today.",
        idea=idea,
        department=department,
        name="Sam Submitter",
        email="sam.submitter@example.gov.uk",
        anonymous=anonymous,
    )
    with unit_of_work(world.factory) as session:
        idea_id = intake.submit_idea(session, body, channel="api", departments=world.settings.departments).id
        for target in (lifecycle.Status.IN_REVIEW, lifecycle.Status.MATCHING):
            lifecycle.transition(session, lifecycle.load(session, idea_id), target, actor="test")
    (to_matching,) = [e for e in world.events(idea_id, "idea.status_changed.v1") if e["to_status"] == "matching"]
    world.deliver(matching_actors.start_matching, to_matching)
    return idea_id


def reference_of(world: World, idea_id: int) -> str:
    with unit_of_work(world.factory) as session:
        return str(session.scalar(select(Idea.reference).where(Idea.id == idea_id)))


def incubating(world: World, key: str = "parks", **fields: Any) -> tuple[int, str]:
    """An idea in incubation with the sponsor `key` (the best fit for a parks idea), its record open."""
    idea_id = in_matching(
        world,
        title=fields.pop("title", "Shade trees for hot streets"),
        idea=fields.pop("idea", "Plant trees in parks and along hot streets for shade."),
        department=fields.pop("department", "Housing"),
        **fields,
    )
    with unit_of_work(world.factory) as session:
        offer_id = session.scalar(select(Offer.id).where(Offer.idea_id == idea_id, Offer.state == "open"))
        assert offer_id is not None
        matching.accept_offer(session, offer_id, sponsor=world.sponsors[key])
    (accepted,) = world.events(idea_id, "offer.answered.v1")
    world.deliver(incubation_actors.start_incubation, accepted)
    return idea_id, reference_of(world, idea_id)


# --- matching -------------------------------------------------------------------------------------------------------


def test_the_best_fitting_sponsor_is_offered_the_idea_with_the_ranking_behind_it(world: World) -> None:
    idea_id = in_matching(
        world, title="Bus timetables", idea="Put bus timetables at every stop.", department="Transport"
    )
    assert world.offers(idea_id) == [("buses", "open", 1)]
    with unit_of_work(world.factory) as session:
        offer = session.scalar(select(Offer).where(Offer.idea_id == idea_id))
        assert offer is not None
        considered = [entry["name"] for entry in offer.ranking or []]
    assert considered[0] == "Sean Sponsor"
    assert set(considered) == {name for name, *_ in SPONSORS.values()}
    with unit_of_work(world.factory) as session:
        page = matching_queries.open_offers(session, sponsor=world.sponsors["buses"], page=PageRequest(1, 100))
    mine = [o for o in page.items if o.idea_reference == reference_of(world, idea_id)]
    assert mine[0].reasons
    assert mine[0].working_days_left >= 1


def test_a_full_sponsor_is_skipped_and_the_ranking_says_so(world: World) -> None:
    with unit_of_work(world.factory) as session:
        session.execute(update(Person).where(Person.id == world.sponsors["clinics"].id).values(capacity=0))
    try:
        idea_id = in_matching(
            world, title="Clinic reminders", idea="Text patients before clinic appointments.", department="Health"
        )
        with unit_of_work(world.factory) as session:
            offer = session.scalar(select(Offer).where(Offer.idea_id == idea_id))
            assert offer is not None
            skipped = [entry for entry in offer.ranking or [] if entry.get("skipped")]
        assert world.offers(idea_id)[0][0] != "clinics"
        assert [entry["name"] for entry in skipped] == ["Cara Sponsor"]
        assert "no places free" in skipped[0]["skipped"]
    finally:
        with unit_of_work(world.factory) as session:
            session.execute(update(Person).where(Person.id == world.sponsors["clinics"].id).values(capacity=20))


def test_after_max_offers_an_idea_is_unmatched_and_an_administrator_offers_it_to_a_named_sponsor(
    world: World,
) -> None:
    idea_id = in_matching(world, title="Shade", idea="Trees in parks for shade.", department="Housing")
    seen = 0
    for _ in range(2):  # max_offers
        offer_id = world.last_offer(idea_id)
        with unit_of_work(world.factory) as session:
            sponsor = next(
                p
                for p in world.sponsors.values()
                if session.get(Offer, offer_id).sponsor_id == p.id  # type: ignore[union-attr]
            )
            matching.decline_offer(session, offer_id, sponsor=sponsor, reason="No budget.")
        seen = world.pass_on(idea_id, seen)
    assert world.status(idea_id) == "unmatched"
    asked = {key for key, _, _ in world.offers(idea_id)}
    (left,) = set(SPONSORS) - asked
    reference = reference_of(world, idea_id)

    # A sponsor who declined is never offered it again, even by hand.
    declined = next(iter(asked))
    with unit_of_work(world.factory) as session, pytest.raises(Conflict, match="never asked twice"):
        matching.offer_to(
            session, reference, world.sponsors[declined].email, admin=world.admin, settings=world.settings
        )
    with unit_of_work(world.factory) as session, pytest.raises(InvalidField):
        matching.offer_to(session, reference, "nobody@example.gov.uk", admin=world.admin, settings=world.settings)

    with unit_of_work(world.factory) as session:
        matching.offer_to(session, reference, world.sponsors[left].email, admin=world.admin, settings=world.settings)
    assert world.status(idea_id) == "matching"
    assert world.offers(idea_id)[-1] == (left, "open", 2)
    # The status change it made reaches the matching worker, which finds the offer out and adds none.
    moved = [e for e in world.events(idea_id, "idea.status_changed.v1") if e["from_status"] == "unmatched"]
    world.deliver(matching_actors.start_matching, moved[-1])
    assert len(world.offers(idea_id)) == 3
    with unit_of_work(world.factory) as session:
        view = matching_queries.matching(session, reference)
    assert view.offers[-1].offered_by == world.admin.email
    assert view.offers[-1].reasons[0] == "chosen by Ada Admin"
    assert view.sponsors == []  # everyone has been asked


def test_rematching_starts_a_new_round_with_the_sponsors_not_asked_and_closing_needs_a_reason(world: World) -> None:
    idea_id = in_matching(world, title="Timetables", idea="Bus timetables at stops.", department="Transport")
    seen = 0
    for _ in range(2):
        offer_id = world.last_offer(idea_id)
        with unit_of_work(world.factory) as session:
            sponsor_id = session.get(Offer, offer_id).sponsor_id  # type: ignore[union-attr]
            sponsor = next(p for p in world.sponsors.values() if p.id == sponsor_id)
            matching.decline_offer(session, offer_id, sponsor=sponsor, reason="Not for me.")
        seen = world.pass_on(idea_id, seen)
    assert world.status(idea_id) == "unmatched"
    reference = reference_of(world, idea_id)
    with unit_of_work(world.factory) as session:
        matching.rematch(session, reference, admin=world.admin)
    moved = [e for e in world.events(idea_id, "idea.status_changed.v1") if e["from_status"] == "unmatched"]
    world.deliver(matching_actors.start_matching, moved[-1])
    assert [state for _, state, _ in world.offers(idea_id)] == ["declined", "declined", "open"]
    assert world.offers(idea_id)[-1][2] == 2  # a new round
    # The last one declines too: nobody is left, so it is unmatched again.
    offer_id = world.last_offer(idea_id)
    with unit_of_work(world.factory) as session:
        sponsor_id = session.get(Offer, offer_id).sponsor_id  # type: ignore[union-attr]
        sponsor = next(p for p in world.sponsors.values() if p.id == sponsor_id)
        matching.decline_offer(session, offer_id, sponsor=sponsor, reason="No.")
    world.pass_on(idea_id, seen)
    assert world.status(idea_id) == "unmatched"
    with unit_of_work(world.factory) as session:
        matching.close_unmatched(session, reference, "No sponsor this year.", admin=world.admin)
    assert world.status(idea_id) == "closed"
    with unit_of_work(world.factory) as session, pytest.raises(Conflict, match="only an unmatched idea"):
        matching.rematch(session, reference, admin=world.admin)


def test_withdrawing_an_idea_in_matching_lapses_its_open_offer(world: World) -> None:
    idea_id = in_matching(
        world, title="Bus stop seats", idea="Put seats at bus stops on long routes.", department="Transport"
    )
    assert world.offers(idea_id) == [("buses", "open", 1)]
    with unit_of_work(world.factory) as session:
        token = session.scalar(select(Idea.status_token).where(Idea.id == idea_id))
        intake.withdraw(session, str(token), reason="Sorted locally")
    (withdrawn,) = [e for e in world.events(idea_id, "idea.status_changed.v1") if e["to_status"] == "withdrawn"]
    world.deliver(matching_actors.idea_left_matching, withdrawn)
    assert world.offers(idea_id) == [("buses", "expired", 1)]
    world.pass_on(idea_id, 0)  # the lapse reaches matching, which offers a withdrawn idea to nobody
    assert world.offers(idea_id) == [("buses", "expired", 1)]
    with unit_of_work(world.factory) as session, pytest.raises(Conflict):
        matching.accept_offer(session, world.last_offer(idea_id), sponsor=world.sponsors["buses"])


def test_an_offer_in_full_shows_the_idea_but_never_an_anonymous_submitter(world: World) -> None:
    idea_id = in_matching(world, title="Route maps", idea="Maps of bus routes.", department="Transport", anonymous=True)
    offer_id = world.last_offer(idea_id)
    with unit_of_work(world.factory) as session:
        detail = matching_queries.offer_detail(session, offer_id, sponsor=world.sponsors["buses"])
        assert detail.idea == "Maps of bus routes."
        assert detail.submitted_by is None
        assert "sam.submitter" not in detail.model_dump_json()
        with pytest.raises(NotFound):
            matching_queries.offer_detail(session, offer_id, sponsor=world.sponsors["parks"])


# --- incubation -----------------------------------------------------------------------------------------------------


def test_a_plan_s_milestones_are_scheduled_changed_dropped_and_reached(world: World) -> None:
    idea_id, reference = incubating(world)
    sponsor = world.sponsors["parks"]
    plan = PlanIn(
        milestones=[{"title": "Choose streets", "due_on": date.today() + timedelta(days=30)}],
        budget=5000,
        projected_benefits="Cooler streets in summer.",
        projected_people=2000,
    )
    with unit_of_work(world.factory) as session:
        (first,) = handlers.add_plan(session, reference, plan, sponsor=sponsor, settings=world.settings)
        (second,) = handlers.add_plan(
            session,
            reference,
            PlanIn(milestones=[{"title": "Plant", "due_at": utcnow() + timedelta(days=60)}]),
            sponsor=sponsor,
            settings=world.settings,
        )
    scheduled = world.events(idea_id, "milestone.scheduled.v1")
    assert [e["milestone_id"] for e in scheduled] == [first, second]
    assert scheduled[0]["sponsor_id"] == sponsor.id
    new_date = date.today() + timedelta(days=40)
    with unit_of_work(world.factory) as session:
        handlers.change_milestone(
            session, reference, first, MilestoneChange(due_on=new_date), sponsor=sponsor, settings=world.settings
        )
        handlers.set_figures(session, reference, Figures(staff_days=12), sponsor=sponsor)
    assert [e["milestone_id"] for e in world.events(idea_id, "milestone.scheduled.v1")] == [first, second, first]
    with unit_of_work(world.factory) as session:
        assert handlers.reach_milestone(session, reference, first, sponsor=sponsor) is True
        assert handlers.reach_milestone(session, reference, first, sponsor=sponsor) is False
        handlers.drop_milestone(session, reference, second, sponsor=sponsor)
        with pytest.raises(Conflict):
            handlers.change_milestone(
                session, reference, first, MilestoneChange(title="Renamed"), sponsor=sponsor, settings=world.settings
            )
    assert len(world.events(idea_id, "milestone.reached.v1")) == 1
    with unit_of_work(world.factory) as session:
        view = queries.incubation(session, reference, person=sponsor)
    assert [(m.title, m.state, m.due_on) for m in view.milestones] == [("Choose streets", "reached", new_date)]
    assert (view.budget, view.staff_days, view.projected.people) == (5000, 12, 2000)
    assert view.projected.words == "Cooler streets in summer."


def test_another_sponsor_gets_nothing_of_an_incubation_and_an_administrator_everything(world: World) -> None:
    _, reference = incubating(world)
    with unit_of_work(world.factory) as session:
        with pytest.raises(NotFound):
            queries.incubation(session, reference, person=world.sponsors["buses"])
        with pytest.raises(NotFound):
            handlers.add_update(
                session, reference, UpdateIn(state="on_track", note="x"), sponsor=world.sponsors["buses"]
            )
        assert queries.incubation(session, reference, person=world.admin).idea_reference == reference


def test_progress_sets_the_tag_private_words_stay_with_staff_and_the_submitter_sees_the_rest(world: World) -> None:
    idea_id, reference = incubating(world)
    sponsor = world.sponsors["parks"]
    with unit_of_work(world.factory) as session:
        handlers.add_update(session, reference, UpdateIn(state="at_risk", note="Suppliers are late."), sponsor=sponsor)
        handlers.add_update(
            session,
            reference,
            UpdateIn(state="blocked", note="The budget holder is ill.", private=True),
            sponsor=sponsor,
        )
    with unit_of_work(world.factory) as session:
        view = queries.incubation(session, reference, person=sponsor)
        mine = queries.incubations(session, person=sponsor, page=PageRequest(1, 100))
        token = session.scalar(select(Idea.status_token).where(Idea.id == idea_id))
        status = intake.status_view(session, str(token))
    assert view.tag == "blocked"
    assert [u.private for u in view.updates] == [True, False]
    assert next(s for s in mine.items if s.idea_reference == reference).tag == "blocked"
    assert status.incubation is not None
    assert status.incubation.sponsor_name == "Sofia Sponsor"
    assert status.incubation.latest_progress is not None
    assert status.incubation.latest_progress.note == "Suppliers are late."
    assert "ill" not in status.model_dump_json()


def test_an_outcome_needs_its_benefits_or_its_lessons_and_is_recorded_once(world: World) -> None:
    with pytest.raises(ValidationError, match="benefits"):
        OutcomeIn(result="implemented", summary="Done.")
    with pytest.raises(ValidationError, match="lessons"):
        OutcomeIn(result="closed", summary="Stopped.")
    with pytest.raises(ValidationError):
        OutcomeIn.model_validate_json(
            '{"result": "implemented", "summary": "x", "benefits": "y", "money_saved_a_year": 1e999}'
        )
    idea_id, reference = incubating(world)
    outcome = OutcomeIn(
        result="implemented",
        summary="Forty streets have shade.",
        benefits="Fewer heat calls.",
        money_saved_a_year=12000,
        hours_saved_a_year=300,
        people_affected=4000,
    )
    with unit_of_work(world.factory) as session:
        assert handlers.record_outcome(session, reference, outcome, sponsor=world.sponsors["parks"]) == "implemented"
    assert world.status(idea_id) == "implemented"
    with unit_of_work(world.factory) as session, pytest.raises(Conflict):
        handlers.record_outcome(session, reference, outcome, sponsor=world.sponsors["parks"])


# --- case studies ---------------------------------------------------------------------------------------------------


def implemented(world: World, **fields: Any) -> tuple[int, str]:
    idea_id, reference = incubating(world, **fields)
    outcome = OutcomeIn(result="implemented", summary="Forty streets have shade.", benefits="Fewer heat calls.")
    with unit_of_work(world.factory) as session:
        handlers.record_outcome(session, reference, outcome, sponsor=world.sponsors["parks"])
    return idea_id, reference


def write_up(world: World, reference: str, author: Principal) -> int:
    with unit_of_work(world.factory) as session:
        draft = case_studies.draft(session, reference, author=author)
        return case_studies.write(session, reference, CaseStudyIn.model_validate(draft.model_dump()), author=author)


def test_a_case_study_is_drafted_from_the_outcome_and_public_only_once_published(world: World) -> None:
    idea_id, reference = implemented(world)
    sponsor = world.sponsors["parks"]
    with unit_of_work(world.factory) as session:
        draft = case_studies.draft(session, reference, author=sponsor)
    assert (draft.what_was_done, draft.benefits) == ("Forty streets have shade.", "Fewer heat calls.")
    case_study_id = write_up(world, reference, sponsor)
    with unit_of_work(world.factory) as session:
        slug = session.get(case_studies.CaseStudy, case_study_id).slug  # type: ignore[union-attr]
        with pytest.raises(NotFound):
            case_studies.one(session, slug)
        assert case_studies.publish(session, case_study_id, admin=world.admin) == slug
    assert len(world.events(idea_id, "case_study.published.v1")) == 1
    with unit_of_work(world.factory) as session:
        shown = case_studies.one(session, slug)
        listed = case_studies.published(session, filters=case_studies.Filters(department="Housing"), page=PageRequest())
        with pytest.raises(Conflict, match="published"):
            case_studies.write(session, reference, CaseStudyIn.model_validate(draft.model_dump()), author=sponsor)
        case_studies.withdraw(session, case_study_id, admin=world.admin)
    assert shown.sponsor_name == "Sofia Sponsor"
    assert slug in [c.slug for c in listed.items]
    with unit_of_work(world.factory) as session, pytest.raises(NotFound):
        case_studies.one(session, slug)


def test_a_case_study_names_the_submitter_only_with_their_consent_and_never_an_anonymous_one(world: World) -> None:
    named_id, named = implemented(world)
    secret_id, secret = implemented(world, anonymous=True)
    for reference in (named, secret):
        with unit_of_work(world.factory) as session:
            case_studies.publish(session, write_up(world, reference, world.admin), admin=world.admin)

    def credit(reference: str) -> str:
        with unit_of_work(world.factory) as session:
            found = case_studies.preview(session, reference, author=world.admin)
            assert found is not None
            return found[2].credit

    def token(idea_id: int) -> str:
        with unit_of_work(world.factory) as session:
            return str(session.scalar(select(Idea.status_token).where(Idea.id == idea_id)))

    named_token, secret_token = token(named_id), token(secret_id)
    assert credit(named) == "a member of staff in Housing"  # not asked yet
    with unit_of_work(world.factory) as session:
        assert intake.status_view(session, named_token).credit_question == "unanswered"
        intake.answer_credit(session, named_token, credit_by_name=True)
    assert credit(named) == "Sam Submitter"
    with unit_of_work(world.factory) as session:
        intake.answer_credit(session, named_token, credit_by_name=False)
    assert credit(named) == "a member of staff in Housing"

    with unit_of_work(world.factory) as session:
        assert intake.status_view(session, secret_token).credit_question is None
        with pytest.raises(Conflict, match="anonymous"):
            intake.answer_credit(session, secret_token, credit_by_name=True)
        # Even a consent that somehow exists never names an anonymous submitter.
        session.add(case_studies.CreditConsent(idea_id=secret_id, credit_by_name=True, answered_at=utcnow()))
    assert credit(secret) == "a member of staff in Housing"


def test_a_case_study_refuses_an_email_address(world: World) -> None:
    with pytest.raises(ValidationError, match="email address"):
        CaseStudyIn(title="t", summary="s", problem="Write to sam@example.gov.uk", what_was_done="w")


def test_a_case_study_is_written_only_once_the_idea_has_its_outcome(world: World) -> None:
    _, reference = incubating(world)
    text = CaseStudyIn(title="t", summary="s", problem="p", what_was_done="w")
    with unit_of_work(world.factory) as session, pytest.raises(Conflict, match="implemented or closed"):
        case_studies.write(session, reference, text, author=world.sponsors["parks"])


def test_incubations_page_lists_a_sponsor_s_own_and_an_administrator_everyone_s(world: World) -> None:
    _, mine = incubating(world, "parks")
    _, theirs = incubating(world, "buses", title="Bus stop shade", idea="Shelters at bus stops", department="Transport")
    with unit_of_work(world.factory) as session:
        sponsor_page = queries.incubations(session, person=world.sponsors["parks"], page=PageRequest(1, 100))
        admin_page = queries.incubations(session, person=world.admin, page=PageRequest(1, 100))
        first = queries.incubations(session, person=world.admin, page=PageRequest(1, 1))
    assert mine in [s.idea_reference for s in sponsor_page.items]
    assert theirs not in [s.idea_reference for s in sponsor_page.items]
    assert {mine, theirs} <= {s.idea_reference for s in admin_page.items}
    assert len(first.items) == 1
    assert first.has_next


def test_every_milestone_row_has_a_due_time_and_its_incubation_a_sponsor(world: World) -> None:
    """Migration 0010 gave existing milestones their due time: the model and the data agree."""
    with unit_of_work(world.factory) as session:
        assert session.scalar(select(Milestone.id).where(Milestone.due_at.is_(None))) is None
        assert session.scalar(select(Incubation.idea_id).where(Incubation.sponsor_id.is_(None))) is None

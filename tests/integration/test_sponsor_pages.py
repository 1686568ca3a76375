"""The sponsors' offers and the administrators' matching by hand, as pages, through the real app and a signed-in
browser on each stack: what each shows, each form's success and errors, who may see what (another sponsor's is
not found), CSRF, pagination, and that no page names an anonymous submitter or shows a submitter's email.

The incubation and case study pages are in test_incubation_pages.py; the world they share is in sponsor_world.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from shared.db.models import Offer, ProgressUpdate
from tests.conftest import Stack
from tests.integration.sponsor_world import (
    CASE_STUDY,
    SUBMITTER,
    World,
    implemented,
    open_offers,
    unmatched,
    words,
    world_on,
)


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    yield from world_on(stack)


# --- offers ---------------------------------------------------------------------------------------------------------


def test_a_sponsor_s_offers_say_why_them_and_how_long_they_have_and_an_empty_list_says_what_will_happen(
    world: World,
) -> None:
    _, offer_id, reference = world.offered("buses")
    page = world.browser("buses").get("/offers")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = words(page)
    assert f'href="/offers/{offer_id}"' in page.text
    assert reference in text
    assert "Why you" in text
    assert "Your interests match: buses" in text  # the ranking's first reason, as the sponsor wrote the word
    assert re.search(r"\(\d+ working days? left\)", text), text
    assert "Transport" in text

    empty = world.browser("idle").get("/offers")
    assert empty.status_code == 200
    assert "No ideas are waiting for your answer" in words(empty)
    assert "we will email you" in words(empty)


def test_an_offer_in_full_shows_the_idea_its_reviews_and_why_them_but_no_private_note_and_no_email(
    world: World,
) -> None:
    _, offer_id, _ = world.offered("parks", reviewed=True)
    page = world.browser("parks").get(f"/offers/{offer_id}")
    assert page.status_code == 200
    text = words(page)
    for shown in (
        "Plant trees in parks",
        "It is a problem today.",
        "Housing",
        SUBMITTER[0],
        "Impact 4, feasibility 3, cost to try 5, evidence 2",
        "Cheap to try in one park.",
        "Why you",
        "Please answer by",
    ):
        assert shown in text, shown
    assert "The parks manager is leaving soon." not in text  # a reviewer's private note
    assert SUBMITTER[1] not in page.text
    assert f'action="/offers/{offer_id}/accept"' in page.text
    assert f'action="/offers/{offer_id}/decline"' in page.text


def test_declining_needs_a_reason_and_an_empty_one_changes_nothing(world: World) -> None:
    _, offer_id, _ = world.offered("parks")
    browser = world.browser("parks")
    refused = browser.post(f"/offers/{offer_id}/decline", {"reason": "   "})
    assert refused.status_code == 422
    assert "There is a problem" in words(refused)
    assert '<a href="#reason">Say why you are declining this idea' in refused.text
    nul = browser.post(f"/offers/{offer_id}/decline", {"reason": "No\x00budget"})
    assert nul.status_code == 422
    assert "Remove the control characters (such as NUL)" in words(nul)
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "open"

    declined = browser.post(f"/offers/{offer_id}/decline", {"reason": "No budget this year."})
    assert (declined.status_code, declined.headers["location"]) == (303, f"/offers/{offer_id}?done=declined")
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "declined"
    shown = words(browser.get(declined.headers["location"]))
    assert "You have declined this idea" in shown
    assert "Your reason: No budget this year." in shown
    assert "Decline this idea" not in shown  # answered: the buttons are gone

    again = browser.post(f"/offers/{offer_id}/accept")
    assert again.status_code == 409
    assert "This offer is already declined" in words(again)
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "declined"


def test_accepting_leads_to_the_incubation_which_waits_until_its_record_is_open(world: World) -> None:
    idea_id, offer_id, reference = world.offered("parks")
    browser = world.browser("parks")
    accepted = browser.post(f"/offers/{offer_id}/accept")
    assert (accepted.status_code, accepted.headers["location"]) == (303, f"/incubations/{reference}?done=accepted")
    assert world.status(idea_id) == "incubating"
    waiting = browser.get(accepted.headers["location"])
    assert waiting.status_code == 409
    assert "The incubation is being set up" in words(waiting)
    assert "You are sponsoring this idea" in words(waiting)
    world.open_incubation(idea_id)
    page = browser.get(accepted.headers["location"])
    assert page.status_code == 200
    assert "You are sponsoring this idea" in words(page)
    assert "Add a milestone" in words(page)
    assert "You accepted this idea" in words(browser.get(f"/offers/{offer_id}"))


def test_another_sponsor_s_offer_or_incubation_is_not_found_and_a_reviewer_is_refused(world: World) -> None:
    _, offer_id, _ = world.offered("parks")
    idea_id, reference = world.incubating("parks")
    other, reviewer = world.browser("buses"), world.browser("reviewer")
    for path in (f"/offers/{offer_id}", f"/incubations/{reference}", f"/incubations/{reference}/case-study"):
        assert other.get(path).status_code == 404, path
        assert reviewer.get(path).status_code == 403, path
    assert other.post(f"/offers/{offer_id}/accept").status_code == 404
    assert other.post(f"/offers/{offer_id}/decline", {"reason": ""}).status_code == 404
    assert other.post(f"/incubations/{reference}/updates", {"state": "blocked", "note": "x"}).status_code == 404
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "open"
    assert world.scalar(select(ProgressUpdate.id).where(ProgressUpdate.idea_id == idea_id)) is None
    for path in ("/offers/99999999999999999999", "/offers/0", "/incubations/IH%00x", "/incubations/" + "9" * 41):
        assert world.browser("parks").get(path).status_code == 404, path


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(world: World) -> None:
    _, offer_id, _ = world.offered("parks")
    idea_id, reference = world.incubating("parks")
    browser = world.browser("parks")
    assert browser.post(f"/offers/{offer_id}/decline", {"reason": "No."}, csrf=False).status_code == 403
    assert browser.post(f"/offers/{offer_id}/accept", csrf=False).status_code == 403
    update = {"state": "on_track", "note": "Fine."}
    assert browser.post(f"/incubations/{reference}/updates", update, csrf=False).status_code == 403
    assert world.scalar(select(Offer.state).where(Offer.id == offer_id)) == "open"
    assert world.scalar(select(ProgressUpdate.id).where(ProgressUpdate.idea_id == idea_id)) is None


def test_offers_and_incubations_are_listed_a_page_at_a_time(world: World) -> None:
    made = [world.offered("harbours") for _ in range(25)]
    assert len(open_offers(world, "harbours")) == 25
    browser = world.browser("harbours")
    first = browser.get("/offers")
    assert first.text.count('class="govuk-summary-card"') == 20
    assert 'href="/offers?page=2" rel="next"' in first.text
    second = browser.get("/offers?page=2")
    assert second.text.count('class="govuk-summary-card"') == 5
    assert 'rel="next"' not in second.text
    assert 'href="/offers?page=1" rel="prev"' in second.text
    assert browser.get("/offers?page=0").status_code == 404

    for idea_id, offer_id, _ in made:
        assert browser.post(f"/offers/{offer_id}/accept").status_code == 303
        world.open_incubation(idea_id)
    listed = browser.get("/incubations")
    assert listed.text.count('<tr class="govuk-table__row">') == 21  # the heading's row and 20
    assert 'href="/incubations?page=2" rel="next"' in listed.text
    assert "No update yet" in words(listed)
    page_two = browser.get("/incubations?page=2")
    assert page_two.text.count('<tr class="govuk-table__row">') == 6
    everyone = world.browser("admin").get("/incubations")
    assert everyone.status_code == 200
    assert "sponsored by Hana Harbour" in words(everyone)


# --- matching by hand -----------------------------------------------------------------------------------------------


def test_an_administrator_sees_each_offer_with_its_ranking_and_offers_an_unmatched_idea_by_hand(world: World) -> None:
    idea_id, reference = unmatched(world)
    admin = world.browser("admin")
    path = f"/admin/ideas/{reference}/matching"
    page = admin.get(path)
    assert page.status_code == 200
    text = words(page)
    for shown in (
        "Unmatched",
        "Round 1, offer 1: Sean Sponsor",
        "Declined",
        "Their reason No budget.",
        "How sponsors were ranked",
        "Your interests match: buses",
        "Ivy Idle: no places free",
    ):
        assert shown in text, shown
    options = re.findall(r'<option value="([^"]*)"', page.text)
    assert options[0] == ""
    assert "pages.buses@example.gov.uk" not in options  # asked before
    assert "pages.idle@example.gov.uk" not in options  # full

    empty = admin.post(f"{path}/offer", {"sponsor_email": ""})
    assert empty.status_code == 422
    assert '<a href="#sponsor_email">Choose the sponsor to offer the idea to</a>' in empty.text
    not_a_sponsor = admin.post(f"{path}/offer", {"sponsor_email": "pages.reviewer@example.gov.uk"})
    assert not_a_sponsor.status_code == 422
    asked_before = admin.post(f"{path}/offer", {"sponsor_email": "pages.buses@example.gov.uk"})
    assert asked_before.status_code == 409
    assert "a sponsor is never asked twice" in words(asked_before)
    no_reason = admin.post(f"{path}/close", {"reason": ""})
    assert no_reason.status_code == 422
    assert world.status(idea_id) == "unmatched"

    offered = admin.post(f"{path}/offer", {"sponsor_email": "pages.parks@example.gov.uk"})
    assert offered.headers["location"] == f"{path}?done=offered"
    assert world.status(idea_id) == "matching"
    after = words(admin.get(offered.headers["location"]))
    assert "The idea has been offered to the sponsor you chose" in after
    assert "Offered by hand by pages.admin@example.gov.uk" in after
    assert "Chosen by Ada Admin" in after
    assert "An offer is out" in after  # and the actions are gone, with the reason
    assert admin.post(f"{path}/rematch").status_code == 409
    assert world.browser("parks").get("/offers").text.count(reference) == 1


def test_an_unmatched_idea_is_matched_again_or_closed_and_only_administrators_may(world: World) -> None:
    first, again = unmatched(world), unmatched(world)
    admin = world.browser("admin")
    for key in ("parks", "reviewer"):
        assert world.browser(key).get(f"/admin/ideas/{first[1]}/matching").status_code == 403
        assert world.browser(key).post(f"/admin/ideas/{first[1]}/matching/rematch").status_code == 403
    assert world.status(first[0]) == "unmatched"
    rematched = admin.post(f"/admin/ideas/{first[1]}/matching/rematch")
    assert rematched.headers["location"].endswith("done=rematched")
    assert world.status(first[0]) == "matching"
    closed = admin.post(f"/admin/ideas/{again[1]}/matching/close", {"reason": "No sponsor this year."})
    assert closed.headers["location"].endswith("done=closed")
    assert world.status(again[0]) == "closed"
    assert "Its matching is over" in words(admin.get(closed.headers["location"]))
    assert admin.get("/admin/ideas/IH-2026-999999999/matching").status_code == 404


# --- who sees whom --------------------------------------------------------------------------------------------------


def test_no_page_shows_an_anonymous_submitter_s_name_or_any_submitter_s_email(world: World) -> None:
    _, offer_id, _ = world.offered("parks", anonymous=True, reviewed=True)
    _, reference = implemented(world, anonymous=True)
    named_offer = world.offered("parks")[1]
    sponsor, admin = world.browser("parks"), world.browser("admin")
    assert sponsor.post(f"/incubations/{reference}/case-study", CASE_STUDY).status_code == 303
    anonymous_pages = [
        (sponsor, f"/offers/{offer_id}"),
        (sponsor, f"/incubations/{reference}"),
        (sponsor, f"/incubations/{reference}/case-study"),
        (admin, f"/incubations/{reference}"),
        (admin, f"/incubations/{reference}/case-study"),
    ]
    for browser, path in anonymous_pages:
        page = browser.get(path)
        assert page.status_code == 200, path
        assert SUBMITTER[0] not in page.text, path
        assert SUBMITTER[1] not in page.text, path
    assert "the submitter asked to stay anonymous" in words(sponsor.get(f"/offers/{offer_id}"))
    for path in ("/offers", "/incubations", f"/offers/{named_offer}"):
        assert SUBMITTER[1] not in sponsor.get(path).text, path
    assert SUBMITTER[0] in sponsor.get(f"/offers/{named_offer}").text  # a name given openly is shown


def test_a_sponsor_s_work_is_their_offers_and_the_header_lists_their_pages(world: World) -> None:
    sponsor = world.browser("parks")
    home = sponsor.get("/staff")
    assert (home.status_code, home.headers["location"]) == (303, "/offers")
    offers = sponsor.get("/offers")
    assert re.search(r'href="/offers" aria-current="page">\s*<strong[^>]*>Your offers</strong>', offers.text)
    assert 'href="/incubations"' in offers.text
    admin = world.browser("admin").get("/staff")
    assert admin.status_code == 200
    assert re.search(r'href="/incubations">\s*Incubations\s*</a>', admin.text)

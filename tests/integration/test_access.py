"""Who may use what: every route of the app, called by every kind of caller, against one explicit table.

The callers: nobody (anonymous); the submitter, who holds an idea's status token and no staff
credentials; a reviewer, a sponsor and an administrator. Staff call once with an API token and
once as a signed-in browser (session cookie, with the CSRF header on unsafe requests); both
must get the same answers. The submitter's token goes into `/status/{token}` addresses; everyone
else puts a well-formed wrong token there.

Each call gets a fresh idea, a fresh sign-in link and a fresh browser session, so that no answer
depends on the order of the walk. Path parameters are real where it matters (the reference,
the status token, the link); other ids name nothing, so an allowed call answers 404 there. An
allowed call shows as 2xx, 303, 404, 409 or 422; a refused one as 401 or 403, or, on a staff page,
as 303 to the sign-in page (`SIGN_IN_FIRST`).

A route the table does not list fails the test: every new route must be classified here.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount

from infra import people
from infra.app import create_app
from infra.composition import Runtime
from infra.embedded import EmbeddedRedis
from infra.signin import use_link
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify.handlers import handle_event, notifier_for
from shared.clock import utcnow
from shared.config import Settings, load_settings
from shared.db.models import OutboxMessage, SignInLink
from shared.db.uow import unit_of_work
from shared.signing import sign_in_token
from shared.web.csrf import COOKIE as CSRF_COOKIE
from shared.web.deps import CSRF_HEADER, SESSION_COOKIE

CALLERS = ("anonymous", "submitter", "reviewer", "sponsor", "admin")
STAFF = {"reviewer": "reviewer", "sponsor": "sponsor", "admin": "admin"}  # caller -> role

# The API's description and its documentation page, open to anyone (the static mounts are not listed either).
NOT_CHECKED = {"/openapi.json", "/docs"}
SIGN_IN_FIRST = 303  # a staff page's answer to a caller who is not signed in: see test_sign_in's return trip

# (method, path template) -> the answer to each caller, in the order of CALLERS.
EXPECTED: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    # Anyone may send an idea, through the API or the form, and see the public pages.
    ("POST", "/api/v1/ideas"): (202, 202, 202, 202, 202),
    # Staff find ideas; each role sees only its own (tests/integration/test_idea_search.py).
    ("GET", "/api/v1/ideas"): (401, 401, 200, 200, 200),
    ("GET", "/"): (303, 303, 303, 303, 303),
    ("GET", "/ideas/new"): (200, 200, 200, 200, 200),
    ("POST", "/ideas/new"): (303, 303, 303, 303, 303),
    ("GET", "/status/{rest:path}"): (404, 404, 404, 404, 404),
    ("GET", "/accessibility"): (200, 200, 200, 200, 200),
    ("GET", "/privacy"): (200, 200, 200, 200, 200),
    ("GET", "/cookies"): (200, 200, 200, 200, 200),
    ("GET", "/favicon.ico"): (200, 200, 200, 200, 200),
    ("GET", "/healthz"): (200, 200, 200, 200, 200),
    ("GET", "/readyz"): (200, 200, 200, 200, 200),
    ("GET", "/metrics"): (200, 200, 200, 200, 200),
    # The status token is the submitter's only key: a staff role opens none of these.
    ("GET", "/api/v1/status/{token}"): (404, 200, 404, 404, 404),
    ("POST", "/api/v1/status/{token}/answer"): (404, 409, 404, 404, 404),  # 409: no open question
    ("POST", "/api/v1/status/{token}/withdraw"): (404, 200, 404, 404, 404),
    ("GET", "/api/v1/status/{token}/preferences"): (404, 200, 404, 404, 404),
    ("PUT", "/api/v1/status/{token}/preferences"): (404, 200, 404, 404, 404),
    ("POST", "/api/v1/status/{token}/stop-updates"): (404, 200, 404, 404, 404),
    ("PUT", "/api/v1/status/{token}/credit"): (404, 409, 404, 404, 404),  # 409: not asked before the outcome
    ("GET", "/status/{token}/stop-updates"): (404, 200, 404, 404, 404),
    ("POST", "/status/{token}/stop-updates"): (404, 200, 404, 404, 404),
    ("GET", "/ideas/confirmation/{token}"): (404, 200, 404, 404, 404),
    ("GET", "/status/{token}"): (404, 200, 404, 404, 404),
    ("POST", "/status/{token}/answer"): (404, 409, 404, 404, 404),
    ("GET", "/status/{token}/withdraw"): (404, 200, 404, 404, 404),
    ("POST", "/status/{token}/withdraw"): (404, 303, 404, 404, 404),
    ("POST", "/status/{token}/credit"): (404, 409, 404, 404, 404),  # 409: not asked before the outcome
    # Staff reads of an idea: every staff role (what each sees is filtered; see the anonymity test).
    ("GET", "/api/v1/ideas/{reference}"): (401, 401, 200, 200, 200),
    ("GET", "/api/v1/ideas/{reference}/notifications"): (401, 401, 200, 200, 200),
    # Review: reviewers only.
    ("GET", "/api/v1/reviews/tasks"): (401, 401, 200, 403, 403),
    ("POST", "/api/v1/reviews/tasks/{task_id}"): (401, 401, 404, 403, 403),
    ("GET", "/api/v1/reviews/tasks/{task_id}"): (401, 401, 404, 403, 403),
    ("POST", "/api/v1/reviews/tasks/{task_id}/decline"): (401, 401, 404, 403, 403),
    ("GET", "/reviews"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 200, 403, 403),
    ("GET", "/reviews/tasks/{task_id}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 404, 403, 403),
    ("POST", "/reviews/tasks/{task_id}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 404, 403, 403),
    ("GET", "/reviews/tasks/{task_id}/decline"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 404, 403, 403),
    ("POST", "/reviews/tasks/{task_id}/decline"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 404, 403, 403),
    # An idea's reviews with reviewers' names and private notes: administrators only.
    ("GET", "/api/v1/reviews/ideas/{reference}"): (401, 401, 403, 403, 200),
    # Sponsorship offers: sponsors only.
    ("GET", "/api/v1/offers"): (401, 401, 403, 200, 403),
    ("GET", "/api/v1/offers/{offer_id}"): (401, 401, 403, 404, 403),
    ("POST", "/api/v1/offers/{offer_id}/accept"): (401, 401, 403, 404, 403),
    ("POST", "/api/v1/offers/{offer_id}/decline"): (401, 401, 403, 404, 403),
    ("GET", "/offers"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 200, 403),
    ("GET", "/offers/{offer_id}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 403),
    ("POST", "/offers/{offer_id}/accept"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 403),
    ("POST", "/offers/{offer_id}/decline"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 403),
    # Incubation: the idea's sponsor, or an administrator (404: this idea is not being incubated).
    ("POST", "/api/v1/ideas/{reference}/milestones"): (401, 401, 403, 404, 404),
    ("POST", "/api/v1/ideas/{reference}/milestones/{milestone_id}/reached"): (401, 401, 403, 404, 404),
    ("POST", "/api/v1/ideas/{reference}/updates"): (401, 401, 403, 404, 404),
    ("POST", "/api/v1/ideas/{reference}/outcome"): (401, 401, 403, 404, 404),
    ("GET", "/api/v1/incubations"): (401, 401, 403, 200, 200),
    ("GET", "/api/v1/ideas/{reference}/incubation"): (401, 401, 403, 404, 404),
    ("PATCH", "/api/v1/ideas/{reference}/plan"): (401, 401, 403, 404, 404),
    ("PATCH", "/api/v1/ideas/{reference}/milestones/{milestone_id}"): (401, 401, 403, 404, 404),
    ("DELETE", "/api/v1/ideas/{reference}/milestones/{milestone_id}"): (401, 401, 403, 404, 404),
    ("PUT", "/api/v1/ideas/{reference}/case-study"): (401, 401, 403, 404, 404),
    ("GET", "/incubations"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 200, 200),
    ("GET", "/incubations/{reference}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    ("POST", "/incubations/{reference}/milestones"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    ("GET", "/incubations/{reference}/milestones/{milestone_id}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    ("POST", "/incubations/{reference}/milestones/{milestone_id}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    ("GET", "/incubations/{reference}/milestones/{milestone_id}/remove"): (
        SIGN_IN_FIRST,
        SIGN_IN_FIRST,
        403,
        404,
        404,
    ),
    ("POST", "/incubations/{reference}/milestones/{milestone_id}/remove"): (
        SIGN_IN_FIRST,
        SIGN_IN_FIRST,
        403,
        404,
        404,
    ),
    ("POST", "/incubations/{reference}/milestones/{milestone_id}/reached"): (
        SIGN_IN_FIRST,
        SIGN_IN_FIRST,
        403,
        404,
        404,
    ),
    ("POST", "/incubations/{reference}/plan"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    ("POST", "/incubations/{reference}/updates"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    ("POST", "/incubations/{reference}/outcome"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    ("GET", "/incubations/{reference}/case-study"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    ("POST", "/incubations/{reference}/case-study"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 404, 404),
    # Case studies: written by the idea's sponsor or an administrator, published by an administrator, read by anyone.
    ("POST", "/incubations/{reference}/case-study/publish"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("POST", "/incubations/{reference}/case-study/withdraw"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("POST", "/api/v1/admin/case-studies/{case_study_id}/publish"): (401, 401, 403, 403, 404),
    ("POST", "/api/v1/admin/case-studies/{case_study_id}/withdraw"): (401, 401, 403, 403, 404),
    ("GET", "/api/v1/case-studies"): (200, 200, 200, 200, 200),
    ("GET", "/api/v1/case-studies/{slug}"): (404, 404, 404, 404, 404),
    ("GET", "/case-studies"): (200, 200, 200, 200, 200),
    ("GET", "/case-studies/{slug}"): (404, 404, 404, 404, 404),
    ("GET", "/case-studies.atom"): (200, 200, 200, 200, 200),
    ("GET", "/assets-local/case-studies.css"): (200, 200, 200, 200, 200),  # the case studies' print stylesheet
    # Matching by hand: administrators only (409: the idea is not unmatched).
    ("GET", "/api/v1/admin/ideas/{reference}/matching"): (401, 401, 403, 403, 200),
    ("POST", "/api/v1/admin/ideas/{reference}/offer"): (401, 401, 403, 403, 409),
    ("POST", "/api/v1/admin/ideas/{reference}/rematch"): (401, 401, 403, 403, 409),
    ("POST", "/api/v1/admin/ideas/{reference}/close"): (401, 401, 403, 403, 409),
    ("GET", "/admin/ideas/{reference}/matching"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 200),
    ("POST", "/admin/ideas/{reference}/matching/offer"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 409),
    ("POST", "/admin/ideas/{reference}/matching/rematch"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 409),
    ("POST", "/admin/ideas/{reference}/matching/close"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 409),
    # The console's ideas: found, shown in full, and unblocked (a fresh idea is not in review yet: 409).
    ("GET", "/admin/ideas"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 200),
    ("GET", "/admin/ideas/{reference}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 200),
    ("POST", "/admin/ideas/{reference}/reassign"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 409),
    ("POST", "/admin/ideas/{reference}/reviewers"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 409),
    ("POST", "/admin/ideas/{reference}/duplicate"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 422),
    ("POST", "/admin/ideas/{reference}/withdraw"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 303),
    ("POST", "/admin/ideas/{reference}/notifications/{notification_id}/resend"): (
        SIGN_IN_FIRST,
        SIGN_IN_FIRST,
        403,
        403,
        404,
    ),
    # Administration.
    ("GET", "/api/v1/admin/pipeline"): (401, 401, 403, 403, 200),
    ("GET", "/api/v1/admin/notifications"): (401, 401, 403, 403, 200),
    ("GET", "/api/v1/admin/ideas/{reference}/timeline"): (401, 401, 403, 403, 200),
    ("POST", "/api/v1/admin/notifications/{notification_id}/resend"): (401, 401, 403, 403, 404),
    ("GET", "/api/v1/admin/failures"): (401, 401, 403, 403, 200),
    ("POST", "/api/v1/admin/failures/{failure_id}/retry"): (401, 401, 403, 403, 404),
    ("POST", "/api/v1/admin/failures/{failure_id}/discard"): (401, 401, 403, 403, 404),
    ("GET", "/api/v1/admin/people"): (401, 401, 403, 403, 200),
    ("POST", "/api/v1/admin/people"): (401, 401, 403, 403, 422),
    ("GET", "/api/v1/admin/people/{person_id}"): (401, 401, 403, 403, 404),
    ("PATCH", "/api/v1/admin/people/{person_id}"): (401, 401, 403, 403, 404),
    ("POST", "/api/v1/admin/ideas/{reference}/reassign"): (401, 401, 403, 403, 404),
    ("POST", "/api/v1/admin/ideas/{reference}/reviewers"): (401, 401, 403, 403, 409),
    ("POST", "/api/v1/admin/ideas/{reference}/duplicate"): (401, 401, 403, 403, 422),
    ("POST", "/api/v1/admin/ideas/{reference}/withdraw"): (401, 401, 403, 403, 200),
    # The console's failures and people pages: administrators only (404: no such failure, notification or person;
    # 422: the new person's address is not one).
    ("GET", "/admin/failures"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 200),
    ("GET", "/admin/failures/notifications"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 200),
    ("POST", "/admin/failures/notifications/{notification_id}/resend"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("GET", "/admin/failures/{failure_id}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("POST", "/admin/failures/{failure_id}/retry"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("POST", "/admin/failures/{failure_id}/discard"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("GET", "/admin/people"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 200),
    ("GET", "/admin/people/new"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 200),
    ("POST", "/admin/people/new"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 422),
    ("GET", "/admin/people/{person_id}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("POST", "/admin/people/{person_id}"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("GET", "/admin/people/{person_id}/deactivate"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("POST", "/admin/people/{person_id}/deactivate"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    ("POST", "/admin/people/{person_id}/reactivate"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 403, 403, 404),
    # Signing in is open to anyone; the staff page is for staff (a reviewer's is /reviews and a sponsor's /offers,
    # where it sends them); signing out ends whatever session there is.
    ("GET", "/sign-in"): (200, 200, 200, 200, 200),
    ("POST", "/sign-in"): (200, 200, 200, 200, 200),
    ("GET", "/sign-in/{signed}"): (200, 200, 200, 200, 200),
    ("POST", "/sign-in/{signed}"): (303, 303, 303, 303, 303),
    ("GET", "/staff"): (SIGN_IN_FIRST, SIGN_IN_FIRST, 303, 303, 200),
    ("POST", "/sign-out"): (303, 303, 303, 303, 303),
}

NO_SUCH_ID = "987654"
IDEA = {
    "title": "Shorter benefit forms",
    "problem": "The form is 40 pages long.",
    "idea": "Ask only what we do not already know.",
    "department": "Benefits",
    "name": "Sam Smith",
    "email": "sam@example.gov.uk",
}


DUE = {"due-day": "31", "due-month": "3", "due-year": "2027"}  # a milestone's due date, as a page's date input sends it


@dataclass(frozen=True)
class Body:
    """A minimal valid body: JSON, or a form (which gets the browser's CSRF token)."""

    json: Any = None
    form: Callable[[World], dict[str, str]] | None = None


BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/api/v1/ideas"): Body(json=IDEA),
    ("POST", "/ideas/new"): Body(form=lambda w: IDEA | {"submission_id": secrets.token_urlsafe(16)}),
    ("POST", "/api/v1/status/{token}/answer"): Body(json={"answer": "Forty clinics would take part."}),
    ("POST", "/api/v1/status/{token}/withdraw"): Body(json={"reason": "Solved another way."}),
    ("PUT", "/api/v1/status/{token}/preferences"): Body(json={"optional_mail": False}),
    ("POST", "/status/{token}/answer"): Body(form=lambda w: {"answer": "Forty clinics would take part."}),
    ("POST", "/status/{token}/withdraw"): Body(form=lambda w: {"reason": ""}),
    ("POST", "/status/{token}/credit"): Body(form=lambda w: {"credit_by_name": "yes"}),
    ("POST", "/status/{token}/stop-updates"): Body(form=lambda w: {}),
    ("POST", "/api/v1/reviews/tasks/{task_id}"): Body(
        json={
            "scores": {"impact": 4, "feasibility": 3, "cost": 4, "evidence": 2},
            "recommendation": "accept",
            "comment": "Worth a try.",
        }
    ),
    ("POST", "/api/v1/offers/{offer_id}/decline"): Body(json={"reason": "No budget this year."}),
    ("POST", "/api/v1/reviews/tasks/{task_id}/decline"): Body(json={"reason": "On leave."}),
    ("POST", "/reviews/tasks/{task_id}"): Body(
        form=lambda w: {
            "impact": "4",
            "feasibility": "3",
            "cost": "4",
            "evidence": "2",
            "recommendation": "accept",
            "comment": "Worth a try.",
        }
    ),
    ("POST", "/reviews/tasks/{task_id}/decline"): Body(form=lambda w: {"reason": "On leave."}),
    ("POST", "/api/v1/ideas/{reference}/milestones"): Body(
        json={"milestones": [{"title": "Pilot in one office", "due_on": "2027-03-31"}]}
    ),
    ("POST", "/api/v1/ideas/{reference}/updates"): Body(json={"state": "on_track", "note": "Going well."}),
    ("POST", "/api/v1/ideas/{reference}/outcome"): Body(
        json={"result": "closed", "summary": "Stopped.", "lessons": "Ask the depot first."}
    ),
    ("PATCH", "/api/v1/ideas/{reference}/plan"): Body(json={"budget": 1000}),
    ("PATCH", "/api/v1/ideas/{reference}/milestones/{milestone_id}"): Body(json={"title": "Pilot in two offices"}),
    ("PUT", "/api/v1/ideas/{reference}/case-study"): Body(
        json={"title": "Shorter forms", "summary": "Forms halved.", "problem": "Long forms.", "what_was_done": "Cut."}
    ),
    ("POST", "/api/v1/admin/ideas/{reference}/offer"): Body(json={"sponsor_email": "sponsor@example.gov.uk"}),
    ("POST", "/api/v1/admin/ideas/{reference}/close"): Body(json={"reason": "No sponsor this year."}),
    ("PUT", "/api/v1/status/{token}/credit"): Body(json={"credit_by_name": True}),
    ("POST", "/offers/{offer_id}/accept"): Body(form=lambda w: {}),
    ("POST", "/offers/{offer_id}/decline"): Body(form=lambda w: {"reason": "No budget this year."}),
    ("POST", "/incubations/{reference}/milestones"): Body(form=lambda w: {"milestone_title": "Pilot"} | DUE),
    ("POST", "/incubations/{reference}/milestones/{milestone_id}"): Body(
        form=lambda w: {"milestone_title": "Pilot in two offices"} | DUE
    ),
    ("POST", "/incubations/{reference}/milestones/{milestone_id}/remove"): Body(form=lambda w: {}),
    ("POST", "/incubations/{reference}/milestones/{milestone_id}/reached"): Body(form=lambda w: {}),
    ("POST", "/incubations/{reference}/plan"): Body(form=lambda w: {"budget": "1000"}),
    ("POST", "/incubations/{reference}/updates"): Body(form=lambda w: {"state": "on_track", "note": "Going well."}),
    ("POST", "/incubations/{reference}/outcome"): Body(
        form=lambda w: {"result": "closed", "summary": "Stopped.", "lessons": "Ask the depot first."}
    ),
    ("POST", "/incubations/{reference}/case-study"): Body(
        form=lambda w: {"title": "Shorter forms", "summary": "Halved.", "problem": "Long.", "what_was_done": "Cut."}
    ),
    ("POST", "/incubations/{reference}/case-study/publish"): Body(form=lambda w: {}),
    ("POST", "/incubations/{reference}/case-study/withdraw"): Body(form=lambda w: {}),
    ("POST", "/admin/ideas/{reference}/matching/offer"): Body(
        form=lambda w: {"sponsor_email": "sponsor@example.gov.uk"}
    ),
    ("POST", "/admin/ideas/{reference}/matching/rematch"): Body(form=lambda w: {}),
    ("POST", "/admin/ideas/{reference}/matching/close"): Body(form=lambda w: {"reason": "No sponsor this year."}),
    ("POST", "/admin/ideas/{reference}/reassign"): Body(
        form=lambda w: {"task_id": "2000000000", "reviewer_email": "reviewer@example.gov.uk", "reason": "Off sick."}
    ),
    ("POST", "/admin/ideas/{reference}/reviewers"): Body(
        form=lambda w: {"reviewer_email": "reviewer@example.gov.uk", "reason": "A second view."}
    ),
    ("POST", "/admin/ideas/{reference}/duplicate"): Body(
        form=lambda w: {"of_reference": "IH-1999-000001", "reason": "The same idea."}
    ),
    ("POST", "/admin/ideas/{reference}/withdraw"): Body(form=lambda w: {"reason": "They asked us by phone."}),
    ("POST", "/admin/ideas/{reference}/notifications/{notification_id}/resend"): Body(form=lambda w: {}),
    ("POST", "/api/v1/admin/failures/{failure_id}/discard"): Body(json={"reason": "A test message."}),
    # Registering the same person twice would answer differently the second time: a bad address answers the same.
    ("POST", "/api/v1/admin/people"): Body(json={"email": "not-an-address", "name": "Nobody", "role": "reviewer"}),
    ("PATCH", "/api/v1/admin/people/{person_id}"): Body(json={"capacity": 4}),
    ("POST", "/api/v1/admin/ideas/{reference}/reassign"): Body(
        json={"task_id": 2_000_000_000, "reviewer_email": "reviewer@example.gov.uk", "reason": "Off sick."}
    ),
    ("POST", "/api/v1/admin/ideas/{reference}/reviewers"): Body(
        json={"reviewer_email": "reviewer@example.gov.uk", "reason": "Knows the area."}
    ),
    ("POST", "/api/v1/admin/ideas/{reference}/duplicate"): Body(
        json={"of_reference": "IH-1999-000001", "reason": "The same idea."}
    ),
    ("POST", "/api/v1/admin/ideas/{reference}/withdraw"): Body(json={"reason": "They asked us by phone."}),
    ("POST", "/admin/failures/notifications/{notification_id}/resend"): Body(form=lambda w: {}),
    ("POST", "/admin/failures/{failure_id}/retry"): Body(form=lambda w: {}),
    ("POST", "/admin/failures/{failure_id}/discard"): Body(form=lambda w: {"reason": "A test message."}),
    ("POST", "/admin/people/new"): Body(
        form=lambda w: {"email": "not-an-address", "name": "Nobody", "role": "reviewer"}
    ),
    ("POST", "/admin/people/{person_id}"): Body(
        form=lambda w: {"name": "Nobody", "role": "reviewer", "capacity": "4", "department": ""}
    ),
    ("POST", "/admin/people/{person_id}/deactivate"): Body(form=lambda w: {"reason": "Left the team."}),
    ("POST", "/admin/people/{person_id}/reactivate"): Body(form=lambda w: {}),
    ("POST", "/sign-in"): Body(form=lambda w: {"email": w.signer}),
    ("POST", "/sign-in/{signed}"): Body(form=lambda w: {}),
    ("POST", "/sign-out"): Body(form=lambda w: {}),
}


@dataclass
class World:
    settings: Settings
    runtime: Runtime
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]  # staff caller -> API token
    people_ids: dict[str, int]
    signer: str  # whose sign-in links the sign-in routes are called with
    signer_id: int
    csrf_cookie: str
    csrf_field: str

    def idea(self, **changes: Any) -> tuple[str, str]:
        """A new submitted idea: (reference, status token)."""
        with unit_of_work(self.runtime.session_factory) as session:
            created = submit_idea(
                session, Submission(**(IDEA | changes)), channel="api", departments=self.settings.departments
            )
        return created.reference, created.status_token

    def new_link(self, person_id: int) -> tuple[uuid.UUID, str]:
        """A stored, unused sign-in link and its signed path segment."""
        link_id, expires_at = uuid.uuid4(), utcnow() + timedelta(minutes=10)
        with unit_of_work(self.runtime.session_factory) as session:
            session.add(SignInLink(id=link_id, person_id=person_id, expires_at=expires_at))
        return link_id, sign_in_token(self.settings.resolved_secret_key(), link_id, expires_at)

    def new_session(self, caller: str) -> str:
        """A signed-in browser of this staff caller: the session cookie's value."""
        link_id, _ = self.new_link(self.people_ids[caller])
        with unit_of_work(self.runtime.session_factory) as session:
            cookie = use_link(session, link_id, hours=1, now=utcnow())
        assert cookie is not None
        return cookie


def fill(template: str, values: dict[str, str]) -> str:
    """The path with each `{name}` or `{name:converter}` replaced; an unknown name fails, to be added here."""

    def value(match: re.Match[str]) -> str:
        if match[1] not in values:
            raise AssertionError(f"no test value for the path parameter {match[1]!r} of {template}")
        return values[match[1]]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, template)


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount) or context.path in NOT_CHECKED:
            continue
        assert context.path is not None
        for method in context.methods or ():
            if method != "HEAD":
                found.add((method, context.path))
    return found


def call(world: World, route: tuple[str, str], caller: str, credentials: str) -> int:
    method, template = route
    reference, token = world.idea()
    _, signed = world.new_link(world.signer_id)
    path = fill(
        template,
        {
            "token": token if caller == "submitter" else secrets.token_urlsafe(24),
            "reference": reference,
            "signed": signed,
            "task_id": NO_SUCH_ID,
            "offer_id": NO_SUCH_ID,
            "milestone_id": NO_SUCH_ID,
            "notification_id": NO_SUCH_ID,
            "case_study_id": NO_SUCH_ID,
            "failure_id": NO_SUCH_ID,
            "person_id": NO_SUCH_ID,
            "slug": "no-such-case-study",
            "rest": "no/such/page",
        },
    )
    headers: dict[str, str] = {}
    client = world.client
    client.cookies.clear()
    client.cookies.set(CSRF_COOKIE, world.csrf_cookie)  # every caller is a browser that has seen one of our forms
    if caller in STAFF and credentials == "token":
        headers["Authorization"] = f"Bearer {world.tokens[caller]}"
    elif caller in STAFF:
        client.cookies.set(SESSION_COOKIE, world.new_session(caller))
        if method != "GET":
            headers[CSRF_HEADER] = world.csrf_field
    body = BODIES.get(route, Body())
    if body.form is not None:
        form = body.form(world) | {"csrf_token": world.csrf_field}
        return client.request(method, path, headers=headers, data=form).status_code
    return client.request(method, path, headers=headers, json=body.json).status_code


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from shared.db.migrate import upgrade

    folder: Path = tmp_path_factory.mktemp("access")
    redis = EmbeddedRedis(folder)  # /readyz and the pipeline ask the broker
    redis.start()
    settings = load_settings(
        data_dir=folder, queue_prefix="access.", api_rate_limit="0/minute", sign_in_rate_limit="0/hour"
    )
    upgrade(settings.effective_database_url)
    tokens, ids = {}, {}
    for caller, role in STAFF.items():
        address = f"{caller}@example.gov.uk"
        ids[caller] = people.add(settings, email=address, name=f"{caller.title()} Person", role=role)
        tokens[caller] = people.new_api_token(settings, address)
    signer = "signer@example.gov.uk"
    signer_id = people.add(settings, email=signer, name="Sam Signer", role="reviewer")
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    try:
        with TestClient(app, follow_redirects=False) as client:
            page = client.get("/sign-in")
            csrf_field = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf_field
            yield World(
                settings,
                runtime,
                app,
                client,
                tokens,
                ids,
                signer,
                signer_id,
                str(client.cookies[CSRF_COOKIE]),
                csrf_field[1],
            )
    finally:
        runtime.close()
        redis.stop()


def test_every_route_is_in_the_table_and_every_row_is_a_route(world: World) -> None:
    routes = app_routes(world.app)
    unlisted = sorted(routes - set(EXPECTED))
    assert not unlisted, f"add these routes to EXPECTED, with the answer each caller must get: {unlisted}"
    stale = sorted(set(EXPECTED) - routes)
    assert not stale, f"these rows of EXPECTED are no longer routes of the app: {stale}"
    assert set(BODIES) <= set(EXPECTED)


@pytest.mark.parametrize("credentials", ["token", "session"])
def test_every_route_answers_every_caller_as_the_table_says(world: World, credentials: str) -> None:
    wrong = []
    for route in sorted(app_routes(world.app)):
        expected = EXPECTED.get(route)
        if expected is None:
            wrong.append(f"{route}: not in the table")
            continue
        got = tuple(call(world, route, caller, credentials) for caller in CALLERS)
        if got != expected:
            wrong.append(f"{route[0]} {route[1]}: expected {expected}, got {got} for {CALLERS}")
    assert not wrong, "\n".join(wrong)


def test_the_table_refuses_callers_without_credentials_with_401_and_staff_with_403() -> None:
    """401 means "sign in", 403 "not with your role": the table must not mix them up."""
    for route, answers in EXPECTED.items():
        for caller, answer in zip(CALLERS, answers, strict=True):
            if caller in STAFF:
                assert answer != 401, (route, caller)
            else:
                assert answer != 403, (route, caller)


def is_staff_route(answers: tuple[int, ...]) -> bool:
    """Refused to a caller who is not signed in, and answered otherwise to some member of staff."""
    return answers[0] in (401, SIGN_IN_FIRST) and any(answer != answers[0] for answer in answers[2:])


def test_a_signed_in_browser_without_the_csrf_header_is_refused_every_unsafe_staff_route(world: World) -> None:
    """What a page on another site could make a signed-in browser send: refused before any role or body is read."""
    staff_routes = [route for route, answers in EXPECTED.items() if route[0] != "GET" and is_staff_route(answers)]
    assert ("POST", "/reviews/tasks/{task_id}") in staff_routes  # pages too, not only the API
    assert ("POST", "/sign-in/{signed}") not in staff_routes
    for method, template in staff_routes:
        reference, _ = world.idea()
        path = fill(
            template,
            {k: reference if k == "reference" else NO_SUCH_ID for k in re.findall(r"\{(\w+)", template)},
        )
        for caller in STAFF:
            world.client.cookies.clear()
            world.client.cookies.set(CSRF_COOKIE, world.csrf_cookie)
            world.client.cookies.set(SESSION_COOKIE, world.new_session(caller))
            body = BODIES.get((method, template), Body()).json
            answer = world.client.request(method, path, json=body)
            assert answer.status_code == 403, (method, template, caller, answer.text)


# --- anonymity ------------------------------------------------------------------------------------------------------


def test_an_anonymous_submitter_is_named_to_administrators_only(world: World) -> None:
    name, address = "Nadia Nurse", f"nadia.{uuid.uuid4().hex[:6]}@example.gov.uk"
    reference, _ = world.idea(name=name, email=address, anonymous=True)
    notifier = notifier_for(world.settings, world.runtime.session_factory)
    with unit_of_work(world.runtime.session_factory) as session:
        payloads = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id)).all()
    for payload in payloads:
        handle_event(notifier, json.loads(payload))  # the acknowledgement, so that the delivery log has a row

    world.client.cookies.clear()
    for caller in ("reviewer", "sponsor", "admin"):
        headers = {"Authorization": f"Bearer {world.tokens[caller]}"}
        idea = world.client.get(f"/api/v1/ideas/{reference}", headers=headers)
        log = world.client.get(f"/api/v1/ideas/{reference}/notifications", headers=headers)
        assert (idea.status_code, log.status_code) == (200, 200)
        assert idea.json()["anonymous"] is True
        assert any(row["template"] == "submitter/received" for row in log.json())
        if caller == "admin":
            assert (idea.json()["submitter_name"], idea.json()["submitter_email"]) == (name, address)
            assert address in log.text
        else:
            assert (idea.json()["submitter_name"], idea.json()["submitter_email"]) == (None, None)
            for answer in (idea, log):
                assert name not in answer.text, caller
                assert address not in answer.text, caller


def test_a_caller_who_is_not_signed_in_is_sent_from_every_staff_page_to_sign_in_and_back(world: World) -> None:
    pages = [route for route, answers in EXPECTED.items() if answers[0] == SIGN_IN_FIRST and is_staff_route(answers)]
    assert ("GET", "/reviews/tasks/{task_id}") in pages
    world.client.cookies.clear()
    for method, template in pages:
        path = fill(template, {name: NO_SUCH_ID for name in re.findall(r"\{(\w+)", template)})
        answer = world.client.request(method, f"{path}?from=list")
        assert answer.status_code == 303, (method, template)
        assert answer.headers["location"] == "/sign-in?" + urlencode({"next": f"{path}?from=list"}), (method, path)

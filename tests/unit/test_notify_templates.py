"""Every message renders: a one-line subject behind the reference, a text and an HTML part, escaped where it must be."""

from __future__ import annotations

import email
import re
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest

from services.notify.render import build_email, environment, message_id, render, thread_headers

REFERENCE = "IH-2026-000123"
PUBLIC = "https://ideas.example.gov.uk"
TOKEN = "k3Xq9-secret-status-token"
STATUS_URL = f"{PUBLIC}/status/{TOKEN}"
STOP_URL = f"{STATUS_URL}/stop-updates"
TITLE = "Text reminders for clinic appointments"
HOSTILE = "<script>alert(1)</script>"
TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "notify" / "templates"
AUDIENCES = ("submitter", "sender", "reviewer", "sponsor", "admin", "staff")
# Messages about no idea (an email that could not be taken in) carry no reference.
WITHOUT_REFERENCE = {"sender/not_accepted", "staff/sign_in"}
# Messages about no idea's title (a sign-in link).
WITHOUT_TITLE = {"staff/sign_in"}
SIGN_IN_URL = f"{PUBLIC}/sign-in/3f2b8c4e1d7a4b6e9a510c2d4e6f8a10.1796403600.c2lnbmF0dXJl"


def submitter(*, optional: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "audience": "submitter",
        "recipient_name": "Nadia Nurse",
        "status_url": STATUS_URL,
        "stop_url": STOP_URL,
        "optional": optional,
        **extra,
    }


def staff(audience: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"audience": audience, "recipient_name": name, **extra}


TASK = {"task_url": f"{PUBLIC}/reviews/tasks/3", "due_at": "Friday 4 December 2026 at 17:00"}
OFFER = {"offer_url": f"{PUBLIC}/offers/5", "due_at": "Wednesday 9 December 2026 at 17:00"}
MILESTONE = {
    "milestone_title": "Pilot in one clinic",
    "due_at": "Friday 4 December 2026 at 17:00",
    "incubation_url": f"{PUBLIC}/incubations/{REFERENCE}",
}

# What the rules put in each message's context (see services/notify/rules.py), as an event would.
CONTEXTS: dict[str, dict[str, Any]] = {
    "submitter/received": submitter(optional=False, attachments_refused=[]),
    "submitter/in_review": submitter(),
    "submitter/needs_info": submitter(optional=False, question="How many clinics would take part?"),
    "submitter/matching": submitter(reasons=["Cheap to try.", "Good evidence from a pilot."]),
    "submitter/rejected": submitter(reasons=["Costly with little benefit.", "Already tried in 2019."]),
    "submitter/duplicate": submitter(reason="The same as IH-2026-000007, which is in review."),
    "submitter/incubating": submitter(sponsor_name="Sofia Sponsor"),
    "submitter/unmatched": submitter(),
    "submitter/implemented": submitter(summary="Missed appointments fell by a third.", anonymous=False),
    "submitter/closed": submitter(summary="The pilot ended when its budget was cut.", anonymous=False),
    "submitter/case_study_published": submitter(
        case_study_url=f"{PUBLIC}/case-studies/text-reminders", anonymous=False
    ),
    "submitter/withdrawn": submitter(reason="Solved another way."),
    "submitter/milestone_reached": submitter(milestone_title="Pilot in one clinic"),
    "submitter/question_reminder": submitter(
        optional=False, question="How many clinics would take part?", due_at="Friday 4 December 2026 at 17:00"
    ),
    "reviewer/review_assigned": staff("reviewer", "Rhona Reviewer", department="Health", theme="Digital", **TASK),
    "reviewer/review_reminder": staff("reviewer", "Rhona Reviewer", department="Health", theme=None, **TASK),
    "reviewer/review_reassigned": staff("reviewer", "Rhona Reviewer", department=None, theme=None),
    "reviewer/review_resumed": staff(
        "reviewer", "Rhona Reviewer", department=None, theme=None, question="How many?", answer="Forty.", **TASK
    ),
    "sponsor/offer_made": staff(
        "sponsor", "Sofia Sponsor", department="Health", theme=None, reasons=["Same department."], **OFFER
    ),
    "sponsor/offer_reminder": staff("sponsor", "Sofia Sponsor", department="Health", theme=None, **OFFER),
    "sponsor/milestone_reminder": staff("sponsor", "Sofia Sponsor", department="Health", theme=None, **MILESTONE),
    "sponsor/milestone_overdue": staff("sponsor", "Sofia Sponsor", department="Health", theme=None, **MILESTONE),
    "admin/milestone_overdue": staff("admin", "Alex Admin", sponsor_name="Sofia Sponsor", **MILESTONE),
    "admin/idea_unmatched": staff(
        "admin", "Alex Admin", idea_url=f"{PUBLIC}/admin/ideas/{REFERENCE}/matching", reason="No sponsor had room."
    ),
    "admin/review_escalated": staff(
        "admin",
        "Alex Admin",
        late_reviewer_name="Rhona Reviewer",
        replacement_name="Ravi Reviewer",
        declined=False,
        idea_url=f"{PUBLIC}/admin/ideas/{REFERENCE}",
    ),
    "admin/notification_failed": staff(
        "admin",
        "Alex Admin",
        notification_id=40,
        channel="email",
        failed_template="submitter/received",
        state="failed",
        error="550 5.1.1 mailbox unavailable",
        idea_url=f"{PUBLIC}/admin/ideas/{REFERENCE}",
    ),
    "admin/message_failed": staff(
        "admin",
        "Alex Admin",
        consumer="review.screen_idea",
        error="IllegalTransition",
        failed_message_id=2,
        failure_url=f"{PUBLIC}/admin/failures/2",
    ),
    "sender/not_accepted": {
        "audience": "sender",
        "recipient_name": None,
        "reason": "we could not find any text in your email",
    },
    "staff/sign_in": staff(
        "staff", "Alex Admin", sign_in_url=SIGN_IN_URL, expires_at="Friday 4 December 2026 at 17:00", minutes=15
    ),
}
NAMES = sorted(CONTEXTS)


def reference_of(name: str) -> str | None:
    return None if name in WITHOUT_REFERENCE else REFERENCE


def context_for(name: str, **changes: Any) -> dict[str, Any]:
    """As delivery builds it: the reference and public address, then the rules' context."""
    return {"reference": reference_of(name), "public_url": PUBLIC, "title": TITLE, **CONTEXTS[name], **changes}


def rendered(name: str, **changes: Any) -> tuple[str, str, str]:
    return render(environment(None), name, context_for(name, **changes), reference=reference_of(name))


def test_every_message_template_has_a_context_here_and_both_parts() -> None:
    texts = {str(p.relative_to(TEMPLATES).with_suffix("")) for a in AUDIENCES for p in (TEMPLATES / a).glob("*.txt")}
    htmls = {str(p.relative_to(TEMPLATES).with_suffix("")) for a in AUDIENCES for p in (TEMPLATES / a).glob("*.html")}
    assert texts == htmls, "each message needs a .txt and an .html template"
    assert texts == set(CONTEXTS)


@pytest.mark.parametrize("name", NAMES)
def test_a_message_renders_with_a_one_line_subject_behind_its_reference(name: str) -> None:
    subject, text, html = rendered(name)
    prefix = f"[{REFERENCE}] " if reference_of(name) else ""
    assert subject.startswith(prefix)
    assert len(subject) > len(prefix)
    assert ("IH-" in subject) is bool(prefix)
    assert "\n" not in subject
    assert "\r" not in subject
    assert subject == subject.strip()
    assert "  " not in subject
    assert (TITLE in text) is (name not in WITHOUT_TITLE)
    assert (TITLE in html) is (name not in WITHOUT_TITLE)
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    name_of_recipient = CONTEXTS[name]["recipient_name"]
    greeting = f"Hello {name_of_recipient}," if name_of_recipient else "Hello,"
    assert greeting in text
    assert greeting in html


@pytest.mark.parametrize("name", NAMES)
def test_a_message_renders_without_a_recipient_name(name: str) -> None:
    _, text, html = rendered(name, recipient_name=None)
    assert "Hello,\n" in text
    assert "<p>Hello,</p>" in html


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("submitter/")])
def test_a_submitter_message_links_the_status_page_and_offers_to_stop_only_optional_mail(name: str) -> None:
    _, text, html = rendered(name)
    assert STATUS_URL in text
    assert STATUS_URL in html
    optional = CONTEXTS[name]["optional"]
    assert (STOP_URL in text) is optional
    assert (STOP_URL in html) is optional


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("submitter/")])
def test_a_staff_message_has_no_status_link(name: str) -> None:
    _, text, html = rendered(name)
    assert TOKEN not in text
    assert TOKEN not in html


def test_a_notification_failed_for_good_and_one_unconfirmed_have_different_subjects() -> None:
    failed, _, _ = rendered("admin/notification_failed", state="failed")
    unconfirmed, _, _ = rendered("admin/notification_failed", state="unconfirmed")
    assert failed == f"[{REFERENCE}] A notification was not delivered"
    assert unconfirmed == f"[{REFERENCE}] A notification may not have been delivered"


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("submitter/received", "We have your idea"),
        ("submitter/in_review", "Reviewers are looking at your idea"),
        ("submitter/rejected", "Your idea will not be taken forward"),
        ("reviewer/review_assigned", "You have a new idea to review"),
        ("sponsor/offer_made", "We would like you to sponsor an idea"),
    ],
)
def test_some_subjects_in_full(name: str, subject: str) -> None:
    assert rendered(name)[0] == f"[{REFERENCE}] {subject}"


@pytest.mark.parametrize("name", [n for n in NAMES if n not in WITHOUT_TITLE])
def test_a_hostile_title_is_escaped_in_html_and_kept_as_it_is_in_text(name: str) -> None:
    subject, text, html = rendered(name, title=HOSTILE)
    assert HOSTILE in text
    assert HOSTILE not in html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in subject


@pytest.mark.parametrize(
    ("name", "changes", "link"),
    [
        ("admin/message_failed", {}, f"{PUBLIC}/admin/failures/2"),
        ("admin/review_escalated", {"replacement_name": None}, f"{PUBLIC}/admin/ideas/{REFERENCE}"),
        ("admin/notification_failed", {}, f"{PUBLIC}/admin/ideas/{REFERENCE}"),
        ("admin/notification_failed", {"state": "unconfirmed"}, f"{PUBLIC}/admin/ideas/{REFERENCE}"),
    ],
)
def test_an_email_asking_an_administrator_to_act_links_the_console_page_to_act_on(
    name: str, changes: dict[str, Any], link: str
) -> None:
    _, text, html = rendered(name, **changes)
    assert link in text
    assert f'href="{link}"' in html


def test_an_escalated_review_that_found_a_replacement_asks_nothing_of_the_administrator() -> None:
    _, text, _ = rendered("admin/review_escalated")
    assert "/admin/ideas/" not in text


def test_a_refused_email_is_answered_without_a_reference_saying_why() -> None:
    subject, text, html = rendered("sender/not_accepted")
    assert subject == "We could not take your idea from your email"
    assert "because we could not find any text in your email." in text
    assert "because we could not find any text in your email." in html
    assert f"{PUBLIC}/ideas/new" in text


def test_a_sign_in_link_is_sent_with_its_expiry_in_words_and_no_reference() -> None:
    subject, text, html = rendered("staff/sign_in")
    assert subject == "Your link to sign in to Ideahub"
    for part in (text, html):
        assert SIGN_IN_URL in part
        assert "until Friday 4 December 2026 at 17:00" in part or "until <strong>Friday 4 December 2026" in part
        assert "15 minutes" in part
        assert "works once" in part
    assert f'<a href="{SIGN_IN_URL}">' in html
    _, _, html = rendered("staff/sign_in", recipient_name=HOSTILE)
    assert "<script" not in html


def test_the_acknowledgement_names_the_files_not_kept_and_escapes_them_in_html() -> None:
    refused = ["virus.exe (this type of file is not accepted)", "<b>big</b>.pdf (it is larger than 5 MB)"]
    _, text, html = rendered("submitter/received", attachments_refused=refused)
    assert "We did not keep these files from your email:" in text
    for item in refused:
        assert f"- {item}" in text
    assert "<li>virus.exe (this type of file is not accepted)</li>" in html
    assert "<b>big" not in html
    assert "&lt;b&gt;big&lt;/b&gt;.pdf" in html
    _, text, html = rendered("submitter/received")
    assert "did not keep" not in text
    assert "did not keep" not in html


def test_a_hostile_reviewer_comment_is_escaped_in_the_html_of_a_rejection() -> None:
    comment = '<img src=x onerror="alert(1)">'
    _, text, html = rendered("submitter/rejected", reasons=[comment])
    assert comment in text
    assert "<img" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


# --- line breaks in the text part -----------------------------------------------------------------------------------

# For each message, the contexts that take every other side of its `{% if %}`s (the layout's recipient
# name and the submitter footer's `optional` are varied for every message).
BRANCHES: dict[str, list[dict[str, Any]]] = {
    "admin/idea_unmatched": [{"reason": None}],
    "admin/notification_failed": [{"state": "unconfirmed"}, {"state": "unconfirmed", "channel": "webhook"}],
    "admin/review_escalated": [
        {"declined": True},
        {"late_reviewer_name": None},
        {"replacement_name": None},
        {"declined": True, "late_reviewer_name": None, "replacement_name": None},
    ],
    "reviewer/review_assigned": [{"department": None}, {"theme": None}, {"department": None, "theme": None}],
    "reviewer/review_resumed": [{"answer": None}],
    "sponsor/offer_made": [{"reasons": []}, {"reasons": ["Same department.", "Has room for one more."]}],
    "submitter/closed": [{"summary": None}, {"anonymous": True}],
    "submitter/case_study_published": [{"anonymous": True}],
    "admin/milestone_overdue": [{"sponsor_name": None}],
    "submitter/duplicate": [{"reason": None}],
    "submitter/implemented": [{"summary": None}, {"anonymous": True}],
    "submitter/incubating": [{"sponsor_name": None}],
    "submitter/matching": [{"reasons": []}],
    "submitter/milestone_reached": [{"milestone_title": None}],
    "submitter/needs_info": [{"question": None}],
    "submitter/question_reminder": [{"question": None}],
    "submitter/received": [{"attachments_refused": ["virus.exe (this type of file is not accepted)", "b.pdf (big)"]}],
    "submitter/rejected": [{"reasons": []}],
    "submitter/withdrawn": [{"reason": None}],
}
# A sentence's end run into the next one: "deadline:\"Text..." or "it.We..." on one line.
_JOINED = re.compile(r'[.:!?]"?[A-Z]')
_CONDITION = re.compile(r"{%-?\s*(?:el)?if\s+(?:not\s+)?(\w+)")


def variants(name: str) -> list[dict[str, Any]]:
    base = [{}, *BRANCHES.get(name, [])]
    people = [{**changes, "recipient_name": None} for changes in base]
    optional = (
        [{**changes, "optional": not CONTEXTS[name]["optional"]} for changes in base]
        if "optional" in CONTEXTS[name]
        else []
    )
    return base + people + optional


def test_every_condition_of_a_message_s_text_part_is_taken_both_ways_below() -> None:
    """A new `{% if %}` in a template needs its other side in BRANCHES, so that the next test renders it."""
    missing = []
    for name in NAMES:
        conditions = set(_CONDITION.findall((TEMPLATES / f"{name}.txt").read_text(encoding="utf-8")))
        varied = {key for changes in BRANCHES.get(name, []) for key in changes}
        missing += [f"{name}: {condition}" for condition in sorted(conditions - varied)]
    assert not missing, f"add contexts to BRANCHES that change these: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_the_text_part_keeps_every_line_break_in_every_branch(name: str) -> None:
    for changes in variants(name):
        _, text, _ = rendered(name, **changes)
        for line in text.splitlines():
            joined = _JOINED.search(line)
            assert joined is None, f"{name} with {changes}: a line break is lost in {line!r}"


@pytest.mark.parametrize(
    ("changes", "opening"),
    [
        ({}, "A review of this idea has passed its deadline:"),
        ({"declined": True}, "A reviewer handed back their review of this idea:"),
    ],
)
def test_an_escalated_review_names_the_idea_on_its_own_line(changes: dict[str, Any], opening: str) -> None:
    _, text, _ = rendered("admin/review_escalated", **changes)
    lines = text.splitlines()
    start = lines.index(opening)
    assert lines[start + 1] == f'"{TITLE}" ({REFERENCE})'
    assert lines[start + 2 : start + 5] == ["", "The reviewer was Rhona Reviewer.", ""]


# --- the email ----------------------------------------------------------------------------------------------------


def email_to(recipient_name: str | None, *, recipient: str = "jo@example.gov.uk") -> email.message.Message:
    subject, text, html = rendered("submitter/in_review")
    raw = build_email(
        mail_from="Ideahub <hub@example.gov.uk>",
        recipient=recipient,
        recipient_name=recipient_name,
        subject=subject,
        text=text,
        html=html,
        message_id=message_id("key1", REFERENCE, "Ideahub <hub@example.gov.uk>"),
        headers={"List-Unsubscribe": f"<{STOP_URL}>"},
    )
    assert raw.isascii(), "the message is 7-bit text"
    return email.message_from_string(raw)


@pytest.mark.parametrize(
    "display_name",
    ["Mallory\r\nBcc: x@evil", "Mallory\nBcc: x@evil", "Mallory\rBcc: x@evil", "Mallöry\r\nBcc: x@evil"],
)
def test_a_line_break_in_a_display_name_cannot_add_a_header(display_name: str) -> None:
    message = email_to(display_name)
    assert message["Bcc"] is None
    assert "bcc" not in {key.lower() for key in message}
    assert len(message.get_all("To")) == 1
    ((_, address),) = getaddresses(message.get_all("To"))
    assert address == "jo@example.gov.uk"


def test_an_answer_to_an_email_threads_with_it_and_a_hostile_message_id_adds_no_header() -> None:
    assert thread_headers("<abc.123@mail.example.org>") == {
        "In-Reply-To": "<abc.123@mail.example.org>",
        "References": "<abc.123@mail.example.org>",
    }
    assert thread_headers(None) == {}
    for hostile in ("<a@b>\r\nBcc: x@evil", "<a@b>\nBcc: x@evil", "no brackets@x", "<a b@c>", "<>", "<<a@b>>"):
        assert thread_headers(hostile) == {}, hostile
    subject, text, html = rendered("sender/not_accepted")
    raw = build_email(
        mail_from="Ideahub <hub@example.gov.uk>",
        recipient="someone@example.org",
        recipient_name=None,
        subject=subject,
        text=text,
        html=html,
        message_id=message_id("key2", None, "Ideahub <hub@example.gov.uk>"),
        headers=thread_headers("<abc.123@mail.example.org>"),
    )
    message = email.message_from_string(raw)
    assert message["In-Reply-To"] == "<abc.123@mail.example.org>"
    assert message["References"] == "<abc.123@mail.example.org>"
    assert message["Message-ID"] == "<key2@example.gov.uk>"
    assert message["Subject"] == "We could not take your idea from your email"


def test_an_email_has_a_text_and_an_html_part_and_our_headers() -> None:
    message = email_to("Nadia Nurse")
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part for part in message.get_payload()}  # type: ignore[union-attr]
    assert set(parts) == {"text/plain", "text/html"}
    assert STATUS_URL in parts["text/plain"].get_payload(decode=True).decode()
    assert message["Subject"] == f"[{REFERENCE}] Reviewers are looking at your idea"
    assert message["From"] == "Ideahub <hub@example.gov.uk>"
    assert message["Message-ID"] == f"<key1.{REFERENCE}@example.gov.uk>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] == f"<{STOP_URL}>"
    assert getaddresses(message.get_all("To")) == [("Nadia Nurse", "jo@example.gov.uk")]


# --- overrides ----------------------------------------------------------------------------------------------------


def test_a_template_in_the_override_folder_replaces_ours_and_the_rest_still_comes_from_the_package(
    tmp_path: Path,
) -> None:
    (tmp_path / "submitter").mkdir()
    (tmp_path / "submitter" / "received.txt").write_text(
        "{% block subject %}Thanks from the council{% endblock %}\nOur own words about {{ title }}.\n",
        encoding="utf-8",
    )
    env = environment(tmp_path)

    subject, text, html = render(env, "submitter/received", context_for("submitter/received"), reference=REFERENCE)
    assert subject == f"[{REFERENCE}] Thanks from the council"
    assert f"Our own words about {TITLE}." in text
    assert "Thank you for your idea" not in text
    # No .html in the folder: the package's is used, under the new subject.
    assert "This link is secret" in html
    assert f"<title>{subject}</title>" in html
    ours_subject, _, ours_html = rendered("submitter/received")
    assert html.replace(subject, "") == ours_html.replace(ours_subject, "")

    # Another message is ours entirely.
    assert render(env, "submitter/in_review", context_for("submitter/in_review"), reference=REFERENCE) == rendered(
        "submitter/in_review"
    )


def test_an_override_without_a_subject_is_refused_rather_than_sent_without_one(tmp_path: Path) -> None:
    (tmp_path / "submitter").mkdir()
    (tmp_path / "submitter" / "in_review.txt").write_text("No subject here about {{ title }}.\n", encoding="utf-8")
    with pytest.raises(LookupError, match="subject"):
        render(environment(tmp_path), "submitter/in_review", context_for("submitter/in_review"), reference=REFERENCE)


HEADER_VALUES = [
    "[IH-2026-000123] We have your idea",
    "[IH-2026-000123] " + "A long title that goes on " * 6,
    "[IH-2026-000123] " + "A long title that goes on and" * 6,
    "<00479359-d8d6-45c3-a23f-1363cb4be8a9-85285065ea38872d.IH-2026-000122@localhost>",
    "[IH-2026-000123] Idée: réduire l'attente",
    "Two  spaces inside",
    " a leading space",
    "a trailing space ",
    "tab\there",
    "line\nbreak: Bcc: someone@example.com",
    "",
]


@pytest.mark.parametrize("value", HEADER_VALUES)
def test_the_short_cut_for_plain_headers_writes_exactly_what_compat32_writes(value: str) -> None:
    """Notify's email policy skips compat32's folding for short plain ASCII headers; the bytes must not change."""
    import email.errors
    import email.policy
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    from services.notify.render import _POLICY

    def built(policy: email.policy.Compat32) -> str:
        message = MIMEMultipart("alternative", boundary="=_fixed", policy=policy)
        for name in ("Subject", "X-Ideahub-Test"):
            message[name] = value
        message.attach(MIMEText("Body.\n", "plain", "utf-8", policy=policy))
        return message.as_string()

    try:
        expected = built(email.policy.compat32)
    except email.errors.HeaderParseError:  # an injected header: refused by both
        with pytest.raises(email.errors.HeaderParseError):
            built(_POLICY)
        return
    assert built(_POLICY) == expected


# --- the message, against the email package's own ---------------------------------------------------------------


def stdlib_email(boundary: str, date: str, **fields: Any) -> str:
    """What `build_email` writes, built with `email.mime` and flattened by its generator (as it once was)."""
    from email.charset import QP, Charset
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import formataddr, parseaddr

    from services.notify.render import _POLICY

    utf8_qp = Charset("utf-8")
    utf8_qp.body_encoding = QP
    message = MIMEMultipart("alternative", boundary=boundary, policy=_POLICY)
    message["Subject"] = fields["subject"]
    message["From"] = fields["mail_from"]
    name = " ".join(str(fields["recipient_name"] or "").split())
    message["To"] = formataddr((name, parseaddr(fields["recipient"])[1]), charset="utf-8")
    message["Date"] = date
    message["Message-ID"] = fields["message_id"]
    message["Auto-Submitted"] = "auto-generated"
    for header, value in (fields["headers"] or {}).items():
        message[header] = value
    message.attach(MIMEText(fields["text"], "plain", utf8_qp, policy=_POLICY))  # type: ignore[arg-type]
    message.attach(MIMEText(fields["html"], "html", utf8_qp, policy=_POLICY))  # type: ignore[arg-type]
    return message.as_string()


@pytest.fixture
def fixed_boundary_and_date(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    from datetime import UTC, datetime
    from email.utils import format_datetime

    from services.notify import render as render_module

    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    monkeypatch.setattr(render_module.secrets, "token_hex", lambda _n: "0123456789abcdef01234567")
    monkeypatch.setattr(render_module, "utcnow", lambda: now)
    return "=_0123456789abcdef01234567", format_datetime(now)


@pytest.mark.parametrize("template", sorted(CONTEXTS))
@pytest.mark.parametrize("recipient_name", ["Nadia Nurse", "Zoë Ångström-Łukasz", None])
def test_every_message_is_written_exactly_as_the_email_package_writes_it(
    template: str, recipient_name: str | None, fixed_boundary_and_date: tuple[str, str]
) -> None:
    subject, text, html = rendered(template)
    fields: dict[str, Any] = {
        "mail_from": "Ideahub <hub@example.gov.uk>",
        "recipient": "jo@example.gov.uk",
        "recipient_name": recipient_name,
        "subject": subject,
        "text": text,
        "html": html,
        "message_id": message_id("key1", REFERENCE, "Ideahub <hub@example.gov.uk>"),
        "headers": {"Reply-To": "ideas@example.gov.uk", "List-Unsubscribe": f"<{STOP_URL}>"},
    }
    assert build_email(**fields) == stdlib_email(*fixed_boundary_and_date, **fields)


AWKWARD_TEXTS = [
    "",
    "no line end",
    "a trailing space \nand a tab\t\n",
    ".\nA lone dot above, as SMTP would end a message on it.\n",
    "From the start of a line\n",
    "= signs == everywhere =\n",
    "x" * 75 + "=\n" + "y" * 200 + "\n",
    "é" * 100 + "\n" + "€…✓ " * 30 + "\n",
    "Windows\r\nline ends\r\nand a lone\rCR\n",
    "control \x00\x07\x0b\x0c\x1b characters and \u2028 a line separator\n",
    "--=_0123456789abcdef01234567\nthe boundary itself\n",
]


@pytest.mark.parametrize("content", AWKWARD_TEXTS)
def test_awkward_text_comes_back_unchanged_from_a_7_bit_message_of_short_lines(
    content: str, fixed_boundary_and_date: tuple[str, str]
) -> None:
    fields: dict[str, Any] = {
        "mail_from": "Ideahub <hub@example.gov.uk>",
        "recipient": "jo@example.gov.uk",
        "recipient_name": "Jo",
        "subject": "[IH-2026-000123] Awkward",
        "text": content,
        "html": f"<p>{content}</p>",
        "message_id": "<k@example.gov.uk>",
        "headers": None,
    }
    raw = build_email(**fields)
    assert raw.isascii()
    assert max(len(line) for line in raw.split("\n")) <= 76
    parsed = email.message_from_string(raw)
    reference = email.message_from_string(stdlib_email(*fixed_boundary_and_date, **fields))
    assert parsed.items() == reference.items()
    parts = parsed.get_payload()
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]  # type: ignore[union-attr]
    # Line ends come back as \n, as the email package also writes them; nothing else changes.
    unix = content.replace("\r\n", "\n").replace("\r", "\n")
    decoded = [part.get_payload(decode=True).decode("utf-8") for part in parts]  # type: ignore[union-attr]
    assert decoded == [unix, f"<p>{unix}</p>"]


@pytest.mark.parametrize(
    "mailbox",
    [
        "staff1@bench.example.gov.uk",
        "o'brien+ideas@example.gov.uk",
        "Ideahub <ideahub@localhost>",
        '"Smith, Jo" <jo@example.gov.uk>',
        "jo@example.gov.uk (Jo Smith)",
        "not an address",
        "a@b@c",
    ],
)
def test_the_bare_address_of_a_mailbox_is_what_the_email_package_finds(mailbox: str) -> None:
    from email.utils import parseaddr

    from services.notify.render import address_of

    assert address_of(mailbox) == parseaddr(mailbox)[1]

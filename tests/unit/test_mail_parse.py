"""Reading an email into an idea or a reply: `services/intake/mail.py`, on real MIME.

Messages are built with `email.message.EmailMessage` where a client would build them
that way, and written out byte by byte where the point is what a hostile or broken
sender puts on the wire.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from services.intake.mime import (
    Parsed,
    Unusable,
    html_to_text,
    one_line,
    parse,
    reference_in,
    safe_filename,
    sections,
    submission_of,
    title_of,
    without_quotes,
)
from shared.config import Settings, load_settings

SENDER = "nadia.nurse@example.gov.uk"
PDF = b"%PDF-1.4\n% a small pdf\n"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        data_dir=tmp_path_factory.mktemp("mail"),
        max_attachments=2,
        max_attachment_bytes=1000,
        departments=["Health", "Housing", "Other"],
    )


def message(
    body: str | None = "Patients miss appointments.\n\nText them two days before.", **headers: str
) -> EmailMessage:
    m = EmailMessage()
    m["From"] = headers.pop("From", f"Nadia Nurse <{SENDER}>")
    m["To"] = "ideas@example.gov.uk"
    m["Subject"] = headers.pop("Subject", "Text reminders for clinic appointments")
    m["Message-ID"] = headers.pop("Message_ID", "<m1.abc@mail.example.gov.uk>")
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    if body is not None:
        m.set_content(body)
    return m


def read(settings: Settings, raw: bytes | EmailMessage, **kwargs: str) -> Parsed:
    data = raw.as_bytes(policy=SMTP) if isinstance(raw, EmailMessage) else raw
    return parse(data, settings=settings, **kwargs)


def crlf(text: str) -> bytes:
    """Hand-written wire bytes: LF in the source, CRLF on the wire."""
    return text.replace("\n", "\r\n").encode("latin-1")


# --- a plain idea ---------------------------------------------------------------------------------------------------


def test_a_plain_email_becomes_an_idea_with_its_subject_as_title_and_first_paragraph_as_problem(
    settings: Settings,
) -> None:
    parsed = read(settings, message())
    assert parsed.message_id == "<m1.abc@mail.example.gov.uk>"
    assert (parsed.sender, parsed.sender_name) == (SENDER, "Nadia Nurse")
    assert parsed.automatic is None
    submission = submission_of(parsed, settings)
    assert submission.title == "Text reminders for clinic appointments"
    assert submission.problem == "Patients miss appointments."
    assert submission.idea == "Patients miss appointments.\n\nText them two days before."
    assert (submission.name, submission.email, submission.anonymous) == ("Nadia Nurse", SENDER, False)
    assert submission.department is None


def test_labelled_sections_fill_their_fields_and_the_department_is_matched_without_case(settings: Settings) -> None:
    body = (
        "Hello,\n\nProblem: Patients miss appointments.\nMany of them.\n\n"
        "Idea: Text them two days before.\nBenefit: Fewer missed slots.\n"
        "department: health\nTheme: Digital\nAnonymous: yes\n"
    )
    submission = submission_of(read(settings, message(body)), settings)
    assert submission.problem == "Patients miss appointments.\nMany of them."
    assert submission.idea == "Text them two days before."
    assert submission.benefit == "Fewer missed slots."
    assert (submission.department, submission.theme, submission.anonymous) == ("Health", "Digital", True)


def test_labels_for_the_details_only_leave_the_rest_as_the_idea() -> None:
    preamble, found = sections("We should text patients.\n\nMore words.\nDepartment: Housing\nAnonymous: no")
    assert preamble == "We should text patients.\n\nMore words."
    assert found == {"department": "Housing", "anonymous": "no"}


def test_details_without_an_idea_are_refused(settings: Settings) -> None:
    with pytest.raises(Unusable, match="could not find your idea"):
        submission_of(read(settings, message("Department: Health\nTheme: Digital")), settings)


def test_an_unknown_department_is_refused_naming_the_ones_there_are(settings: Settings) -> None:
    with pytest.raises(Unusable, match=r'department "Space": write one of Health, Housing, Other'):
        submission_of(read(settings, message("An idea.\nDepartment: Space")), settings)


def test_an_anonymity_answer_that_is_neither_yes_nor_no_is_refused_rather_than_guessed(settings: Settings) -> None:
    with pytest.raises(Unusable, match="write yes or no"):
        submission_of(read(settings, message("An idea.\nAnonymous: please")), settings)


def test_a_theme_wider_than_its_column_is_refused_rather_than_failing_to_store(settings: Settings) -> None:
    with pytest.raises(Unusable, match=r"the theme is too long \(at most 100 characters\)"):
        submission_of(read(settings, message("An idea.\nTheme: " + "digital " * 20)), settings)


def test_an_idea_over_ten_thousand_characters_is_refused_in_plain_words(settings: Settings) -> None:
    with pytest.raises(Unusable, match=r"the idea is too long \(at most 10,000 characters\)"):
        submission_of(read(settings, message("word " * 2500)), settings)


def test_a_sender_address_that_is_not_one_is_refused(settings: Settings) -> None:
    with pytest.raises(Unusable, match="your email address"):
        submission_of(read(settings, message(From="Nadia <not-an-address>")), settings)


# --- the title ------------------------------------------------------------------------------------------------------


def test_encoded_words_in_the_subject_and_name_are_decoded(settings: Settings) -> None:
    raw = crlf(
        "From: =?iso-8859-1?q?Ren=E9e_Lef=E8vre?= <renee@example.gov.uk>\n"
        "Subject: =?utf-8?b?Q2Fmw6kgcmVtaW5kZXJz?= =?utf-8?q?_f=C3=BCr_Patienten?=\n"
        "Message-ID: <enc@x>\n\nBody.\n"
    )
    parsed = read(settings, raw)
    assert parsed.subject == "Café reminders für Patienten"
    assert parsed.sender_name == "Renée Lefèvre"


def test_a_folded_subject_is_one_line(settings: Settings) -> None:
    raw = crlf(
        "From: a@example.org\nSubject: Text reminders\n\tfor clinic\n  appointments\nMessage-ID: <f@x>\n\nBody.\n"
    )
    assert read(settings, raw).subject == "Text reminders for clinic appointments"


def test_a_long_subject_is_cut_at_a_word_with_an_ellipsis() -> None:
    title = title_of("Reminders " * 40, "")
    assert len(title) <= 200
    assert title.endswith("Reminders…")
    assert title_of("A" * 300, "").endswith("…")
    assert len(title_of("A" * 300, "")) == 200


def test_reply_and_forward_prefixes_are_not_part_of_the_title() -> None:
    assert title_of("Fwd: RE: Fw: Text reminders", "") == "Text reminders"
    assert title_of("AW: Text reminders", "") == "Text reminders"


def test_without_a_subject_the_first_line_of_the_text_is_the_title(settings: Settings) -> None:
    submission = submission_of(
        read(settings, message("Text patients before appointments\n\nMore.", Subject="")), settings
    )
    assert submission.title == "Text patients before appointments"


def test_no_subject_and_no_text_cannot_become_an_idea(settings: Settings) -> None:
    with pytest.raises(Unusable, match="could not find any text"):
        submission_of(read(settings, message("", Subject="")), settings)


# --- charsets -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("iso-8859-1", "Les rendez-vous manqués coûtent cher."),
        ("windows-1252", "The \u201cmissed\u201d appointments \u2013 a cost."),
        ("shift_jis", "予約の受診忘れを減らす"),
        ("utf-8", "Zażółć gęślą jaźń"),
        ("koi8-r", "Пропущенные приёмы"),
    ],
)
def test_a_body_in_any_common_charset_is_read(settings: Settings, charset: str, text: str) -> None:
    raw = (
        crlf(
            f"From: a@example.org\nSubject: Charset\nMessage-ID: <{charset}@x>\nMIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n\n"
        )
        + text.encode(charset)
        + b"\r\n"
    )
    assert read(settings, raw).text == text


def test_windows_1252_quotes_declared_as_latin_1_are_read_as_browsers_read_them(settings: Settings) -> None:
    raw = crlf("From: a@example.org\nSubject: q\nContent-Type: text/plain; charset=iso-8859-1\n\n") + b"\x93yes\x94\r\n"
    assert read(settings, raw).text == "\u201cyes\u201d"


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/plain; charset=x-unheard-of", "naïve".encode(), "naïve"),  # unknown charset: UTF-8
        ("text/plain", "naïve".encode(), "naïve"),  # undeclared 8-bit
        ("text/plain; charset=utf-8", b"na\xefve", "naïve"),  # declared wrongly
        ("text/plain; charset=us-ascii", b"caf\xe9", "café"),
    ],
)
def test_an_undecodable_or_mislabelled_part_is_read_as_well_as_it_can_be(
    settings: Settings, content_type: str, body: bytes, expected: str
) -> None:
    raw = crlf(f"From: a@example.org\nSubject: c\nContent-Type: {content_type}\n\n") + body + b"\r\n"
    assert read(settings, raw).text == expected


def test_a_quoted_printable_body_and_format_flowed_are_undone(settings: Settings) -> None:
    raw = crlf(
        "From: a@example.org\nSubject: qp\nContent-Type: text/plain; charset=utf-8; format=flowed\n"
        "Content-Transfer-Encoding: quoted-printable\n\nText patients two =\ndays before =C3=A9 \nthe visit.\n"
        "\n> quoted \n> stays\n"
    )
    assert read(settings, raw).text == "Text patients two days before é the visit.\n\n> quoted\n> stays"


# --- HTML -----------------------------------------------------------------------------------------------------------


def test_the_text_of_an_html_body_keeps_paragraphs_and_drops_script_and_style(settings: Settings) -> None:
    m = message(None)
    m.set_content(
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<p>Patients miss <b>appointments</b> &amp; slots.</p><script>alert(1)</script>"
        "<div>Text them<br>two days before.</div><ul><li>cheap</li><li>quick</li></ul></body></html>",
        subtype="html",
    )
    parsed = read(settings, m)
    assert parsed.text == "Patients miss appointments & slots.\n\nText them\ntwo days before.\n\n- cheap\n- quick"
    submission = submission_of(parsed, settings)
    assert submission.problem == "Patients miss appointments & slots."
    assert "alert" not in submission.idea
    assert "color" not in submission.idea


def test_quoted_html_is_marked_as_a_quote() -> None:
    html = "<div>Yes, three.</div><div>On Monday, Hub wrote:</div><blockquote><p>How many?</p><p>Say.</p></blockquote>"
    assert html_to_text(html) == "Yes, three.\n\nOn Monday, Hub wrote:\n\n> How many?\n\n> Say."


def test_plain_text_is_preferred_to_html_but_an_empty_plain_part_is_not(settings: Settings) -> None:
    m = message("The plain words.")
    m.add_alternative("<p>The <i>HTML</i> words.</p>", subtype="html")
    assert read(settings, m).text == "The plain words."
    m = message(" \n")
    m.add_alternative("<p>The <i>HTML</i> words.</p>", subtype="html")
    assert read(settings, m).text == "The HTML words."


# --- structure ------------------------------------------------------------------------------------------------------


def test_nested_multiparts_give_the_text_and_the_files_but_not_pictures_inside_the_html(settings: Settings) -> None:
    m = message("The plain words.")
    m.add_alternative("<p>The HTML words.<img src='cid:logo@x'></p>", subtype="html")
    html_part = m.get_payload()[1]
    html_part.add_related(b"\x89PNG logo", maintype="image", subtype="png", cid="<logo@x>")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="plan.pdf")
    assert m.get_content_type() == "multipart/mixed"
    parsed = read(settings, m)
    assert parsed.text == "The plain words."
    assert [(a.filename, a.content_type, a.content) for a in parsed.attachments] == [
        ("plan.pdf", "application/pdf", PDF)
    ]
    assert parsed.attachments_refused == []


def test_a_forwarded_message_is_the_idea_when_nothing_is_said_around_it(settings: Settings) -> None:
    inner = message("The forwarded idea.\n\nIn two paragraphs.", Subject="Text reminders", Message_ID="<inner@x>")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="inner.pdf")
    outer = message(None, Subject="Fwd:")
    outer.add_attachment(inner)  # message/rfc822
    parsed = read(settings, outer)
    assert parsed.text == "The forwarded idea.\n\nIn two paragraphs."
    assert parsed.subject == "Text reminders"
    assert [a.filename for a in parsed.attachments] == ["inner.pdf"]
    assert parsed.message_id == "<m1.abc@mail.example.gov.uk>"  # the outer message is the one we were sent


def test_a_forwarded_message_with_words_around_it_keeps_the_outer_words(settings: Settings) -> None:
    outer = message("My own words.", Subject="Fwd: Text reminders")
    outer.add_attachment(message("Forwarded words.", Message_ID="<inner2@x>"))
    parsed = read(settings, outer)
    assert parsed.text == "My own words."
    assert parsed.subject == "Fwd: Text reminders"


def test_a_multipart_message_without_its_boundary_parameter_is_still_read(settings: Settings) -> None:
    raw = crlf(
        "From: a@example.org\nSubject: No boundary\nMIME-Version: 1.0\nContent-Type: multipart/mixed\n\n"
        "--frontier\nContent-Type: text/plain\n\nThe idea in the first part.\n"
        "--frontier\nContent-Type: application/pdf; name=plan.pdf\nContent-Transfer-Encoding: base64\n\n"
        "JVBERi0xLjQK\n--frontier--\n"
    )
    parsed = read(settings, raw)
    assert parsed.broken is None
    assert parsed.text == "The idea in the first part."
    assert [(a.filename, a.content) for a in parsed.attachments] == [("plan.pdf", b"%PDF-1.4\n")]


def test_a_multipart_message_with_no_parts_at_all_is_read_as_its_text(settings: Settings) -> None:
    raw = crlf("From: a@example.org\nSubject: s\nContent-Type: multipart/mixed\n\nJust words, really.\n")
    assert read(settings, raw).text == "Just words, really."


def test_a_broken_base64_part_does_not_stop_the_message_being_read(settings: Settings) -> None:
    raw = crlf(
        "From: a@example.org\nSubject: Broken\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        "VGhlIGlkZWEu!!!\n"
        "--b\nContent-Type: application/pdf; name=x.pdf\nContent-Transfer-Encoding: base64\n\n%%%%\n--b--\n"
    )
    parsed = read(settings, raw)
    assert parsed.text.startswith("The idea")
    assert parsed.attachments_refused == ["x.pdf (it is empty)"]


def test_garbage_is_not_an_exception(settings: Settings) -> None:
    for raw in (b"", b"\x00\xff" * 50, b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n", b"From: <>\r\n\r\n"):
        parsed = read(settings, raw)
        with pytest.raises(Unusable):
            submission_of(parsed, settings)


def test_parts_nested_too_deep_to_read_still_give_the_sender_to_answer(settings: Settings) -> None:
    raw = crlf("From: Nadia <nadia@example.gov.uk>\nSubject: Deep\nMessage-ID: <deep@x>\n")
    raw += crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b0\n\n")
    for depth in range(3000):
        raw += crlf(f"--b{depth}\nContent-Type: multipart/mixed; boundary=b{depth + 1}\n\n")
    parsed = read(settings, raw + crlf("--b3000\nContent-Type: text/plain\n\nHidden.\n"))
    assert (parsed.sender, parsed.message_id, parsed.subject) == ("nadia@example.gov.uk", "<deep@x>", "Deep")
    assert parsed.broken == "it could not be read as an email"
    assert parsed.text == ""


def test_control_characters_never_reach_the_text(settings: Settings) -> None:
    raw = crlf("From: a@example.org\nSubject: c\nContent-Type: text/plain\n\n") + b"An\x00 idea\x07 here\x1b.\r\n"
    assert read(settings, raw).text == "An idea here."


# --- attachments ----------------------------------------------------------------------------------------------------


def test_attachments_within_the_limits_are_kept_and_the_others_named_with_the_reason(settings: Settings) -> None:
    m = message("With files.")
    m.add_attachment(b"MZ\x90\x00", maintype="application", subtype="x-msdownload", filename="virus.exe")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="plan.pdf")
    m.add_attachment(b"x" * 1001, maintype="application", subtype="pdf", filename="big.pdf")
    m.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="figures.csv")
    m.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="third.png")
    m.add_attachment(b"MZ", maintype="application", subtype="pdf", filename="disguised.exe")
    m.add_attachment(PDF, maintype="application", subtype="octet-stream", filename="sent-as-bytes.pdf")
    parsed = read(settings, m)
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("plan.pdf", "application/pdf"),
        ("figures.csv", "text/csv"),
    ]
    assert parsed.attachments_refused == [
        "virus.exe (this type of file is not accepted)",
        "big.pdf (it is larger than 1 KB)",
        "third.png (we keep at most 2 files from one email)",
        "disguised.exe (this type of file is not accepted)",
        "sent-as-bytes.pdf (we keep at most 2 files from one email)",
    ]


def test_a_file_sent_as_bytes_is_judged_by_its_name(settings: Settings) -> None:
    m = message("One file.")
    m.add_attachment(PDF, maintype="application", subtype="octet-stream", filename="plan.pdf")
    (attachment,) = read(settings, m).attachments
    assert attachment.content_type == "application/pdf"


def test_an_email_with_files_and_no_text_is_refused_saying_so(settings: Settings) -> None:
    m = message(None)
    m.make_mixed()
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="idea.pdf")
    with pytest.raises(Unusable, match="files but no text"):
        submission_of(read(settings, m), settings)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Windows\\System32\\evil.pdf", "evil.pdf"),
        ("re\x00port\r\n.pdf", "report.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # no right-to-left override to disguise the extension
        ("  .hidden.pdf  ", "hidden.pdf"),
        ("", "attachment-3.pdf"),
        (None, "attachment-3.pdf"),
        ("a" * 300 + ".pdf", "a" * 146 + ".pdf"),
    ],
)
def test_a_hostile_filename_is_made_safe(name: str | None, expected: str) -> None:
    assert safe_filename(name, "application/pdf", 3) == expected


def test_a_hostile_filename_in_a_message_is_made_safe(settings: Settings) -> None:
    raw = crlf(
        "From: a@example.org\nSubject: f\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nWords.\n"
        '--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="../../x\\\\..\\\\y.pdf"\n'
        "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"
        "--b\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment; filename*=utf-8''%2E%2E%2F%2E%2E%2Fr%C3%A9sum%C3%A9%0D%0A.pdf\n"
        "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"
    )
    assert [a.filename for a in read(settings, raw).attachments] == ["y.pdf", "résumé.pdf"]


# --- header injection -----------------------------------------------------------------------------------------------


def test_an_encoded_line_break_in_the_subject_or_name_stays_on_one_line(settings: Settings) -> None:
    raw = crlf(
        "From: =?utf-8?q?Mallory=0D=0ABcc:_victim@example.org?= <mallory@example.org>\n"
        "Subject: =?utf-8?q?Idea=0D=0ABcc:_victim@example.org=0ATo:_x?=\n"
        "Message-ID: <inj@x>\n\nThe idea.\n"
    )
    parsed = read(settings, raw)
    assert parsed.subject == "Idea Bcc: victim@example.org To: x"
    assert parsed.sender == "mallory@example.org"
    assert parsed.sender_name == "Mallory Bcc: victim@example.org"
    submission = submission_of(parsed, settings)
    for value in (submission.title, submission.name):
        assert "\r" not in value
        assert "\n" not in value


@pytest.mark.parametrize(
    "header",
    ["Message-ID: not-an-id", "Message-ID: <a b@x>", "Message-ID: <>", "Message-ID: <a\x01b@x>"],
)
def test_a_message_id_that_is_not_one_is_not_kept_and_the_raw_bytes_name_the_message(
    settings: Settings, header: str
) -> None:
    raw = crlf(f"From: a@example.org\nSubject: s\n{header}\n\nWords.\n")
    parsed = read(settings, raw)
    assert parsed.message_id is None
    assert parsed.key == hashlib.sha256(raw).hexdigest()


def test_an_encoded_line_break_in_a_message_id_is_never_decoded_into_one(settings: Settings) -> None:
    raw = crlf("From: a@example.org\nSubject: s\nMessage-ID: =?utf-8?q?<a=0D=0Ab@x>?=\n\nWords.\n")
    assert read(settings, raw).message_id == "<a=0D=0Ab@x>"  # taken literally: encoded words have no place there


def test_the_key_of_a_message_is_the_digest_of_its_message_id(settings: Settings) -> None:
    first = read(settings, message("One text."))
    second = read(settings, message("Another text, same Message-ID."))
    assert first.key == second.key == hashlib.sha256(b"<m1.abc@mail.example.gov.uk>").hexdigest()


def test_one_line_removes_every_kind_of_line_break() -> None:
    assert one_line("a\r\nb\nc\rd\x0be\x0cf\x85g\u2028h\u2029i\x00j") == "a b c d e f g h i j"


# --- loops ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "envelope_from", "why"),
    [
        ({"Auto_Submitted": "auto-replied"}, None, "Auto-Submitted: auto-replied"),
        ({"Auto_Submitted": "auto-generated; owner-email=x@y"}, None, "Auto-Submitted: auto-generated"),
        ({"Precedence": "bulk"}, None, "Precedence: bulk"),
        ({"Precedence": "junk"}, None, "Precedence: junk"),
        ({"Precedence": "list"}, None, "Precedence: list"),
        ({"X_Autoreply": "yes"}, None, "X-Autoreply header"),
        ({"X_Autorespond": "Out of office"}, None, "X-Autorespond header"),
        ({}, "<>", "empty envelope sender"),
        ({}, "", "empty envelope sender"),
        ({"Return_Path": "<>"}, None, "empty Return-Path"),
        ({"From": "Mail Delivery System <MAILER-DAEMON@mx.example.org>"}, None, "sent by a mail system"),
        ({"From": "postmaster@example.org"}, None, "sent by a mail system"),
    ],
)
def test_auto_replies_and_bounces_are_recognised(
    settings: Settings, headers: dict[str, str], envelope_from: str | None, why: str
) -> None:
    kwargs = {"envelope_from": envelope_from} if envelope_from is not None else {}
    assert read(settings, message(**headers), **kwargs).automatic == why


def test_a_delivery_report_is_recognised(settings: Settings) -> None:
    raw = crlf(
        "From: someone@example.org\nSubject: Undelivered\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
        "--r\nContent-Type: text/plain\n\nCould not deliver.\n--r--\n"
    )
    assert read(settings, raw, envelope_from="someone@example.org").automatic == "a delivery or read report"


def test_a_person_s_email_is_not_automatic(settings: Settings) -> None:
    assert read(settings, message(Auto_Submitted="no"), envelope_from=SENDER).automatic is None


# --- replies --------------------------------------------------------------------------------------------------------


def test_a_reply_is_about_the_idea_whose_reference_our_message_id_carries(settings: Settings) -> None:
    ours = "<0f3e-1234abcd.IH-2026-000123@ideas.example.gov.uk>"
    assert reference_in(read(settings, message(In_Reply_To=ours, Subject="Re: something"))) == "IH-2026-000123"
    references = f"<first@elsewhere> {ours} <later@elsewhere>"
    assert reference_in(read(settings, message(References=references, Subject="Hello"))) == "IH-2026-000123"


def test_a_reply_is_about_the_reference_in_its_subject(settings: Settings) -> None:
    parsed = read(settings, message(Subject="Re: [ih-2026-000042] Your idea needs more information"))
    assert reference_in(parsed) == "IH-2026-000042"
    assert reference_in(read(settings, message(Subject="No reference, IH-26-1"))) is None


def test_the_quoted_part_of_a_reply_is_left_out() -> None:
    text = (
        "Three clinics would take part.\n\nNadia\n\n"
        "On Mon, 7 Dec 2026 at 10:00, Ideahub <ideas@example.gov.uk> wrote:\n"
        "> A reviewer has a question about your idea.\n>\n> How many clinics?\n"
    )
    assert without_quotes(text) == "Three clinics would take part.\n\nNadia"


def test_an_attribution_wrapped_onto_two_lines_and_answers_between_quotes_are_handled() -> None:
    text = (
        "On Mon, 7 Dec 2026 at 10:00, Ideahub <\nideas@example.gov.uk> wrote:\n"
        "> How many clinics?\nThree.\n> And when?\nIn spring.\n"
    )
    assert without_quotes(text) == "Three.\nIn spring."


def test_an_outlook_quote_and_a_signature_are_left_out() -> None:
    assert without_quotes("Three.\n\n-----Original Message-----\nFrom: Ideahub\nHow many?") == "Three."
    assert without_quotes("Three.\n\n________________________________\nFrom: Ideahub") == "Three."
    assert without_quotes("Three.\n-- \nNadia Nurse, Ward 5") == "Three."


def test_a_reply_that_is_only_a_quote_has_no_words_of_its_own() -> None:
    assert without_quotes("On Mon, Hub wrote:\n> How many?\n") == ""


def test_a_labelled_email_as_a_client_sends_it(settings: Settings) -> None:
    raw = crlf(
        "From: Nadia Nurse <nadia.nurse@example.gov.uk>\nTo: ideas@example.gov.uk\n"
        "Subject: Text reminders for clinic appointments\nMessage-ID: <readme@example.gov.uk>\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "Problem: Patients miss clinic appointments.\nIdea: Send a text two days before.\n"
        "Benefit: Fewer missed appointments.\nDepartment: Health\n"
    )
    submission = submission_of(read(settings, raw), settings)
    assert (submission.problem, submission.idea, submission.benefit, submission.department) == (
        "Patients miss clinic appointments.",
        "Send a text two days before.",
        "Fewer missed appointments.",
        "Health",
    )

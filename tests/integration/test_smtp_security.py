"""Outgoing mail over STARTTLS and implicit TLS, with login, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from infra.composition import Runtime
from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from services.notify.handlers import handle_event, notifier_for
from shared.config import load_settings
from shared.db.migrate import upgrade
from shared.db.models import Notification, OutboxMessage
from shared.db.uow import unit_of_work
from tests.conftest import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.logins: list[tuple[bytes, bool]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"

    def authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        good = (data.login, data.password) in {(b"hub", b"s3cret pass"), ("hub", "s3cret pass")}
        self.logins.append((bytes(data.login if isinstance(data.login, bytes) else data.login.encode()), good))
        return AuthResult(success=good)


@pytest.fixture
def certificates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 from a throwaway CA that the client is told to trust."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # read by ssl.create_default_context()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    return server_context


def serve(inbox: Inbox, port: int, **tls: object) -> Controller:
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_required=True,
        **tls,  # type: ignore[arg-type]
    )
    controller.start()
    return controller


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


def acknowledge(tmp_path: Path, smtp_url: str) -> tuple[str, str | None]:
    """Submit an idea, let notify handle its event; the acknowledgement's state and error."""
    settings = load_settings(data_dir=tmp_path / "data", smtp_url=smtp_url, notify_retry_seconds=60)
    upgrade(settings.effective_database_url)
    runtime = Runtime(settings)
    with unit_of_work(runtime.session_factory) as session:
        created = submit_idea(
            session,
            Submission(title="Over TLS", problem="P", idea="I", email="tls@example.gov.uk"),
            channel="api",
            departments=settings.departments,
        )
        payload = session.scalar(select(OutboxMessage.payload).where(OutboxMessage.idea_id == created.id))
    handle_event(notifier_for(settings, runtime.session_factory), json.loads(payload or "{}"))
    with unit_of_work(runtime.session_factory) as session:
        row = session.execute(select(Notification.state, Notification.error)).one()
    runtime.close()
    return row.state, row.error


def test_starttls_with_login_delivers_and_the_password_never_travels_in_clear(
    tmp_path: Path, certificates: ssl.SSLContext, inbox: Inbox
) -> None:
    port = free_port()
    controller = serve(inbox, port, tls_context=certificates, require_starttls=True, auth_require_tls=True)
    try:
        state, error = acknowledge(tmp_path, f"smtp+starttls://hub:s3cret%20pass@127.0.0.1:{port}")
    finally:
        controller.stop()
    assert (state, error) == ("sent", None)
    assert inbox.logins == [(b"hub", True)]
    assert len(inbox.messages) == 1
    assert b"We have your idea" in inbox.messages[0]


# aiosmtpd warns whenever auth_require_tls is off; here the whole connection is TLS, so the warning does not apply.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_with_login_delivers(tmp_path: Path, certificates: ssl.SSLContext, inbox: Inbox) -> None:
    port = free_port()
    # aiosmtpd offers AUTH only after STARTTLS unless told otherwise; this connection is TLS from the start.
    controller = serve(inbox, port, ssl_context=certificates, auth_require_tls=False)
    try:
        state, _ = acknowledge(tmp_path, f"smtps://hub:s3cret%20pass@127.0.0.1:{port}")
    finally:
        controller.stop()
    assert state == "sent"
    assert inbox.logins == [(b"hub", True)]
    assert len(inbox.messages) == 1

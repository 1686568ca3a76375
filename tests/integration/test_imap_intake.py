"""Email intake from a shared mailbox: a real dovecot, started by the test with its own configuration.

dovecot listens on 127.0.0.1 without TLS, with one user in a passwd file and a
maildir in a folder of its own. As root, dovecot will not run its login or mail
processes as root, so they run as `dovenull` and `nobody`; otherwise everything
runs as the current user. Once with MOVE, and once with a server that does not
offer it (COPY, \\Deleted and EXPUNGE).
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from sqlalchemy import select

from infra.composition import Runtime
from services.intake import mail
from services.intake.imap import Mailbox, Poller, quoted
from shared.config import Settings, load_settings
from shared.db.models import Idea, InboundMail, OutboxMessage
from shared.db.uow import unit_of_work
from tests.conftest import free_port, unavailable
from tests.helpers import start_component, wait_for

pytestmark = pytest.mark.processes

USER, PASSWORD = "intake", "s3cret pass"
PROCESSED = "Done Mail"  # a space, so that the name must be quoted


@dataclass
class Dovecot:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    move: bool  # whether the server offers MOVE (else the poller copies, flags \Deleted and expunges)

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{self.port}/INBOX"

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        client.login(USER, PASSWORD)
        return client

    def append(self, message: EmailMessage | bytes) -> None:
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=SMTP)
        client = self.client()
        try:
            assert client.append("INBOX", None, None, raw)[0] == "OK"
        finally:
            client.logout()

    def subjects(self, folder: str) -> list[str]:
        """The subjects in a folder, oldest first; [] if it does not exist."""
        client = self.client()
        try:
            if client.select(quoted(folder), readonly=True)[0] != "OK":
                return []
            _, (found,) = client.uid("SEARCH", "UNDELETED")  # type: ignore[misc]
            subjects = []
            for uid in (found or b"").split():
                _, data = client.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                header = next(item[1] for item in data if isinstance(item, tuple))
                subjects.append(header.decode().partition(":")[2].strip())
            return subjects
        finally:
            client.logout()


def _config(root: Path, port: int, *, move: bool) -> str:
    me = pwd.getpwuid(os.getuid())
    if os.getuid() == 0:  # dovecot refuses root for its login and mail processes
        internal, login, mail_user = "dovecot", "dovenull", pwd.getpwnam("nobody")
    else:
        internal, login, mail_user = me.pw_name, me.pw_name, me
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    for sub in ("mail", "home"):
        os.chown(root / sub, mail_user.pw_uid, mail_user.pw_gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    capability = "" if move else "imap_capability = IMAP4rev1 LITERAL+ IDLE\n"
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
first_valid_uid = 0
first_valid_gid = 0
mail_uid = {mail_user.pw_uid}
mail_gid = {mail_user.pw_gid}
mail_location = maildir:{root}/mail/%u
{capability}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


def _answers(port: int) -> bool:
    try:
        imaplib.IMAP4("127.0.0.1", port, timeout=2).logout()
    except OSError:
        return False
    return True


@pytest.fixture(params=["move", "copy-delete-expunge"])
def dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        unavailable("dovecot is not installed (Debian package dovecot-imapd)")
    # Outside pytest's private temporary folder: dovecot's own users must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="ideahub-dovecot-"))
    root.chmod(0o755)
    port = free_port()
    (root / "dovecot.conf").write_text(_config(root, port, move=request.param == "move"))
    process = subprocess.Popen(
        [binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_for(lambda: _answers(port) or process.poll() is not None, timeout=30, what="dovecot to listen")
        assert process.poll() is None, (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
        yield Dovecot(port, root, process, move=request.param == "move")
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def settings(sqlite_settings: Settings, dovecot: Dovecot) -> Settings:
    return load_settings(
        data_dir=sqlite_settings.data_dir,
        queue_prefix=sqlite_settings.queue_prefix,
        imap_url=dovecot.url,
        imap_processed_folder=PROCESSED,
        imap_poll_seconds=0.2,
        mail_rate_limit="2/hour",
        max_message_bytes=20_000,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


def an_email(
    sender: str, subject: str, body: str = "Patients miss appointments.\n\nText them.", **headers: str
) -> EmailMessage:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "ideas@example.gov.uk"
    m["Subject"] = subject
    m["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example.gov.uk>"
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return m


def titles(runtime: Runtime) -> list[str]:
    with unit_of_work(runtime.session_factory) as session:
        return sorted(session.scalars(select(Idea.title).where(Idea.channel == "email")))


def outcomes(runtime: Runtime) -> list[str]:
    with unit_of_work(runtime.session_factory) as session:
        return sorted(session.scalars(select(InboundMail.outcome)))


def test_one_poll_takes_each_message_in_and_moves_it_and_a_second_poll_makes_nothing_new(
    dovecot: Dovecot, settings: Settings, runtime: Runtime
) -> None:
    dovecot.append(an_email("nadia@example.gov.uk", "Text reminders"))
    dovecot.append(an_email("omar@example.gov.uk", "Brighter wards"))
    dovecot.append(an_email("away@example.gov.uk", "Out of office", Auto_Submitted="auto-replied"))
    dovecot.append(an_email("big@example.gov.uk", "Huge idea", body="A big idea. " * 2_000))  # over 20,000 bytes
    for n in range(3):  # two an hour from one sender: the third waits
        dovecot.append(an_email("eager@example.gov.uk", f"Eager idea {n}"))
    assert dovecot.subjects(PROCESSED) == []  # the folder does not exist yet
    poller = Poller(settings, runtime.session_factory)
    client = poller.connect()
    assert ("MOVE" in client.capabilities) is dovecot.move
    assert ("UIDPLUS" in client.capabilities) is dovecot.move
    client.logout()

    first = poller.poll()

    assert (first.taken, first.deferred) == (6, 1)
    assert titles(runtime) == ["Brighter wards", "Eager idea 0", "Eager idea 1", "Text reminders"]
    assert outcomes(runtime) == ["idea", "idea", "idea", "idea", "ignored", "refused"]
    assert dovecot.subjects("INBOX") == ["Eager idea 2"]
    assert sorted(dovecot.subjects(PROCESSED)) == sorted(
        ["Text reminders", "Brighter wards", "Out of office", "Huge idea", "Eager idea 0", "Eager idea 1"]
    )
    with unit_of_work(runtime.session_factory) as session:
        refusals = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.event_type == "mail.refused.v1"))
        (refusal,) = list(refusals)
    assert '"to":"big@example.gov.uk"' in refusal
    assert "larger than" in refusal

    second = poller.poll()

    assert (second.taken, second.deferred) == (0, 1)
    assert len(titles(runtime)) == 4
    assert dovecot.subjects("INBOX") == ["Eager idea 2"]


def test_a_message_taken_in_before_a_crash_but_not_moved_is_moved_without_a_second_idea(
    dovecot: Dovecot, settings: Settings, runtime: Runtime
) -> None:
    message = an_email("crash@example.gov.uk", "Taken but not moved")
    dovecot.append(message)
    # The poller committed this message and died before moving it.
    mail.take_in(runtime.session_factory, message.as_bytes(policy=SMTP), settings=settings)
    assert titles(runtime) == ["Taken but not moved"]

    done = Poller(settings, runtime.session_factory).poll()

    assert done.taken == 1
    assert titles(runtime) == ["Taken but not moved"]
    assert dovecot.subjects("INBOX") == []
    assert dovecot.subjects(PROCESSED) == ["Taken but not moved"]


def test_ideahub_imap_polls_until_sigterm_and_then_stops_cleanly(
    dovecot: Dovecot, settings: Settings, runtime: Runtime
) -> None:
    env = {
        "IDEAHUB_DATA_DIR": str(settings.data_dir),
        "IDEAHUB_QUEUE_PREFIX": settings.queue_prefix,
        "IDEAHUB_IMAP_URL": dovecot.url,
        "IDEAHUB_IMAP_PROCESSED_FOLDER": PROCESSED,
        "IDEAHUB_IMAP_POLL_SECONDS": "0.2",
    }
    process = start_component(settings.data_path, "imap", env, "imap")
    try:
        dovecot.append(an_email("later@example.gov.uk", "Arrives while polling"))
        wait_for(lambda: dovecot.subjects(PROCESSED) == ["Arrives while polling"], what="the message to be moved")
        assert titles(runtime) == ["Arrives while polling"]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, (settings.data_path / "imap.log").read_text()


def test_a_mailbox_that_refuses_the_login_is_tried_again_at_each_interval_until_stopped(
    dovecot: Dovecot, settings: Settings, runtime: Runtime
) -> None:
    wrong = load_settings(
        data_dir=settings.data_dir,
        queue_prefix=settings.queue_prefix,
        imap_url=dovecot.url.replace("s3cret", "wrong"),
        imap_poll_seconds=0.1,
    )
    poller = Poller(wrong, runtime.session_factory)
    with pytest.raises(imaplib.IMAP4.error):
        poller.poll()
    stop = threading.Event()
    loop = threading.Thread(target=poller.run, args=(stop,))
    loop.start()
    try:
        log = dovecot.folder / "dovecot.log"
        wait_for(lambda: log.read_text().count("auth failed") >= 3, what="the poller to try again")
        assert loop.is_alive()
    finally:
        stop.set()
        loop.join(timeout=30)
    assert not loop.is_alive()


@pytest.mark.parametrize(
    "url",
    ["http://user:pw@host/INBOX", "imap:///INBOX", "mailbox"],
)
def test_an_imap_url_that_is_not_one_is_a_clear_error(url: str) -> None:
    with pytest.raises(ValueError, match="IDEAHUB_IMAP_URL must look like"):
        Mailbox.from_url(url)


def test_an_imap_url_gives_its_parts() -> None:
    box = Mailbox.from_url("imaps://in%40take:p%20w@mail.example.org/Shared%20Ideas")
    assert box == Mailbox(True, "mail.example.org", 993, "in@take", "p w", "Shared Ideas")
    assert Mailbox.from_url("imap://u:p@localhost").port == 143
    assert Mailbox.from_url("imap://u:p@localhost").folder == "INBOX"


def test_ideahub_imap_answers_a_missing_or_wrong_mailbox_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}

    def ideahub(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "infra.cli", *args],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )

    missing = ideahub("imap")
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        "IDEAHUB_IMAP_URL is not set: say which mailbox to read.",
    )
    assert ideahub("db", "upgrade").returncode == 0
    wrong = ideahub("imap", "--once", IDEAHUB_IMAP_URL="pop3://u:p@mail.example.org/INBOX")
    assert wrong.returncode == 2
    assert "IDEAHUB_IMAP_URL must look like imap://" in wrong.stderr
    assert "Traceback" not in wrong.stderr

"""`ideahub up` on embedded defaults: one command runs everything, Ctrl-C stops it, a second run carries on."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import free_port
from tests.helpers import mails_about, wait_for

pytestmark = pytest.mark.e2e
# With one reviewer: the submitter's acknowledgement and in-review emails, and the reviewer's task.
EMAILS_PER_IDEA = ["Reviewers are looking at your idea", "We have your idea", "You have a new idea to review"]


def subjects(mail_dir: Path, reference: str) -> list[str]:
    return sorted(str(m["Subject"]).removeprefix(f"[{reference}] ") for m in mails_about(mail_dir, reference))


# Email intake's port for each web port a test uses (`up` starts both).
SMTP_PORTS: dict[int, int] = {}


def ideahub(folder: Path, port: int, *args: str, **popen: object) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    env |= {
        "IDEAHUB_HTTP_PORT": str(port),
        "IDEAHUB_SMTP_INTAKE_PORT": str(SMTP_PORTS.setdefault(port, free_port())),
        "IDEAHUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDEAHUB_REDIS_POLL_MS": "20",
    }
    return subprocess.Popen([sys.executable, "-m", "infra.cli", *args], cwd=folder, env=env, **popen)  # type: ignore[call-overload]


def run(folder: Path, port: int, *args: str) -> str:
    process = ideahub(folder, port, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode().strip()


def start_up(folder: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(folder / "up.log", "ab")
    process = ideahub(folder, port, "up", stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: _healthy(port) or process.poll() is not None, timeout=90, what="ideahub up to answer /healthz")
    assert process.poll() is None, (folder / "up.log").read_text()[-3000:]
    return process


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop_with_ctrl_c(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=90)


def children_of(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_ideahub_up_runs_everything_on_embedded_defaults_and_a_second_run_carries_on(tmp_path: Path) -> None:
    import psutil

    port = free_port()
    first = start_up(tmp_path, port)
    data = tmp_path / "var"
    children = children_of(first.pid)
    try:
        assert (data / "ideahub.db").exists()
        assert (data / "redis.sock").exists()
        run(tmp_path, port, "users", "add", "--email", "r1@example.gov.uk", "--name", "R One", "--role", "reviewer")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ideas",
            json={"title": "Kept across restarts", "problem": "P", "idea": "I", "email": "s@example.gov.uk"},
        )
        assert answer.status_code == 202, answer.text
        reference = answer.json()["reference"]
        status_url = answer.json()["status_url"].replace("/status/", "/api/v1/status/")
        wait_for(lambda: httpx.get(status_url).json()["status"] == "in_review", what="in_review")
        wait_for(lambda: len(list((data / "mail").glob("*.eml"))) == 3, what="three emails written")
        assert subjects(data / "mail", reference) == EMAILS_PER_IDEA
    finally:
        code = stop_with_ctrl_c(first)
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    assert not [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    with pytest.raises((redis.ConnectionError, FileNotFoundError)):
        redis.Redis(unix_socket_path=str(data / "redis.sock"), socket_timeout=1).ping()

    second = start_up(tmp_path, port)
    try:
        assert httpx.get(status_url).json()["status"] == "in_review"
        assert httpx.get(status_url).json()["reference"] == reference
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ideas",
            json={"title": "After the restart", "problem": "P", "idea": "I", "email": "s@example.gov.uk"},
        )
        assert answer.status_code == 202
        second_reference = answer.json()["reference"]
        assert second_reference != reference
        wait_for(lambda: len(list((data / "mail").glob("*.eml"))) == 6, what="the new idea's three emails")
        assert subjects(data / "mail", reference) == EMAILS_PER_IDEA
        assert subjects(data / "mail", second_reference) == EMAILS_PER_IDEA

        # A component that dies is restarted, and the restart is logged.
        (worker,) = [p for p in psutil.Process(second.pid).children() if "worker" in p.cmdline()]
        worker.kill()
        wait_for(lambda: "supervisor.restarting" in (tmp_path / "up.log").read_text(), what="the restart")
        restarted = wait_for(
            lambda: [p for p in psutil.Process(second.pid).children() if "worker" in p.cmdline()],
            what="a new worker process",
        )
        assert restarted[0].pid != worker.pid
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ideas",
            json={"title": "After a worker died", "problem": "P", "idea": "I", "email": "s@example.gov.uk"},
        )
        assert answer.status_code == 202
        wait_for(lambda: len(list((data / "mail").glob("*.eml"))) == 9, what="the emails after the restart")
        assert subjects(data / "mail", answer.json()["reference"]) == EMAILS_PER_IDEA

        # The web form and email intake are part of `up` too.
        assert "Send an idea" in httpx.get(f"http://127.0.0.1:{port}/ideas/new").text
        with smtplib.SMTP("127.0.0.1", SMTP_PORTS[port], timeout=30) as smtp:
            smtp.sendmail(
                "nina@example.gov.uk",
                ["ideas@localhost"],
                b"From: Nina <nina@example.gov.uk>\r\nTo: ideas@localhost\r\nSubject: Sent by email\r\n"
                b"Message-ID: <up-test@example.gov.uk>\r\n\r\nLet people book by text message.\r\n",
            )
        wait_for(lambda: len(list((data / "mail").glob("*.eml"))) == 12, what="the emailed idea's emails")
        written = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in data.glob("mail/*")]
        (acknowledgement,) = [m for m in written if m["In-Reply-To"] == "<up-test@example.gov.uk>"]
        assert "We have your idea" in str(acknowledgement["Subject"])
        assert acknowledgement["To"] == "Nina <nina@example.gov.uk>"
    finally:
        assert stop_with_ctrl_c(second) == 0


def test_bad_configuration_stops_start_up_with_a_message_naming_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    env["IDEAHUB_HTTP_PORT"] = "eighty"
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "up"], cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "IDEAHUB_HTTP_PORT" in message
    assert "Traceback" not in message
    assert not (tmp_path / "var").exists()


def test_the_relay_keeps_running_while_the_broker_is_away(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    env |= {"IDEAHUB_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0", "IDEAHUB_RELAY_IDLE_MS": "10"}
    from services.intake.handlers import submit_idea
    from services.intake.schemas import Submission
    from shared.db.engine import make_engine, make_session_factory
    from shared.db.migrate import upgrade
    from shared.db.uow import unit_of_work

    url = f"sqlite:///{tmp_path / 'var' / 'ideahub.db'}"
    upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_session_factory(engine)) as session:
        body = Submission(title="Waiting for the broker", problem="P", idea="I", email="s@example.gov.uk")
        submit_idea(session, body, channel="api", departments=["Other"])
    engine.dispose()

    relay = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "relay"], cwd=tmp_path, env=env, stderr=subprocess.PIPE
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            relay.wait(timeout=8)
    finally:
        relay.send_signal(signal.SIGTERM)
        _, err = relay.communicate(timeout=30)
    assert relay.returncode == 0, err.decode()[-2000:]
    assert b"relay.failed" in err  # it tried, said so, and kept going

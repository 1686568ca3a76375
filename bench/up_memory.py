"""Resident memory of `ideahub up` on embedded defaults, after real work: ideas by HTTP and by email.

Starts `ideahub up` in a fresh folder (SQLite and the embedded Redis, emails written as .eml files), adds
one reviewer, posts `--ideas` ideas to `POST /api/v1/ideas` and sends `--emails` ideas to email intake
by SMTP, waits until every email they cause is written (three an idea: the acknowledgement, "in review"
and the reviewer's task), then prints the resident memory of each process of the tree, at the end and
the most seen (sampled every half second), and stops `up` with Ctrl-C (SIGINT).

Run from the repository root: `python bench/up_memory.py`. The target is under 500 MB for the whole tree.
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import os
import platform
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
import psutil
from environment import _free_port
from submit import idea_payload

EMAILS_PER_IDEA = 3


def role_of(process: psutil.Process) -> str:
    """A short name for a process of the tree, from its command line."""
    try:
        args = process.cmdline()
    except psutil.Error:
        return "gone"
    if any("redis-server" in a for a in args):
        return "redis (embedded)"
    if "infra.cli" in args:
        return " ".join(args[args.index("infra.cli") + 1 :][:2])
    return Path(args[0]).name if args else "?"


class Sampler(threading.Thread):
    """Every half second, the RSS of each process in the tree under `root`, by role; keeps the last and the most."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(root)
        self.last: dict[str, float] = {}
        self.most: dict[str, float] = {}
        self.most_total = 0.0
        self.stop = threading.Event()

    def sample(self) -> None:
        now: dict[str, float] = {}
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                rss = process.memory_info().rss / 2**20
            except psutil.Error:
                continue
            role = role_of(process)
            now[role] = now.get(role, 0.0) + rss
        self.last = now
        for role, rss in now.items():
            self.most[role] = max(self.most.get(role, 0.0), rss)
        self.most_total = max(self.most_total, sum(now.values()))

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                self.sample()
            except psutil.Error:
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ideas", type=int, default=600, help="ideas posted to the API")
    parser.add_argument("--emails", type=int, default=20, help="ideas sent to email intake")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="ideahub-up-memory-"))
    http_port, smtp_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")} | {
        "IDEAHUB_HTTP_PORT": str(http_port),
        "IDEAHUB_SMTP_INTAKE_PORT": str(smtp_port),
        "IDEAHUB_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
        "IDEAHUB_API_RATE_LIMIT": "1000000/minute",  # one client posts them all
        "IDEAHUB_MAIL_RATE_LIMIT": "1000000/hour",
        "IDEAHUB_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "infra.cli"]
    repo = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(repo)
    print(f"ideahub up in {folder} ({os.cpu_count()} CPUs, Python {platform.python_version()})")
    log = (folder / "up.log").open("ab")
    up = subprocess.Popen([*cli, "up"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if up.poll() is not None or time.monotonic() > deadline:
                print((folder / "up.log").read_text()[-3000:])
                return 1
            time.sleep(0.5)
        subprocess.run(
            [*cli, "users", "add", "--email", "reviewer@bench.example.gov.uk", "--name", "Rita Reviewer"]
            + ["--role", "reviewer"],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
        )
        sampler = Sampler(up.pid)
        sampler.start()

        started = time.monotonic()
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=30) as client:
            for index in range(args.ideas):
                client.post("/api/v1/ideas", json=idea_payload(index)).raise_for_status()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            for index in range(args.emails):
                payload = idea_payload(100_000 + index)
                message = EmailMessage()
                message["From"] = f"staff{index}@bench.example.gov.uk"
                message["To"] = "ideas@localhost"
                message["Subject"] = payload["title"]
                message["Message-ID"] = f"<bench-up-{index}-{time.time_ns()}@bench.example.gov.uk>"
                message.set_content(f"{payload['problem']}\n\n{payload['idea']}\n")
                smtp.send_message(message)
        expected = (args.ideas + args.emails) * EMAILS_PER_IDEA
        mail_dir = folder / "var" / "mail"
        while len(list(mail_dir.glob("*.eml"))) < expected:
            if time.monotonic() - started > args.timeout:
                print(f"only {len(list(mail_dir.glob('*.eml')))} of {expected} emails after {args.timeout:.0f} s")
                return 1
            time.sleep(1)
        elapsed = time.monotonic() - started
        sampler.sample()
        sampler.stop.set()
        print(f"{args.ideas} ideas by HTTP and {args.emails} by SMTP, {expected} emails written in {elapsed:.0f} s")
        print(f"{'process':<28}{'end (MB)':>10}{'most (MB)':>11}")
        for role in sorted(sampler.last):
            print(f"{role:<28}{sampler.last[role]:>10.0f}{sampler.most[role]:>11.0f}")
        print(f"{'whole tree':<28}{sum(sampler.last.values()):>10.0f}{sampler.most_total:>11.0f}   (target < 500)")
        return 0
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            up.kill()
        log.close()


if __name__ == "__main__":
    sys.exit(main())

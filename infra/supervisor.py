"""Runs child processes, restarts one that dies (with backoff, logged), and stops them all in order.

Children run in their own process groups, so that Ctrl-C reaches only the
supervisor, which then stops them: the web server first, so no new work
arrives, then the relay, then the workers, which finish or return their
messages in flight.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from shared.logging import get_logger

log = get_logger("ideahub.supervisor")

MAX_BACKOFF = 30.0
HEALTHY_AFTER = 60.0  # a child that ran this long has its backoff reset


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    next_start: float = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, start_new_session=True)
        self.started_at = time.monotonic()
        log.info("supervisor.started", child=self.name, pid=self.process.pid)


def ideahub_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.cli", *args]


class Supervisor:
    def __init__(self, children: list[Child], *, stop_timeout: float = 30.0) -> None:
        self.children = children
        self.stop_timeout = stop_timeout

    def run(self, stop: threading.Event) -> None:
        for child in self.children:
            child.start()
        while not stop.wait(0.5):
            now = time.monotonic()
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    code = child.process.returncode
                    if now - child.started_at > HEALTHY_AFTER:
                        child.backoff = 1.0
                    child.next_start = now + child.backoff
                    log.warning("supervisor.child_died", child=child.name, exit_code=code, restart_in=child.backoff)
                    child.backoff = min(child.backoff * 2, MAX_BACKOFF)
                    child.process = None
                if child.process is None and now >= child.next_start:
                    child.restarts += 1
                    log.warning("supervisor.restarting", child=child.name, restarts=child.restarts)
                    child.start()
        self.stop_all()

    def stop_all(self) -> None:
        """Stop the first child (the web server: no new work), then all the others together."""
        alive = [c for c in self.children if c.process is not None and c.process.poll() is None]
        if not alive:
            return
        self._stop([alive[0]] if alive[0] is self.children[0] else [])
        self._stop([c for c in alive if c is not self.children[0]])

    def _stop(self, children: list[Child]) -> None:
        for child in children:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in children:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.error("supervisor.killing", child=child.name)
                child.process.kill()
                child.process.wait()
            log.info("supervisor.stopped", child=child.name, exit_code=child.process.returncode)

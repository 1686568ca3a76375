"""HTTP intake benchmark: `POST /api/v1/ideas` on `ideahub serve`, against a bare FastAPI endpoint.

Starts `ideahub serve --workers W` on a scratch database (no relay, no workers: this measures intake
alone; the events wait in the outbox) and, in the same run, the bare endpoint of `bench/bare_intake.py`
under the same uvicorn settings. For each it measures

* throughput: N requests from C keep-alive connections as fast as the server answers (accepted/s);
* latency: an open-loop load at a fixed rate (default 200/s) for S seconds: p50/p95/p99/max of each
  request's time, measured from when it was due, so a stalled server cannot hide its queue.

The client is a small asyncio HTTP/1.1 client that sends prepared bytes: on two cores it costs far less
than the servers, which share the machine with it. Run from the repository root:

    python bench/http_intake.py                      # PostgreSQL at 127.0.0.1, 2 server processes
    python bench/http_intake.py --database sqlite --requests 5000
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from environment import _free_port, _postgres
from procs import Child, log_tail, start_child, stop_child
from sqlalchemy.engine import make_url
from submit import idea_payload

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figures:
    name: str
    accepted: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]


def request_bytes(port: int, index: int, tag: str) -> bytes:
    body = json.dumps(idea_payload(index) | {"title": f"Bench idea {tag}-{index}"}).encode()
    head = (
        f"POST /api/v1/ideas HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


class Connection:
    """One keep-alive connection; `send` writes a prepared request and returns the status code."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        if b"connection: close" in head.lower():
            self.writer.close()
            self.writer = None
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def flood(port: int, count: int, connections: int, tag: str) -> Figures:
    figures = Figures("flood")
    requests = [request_bytes(port, i, tag) for i in range(count)]
    next_index = iter(range(count))

    async def worker() -> None:
        connection = Connection(port)
        try:
            for i in next_index:
                status = await connection.send(requests[i])
                if status == 202:
                    figures.accepted += 1
                else:
                    figures.refused[status] = figures.refused.get(status, 0) + 1
        finally:
            connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    figures.seconds = time.perf_counter() - start
    return figures


async def paced(port: int, rate: float, seconds: float, tag: str) -> Figures:
    """Open loop: request i is due at start + i/rate, sent on a free connection (a new one if none is free)."""
    figures = Figures("paced")
    count = int(rate * seconds)
    requests = [request_bytes(port, i, tag) for i in range(count)]
    idle: list[Connection] = []
    tasks = []

    async def one(i: int, due: float) -> None:
        connection = idle.pop() if idle else Connection(port)
        status = await connection.send(requests[i])
        figures.latencies_ms.append((time.perf_counter() - due) * 1000)
        if status == 202:
            figures.accepted += 1
        else:
            figures.refused[status] = figures.refused.get(status, 0) + 1
        idle.append(connection)

    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    figures.seconds = time.perf_counter() - start
    for connection in idle:
        connection.close()
    return figures


def wait_healthy(child: Child, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"`{child.name}` exited early:\n{log_tail(child)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} did not answer /healthz within {timeout:.0f} s")


def measure(label: str, child: Child, port: int, o: argparse.Namespace) -> tuple[Figures, Figures]:
    wait_healthy(child, port)
    tag = uuid.uuid4().hex[:6]
    asyncio.run(flood(port, o.warmup, o.connections, f"{tag}w"))
    best: Figures | None = None
    for run in range(o.runs):
        result = asyncio.run(flood(port, o.requests, o.connections, f"{tag}r{run}"))
        print(f"  {label} run {run + 1}: {result.rate:,.1f} accepted/s ({result.accepted} in {result.seconds:.2f} s)")
        if result.refused:
            print(f"    refused: {result.refused}")
        if best is None or result.rate > best.rate:
            best = result
    latency = asyncio.run(paced(port, o.rate, o.seconds, f"{tag}p"))
    assert best is not None
    return best, latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--requests", type=int, default=6000, help="requests per throughput run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s of the latency phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the latency phase")
    o = parser.parse_args()

    run_id = uuid.uuid4().hex[:10]
    tmp = Path(tempfile.mkdtemp(prefix=f"ideahub-http-bench-{run_id}-"))
    (tmp / "data").mkdir()
    scratch_db = None
    if o.database == "postgresql":
        scratch_db = f"ideahub_bench_{run_id}"
        _postgres(o.pg_url, f'CREATE DATABASE "{scratch_db}"')
        database_url = make_url(o.pg_url).set(database=scratch_db).render_as_string(hide_password=False)
    else:
        database_url = f"sqlite:///{tmp / 'data' / 'ideahub.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    env.update(
        IDEAHUB_DATABASE_URL=database_url,
        IDEAHUB_DATA_DIR=str(tmp / "data"),
        IDEAHUB_QUEUE_PREFIX=f"bench-{run_id}.",
        IDEAHUB_LOG_LEVEL="WARNING",
        IDEAHUB_API_RATE_LIMIT="0/second",  # one client sends everything: the limit would measure itself
        # No broker is started: /readyz would say so, but intake alone never touches it.
        IDEAHUB_BROKER_URL="redis://127.0.0.1:6379/15",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=f"{ROOT / 'bench'}{os.pathsep}{env.get('PYTHONPATH', '')}",
    )
    subprocess.run([sys.executable, "-m", "infra.cli", "db", "upgrade"], env=env, cwd=ROOT, check=True)

    ours_port, bare_port = _free_port(), _free_port()
    children: list[Child] = []
    try:
        env_ours = env | {"IDEAHUB_HTTP_PORT": str(ours_port), "IDEAHUB_PUBLIC_URL": f"http://127.0.0.1:{ours_port}"}
        ours = start_child(
            "serve",
            [sys.executable, "-m", "infra.cli", "serve", "--workers", str(o.workers)],
            env=env_ours,
            cwd=ROOT,
            log_dir=tmp,
        )
        children.append(ours)
        print(f"ideahub serve --workers {o.workers} ({o.database}):")
        ours_flood, ours_paced = measure("ideahub", ours, ours_port, o)
        stop_child(ours)

        bare = start_child(
            "bare",
            [
                sys.executable, "-m", "uvicorn", "bare_intake:create", "--factory", "--workers", str(o.workers),
                "--port", str(bare_port), "--log-level", "warning", "--no-access-log",
            ],
            env=env,
            cwd=ROOT / "bench",
            log_dir=tmp,
        )  # fmt: skip
        children.append(bare)
        print(f"bare FastAPI endpoint, --workers {o.workers}:")
        bare_flood, bare_paced = measure("bare", bare, bare_port, o)
        stop_child(bare)
    finally:
        for child in children:
            stop_child(child)
        if scratch_db:
            _postgres(o.pg_url, f'DROP DATABASE IF EXISTS "{scratch_db}" WITH (FORCE)')

    cores = os.cpu_count()
    print()
    print(f"HTTP intake, {o.database}, {o.workers} server processes, {cores} cores, Python {platform.python_version()}")
    print(f"  connections {o.connections}, {o.requests} requests x {o.runs} runs (best shown)")
    for name, flood_figures, paced_figures in (
        ("ideahub", ours_flood, ours_paced),
        ("bare", bare_flood, bare_paced),
    ):
        print(
            f"  {name:8} throughput {flood_figures.rate:8,.1f}/s   at {o.rate:.0f}/s: "
            f"p50 {paced_figures.percentile(50):6.1f} ms  p95 {paced_figures.percentile(95):6.1f} ms  "
            f"p99 {paced_figures.percentile(99):6.1f} ms  max {max(paced_figures.latencies_ms):6.1f} ms"
            + (f"  refused {paced_figures.refused}" if paced_figures.refused else "")
        )
    ratio = ours_flood.rate / bare_flood.rate if bare_flood.rate else float("nan")
    print(f"  ratio ideahub/bare: {ratio:.1%}")
    print(f"  mean latency at {o.rate:.0f}/s: ideahub {statistics.fmean(ours_paced.latencies_ms):.1f} ms")


if __name__ == "__main__":
    main()

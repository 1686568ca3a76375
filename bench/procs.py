"""Child processes: start and stop them (descendants included), read their logs, sample their memory and CPU."""

# ruff: noqa: T201
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

# Server processes whose CPU is reported, by process name, with the label they are reported under.
SERVER_PROCESS_NAMES = {"postgres": "postgres", "redis-server": "redis-server", "beam.smp": "rabbitmq"}


@dataclass
class Child:
    """One `ideahub` command, its log file, and every descendant it was seen with (for clean-up)."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    descendants: dict[tuple[int, float], psutil.Process] = field(default_factory=dict)

    def tree(self) -> list[psutil.Process]:
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            kids = root.children(recursive=True)
        except psutil.Error:
            return []
        for kid in kids:
            with contextlib.suppress(psutil.Error):
                self.descendants[(kid.pid, kid.create_time())] = kid
        return [root, *kids]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def start_child(name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path) -> Child:
    child = Child(name, argv, log_dir / f"{name}.log")
    with child.log_path.open("wb") as log:
        # A session of its own: Ctrl-C reaches only the bench, which then stops the children in order.
        child.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return child


def stop_child(child: Child, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; then the same for any descendant left behind."""
    if child.process is None:
        return
    child.tree()  # note the descendants before the parent goes
    if child.process.poll() is None:
        child.process.send_signal(signal.SIGTERM)
        try:
            child.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"  {child.name} did not stop within {timeout:.0f} s: killing it", file=sys.stderr)
            child.process.kill()
            child.process.wait()
    leftovers = [p for p in child.descendants.values() if p.is_running()]
    if leftovers:
        _gone, alive = psutil.wait_procs(leftovers, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _gone, alive = psutil.wait_procs(alive, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()


def log_tail(child: Child, lines: int = 15) -> str:
    try:
        return "\n".join(child.log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def problem_lines(path: Path) -> list[str]:
    """Lines in a log that look like a warning, an error or a traceback."""
    markers = ('"level": "warning"', '"level": "error"', '"level": "critical"', "Traceback", "WARNING", "ERROR")
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if any(m in line for m in markers)]


class ResourceSampler:
    """Samples the RSS of each child's process tree every `interval` seconds, keeping the maximum."""

    def __init__(self, children: list[Child], interval: float = 0.5) -> None:
        self.children = children
        self.interval = interval
        self.max_mb: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> dict[str, float]:
        now: dict[str, float] = {}
        for child in self.children:
            total = 0
            for proc in child.tree():
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            now[child.name] = round(total / 2**20, 1)
        now["total"] = round(sum(now.values()), 1)
        for name, value in now.items():
            self.max_mb[name] = max(self.max_mb.get(name, 0.0), value)
        return now

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _busy_seconds(times: Any) -> float:
    """CPU seconds the whole machine spent busy (summed over cores), from `psutil.cpu_times()`."""
    return float(times.user + times.nice + times.system + getattr(times, "irq", 0) + getattr(times, "softirq", 0))


class CpuMeter:
    """CPU seconds used by each child's tree, the bench itself and the database/broker servers, between marks."""

    def __init__(
        self, children: list[Child], bench_label: str, extra: dict[str, list[psutil.Process]] | None = None
    ) -> None:
        self.children = children
        self.bench_label = bench_label  # what the bench process itself does: HTTP client, or the intake itself
        self.extra = extra or {}
        self._start: dict[tuple[int, float], float] = {}
        self._started_at = 0.0
        self._machine_start: Any = psutil.cpu_times()

    def _groups(self) -> dict[str, list[psutil.Process]]:
        groups: dict[str, list[psutil.Process]] = {child.name: child.tree() for child in self.children}
        groups[self.bench_label] = [psutil.Process()]
        extra_pids = {proc.pid for procs in self.extra.values() for proc in procs}
        for proc in psutil.process_iter(["name"]):
            label = SERVER_PROCESS_NAMES.get(proc.info["name"] or "")
            if label and proc.pid not in extra_pids:
                groups.setdefault(f"{label} (server)", []).append(proc)
        for name, procs in self.extra.items():
            groups.setdefault(name, []).extend(procs)
        return groups

    def _snapshot(self) -> dict[str, dict[tuple[int, float], float]]:
        snapshot: dict[str, dict[tuple[int, float], float]] = {}
        for name, procs in self._groups().items():
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    snapshot.setdefault(name, {})[(proc.pid, proc.create_time())] = _cpu_seconds(proc)
        return snapshot

    def mark(self) -> None:
        self._started_at = time.monotonic()
        self._machine_start = psutil.cpu_times()
        self._start = {key: value for group in self._snapshot().values() for key, value in group.items()}

    def percent(self) -> dict[str, float]:
        """Each group's share of one core, plus `whole machine` and `other processes` (the rest of it)."""
        elapsed = max(time.monotonic() - self._started_at, 1e-9)
        result: dict[str, float] = {}
        for name, group in self._snapshot().items():
            used = sum(value - self._start.get(key, 0.0) for key, value in group.items())
            result[name] = round(100 * used / elapsed, 1)
        ours = sum(result.values())
        machine = 100 * (_busy_seconds(psutil.cpu_times()) - _busy_seconds(self._machine_start)) / elapsed
        result["other processes"] = round(max(0.0, machine - ours), 1)
        result["whole machine"] = round(machine, 1)
        return result

"""The results of one run: their dataclasses (which are also the JSON's shape), the printed block, the JSON file."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class ThroughputResult:
    """One throughput run. Times are from `created_at` in the database unless said otherwise."""

    ideas: int = 0
    failed_submissions: int = 0
    completed: int = 0
    ideas_per_s: float = 0.0
    elapsed_s: float = 0.0  # first submission started -> the last idea in review and acknowledged
    submit_s: float = 0.0  # first submission started -> last one answered (the bench's side)
    submit_ideas_per_s: float = 0.0
    submit_p50_ms: float = 0.0
    submit_p95_ms: float = 0.0
    ack_p50_ms: float = 0.0  # notification.sent_at ('received') - idea.created_at
    ack_p95_ms: float = 0.0
    in_review_p50_ms: float = 0.0  # status_changes.at (in_review) - idea.created_at
    in_review_p95_ms: float = 0.0
    relay_p50_ms: float = 0.0  # outbox.published_at (idea.received.v1) - idea.created_at
    relay_p95_ms: float = 0.0
    all_emails_done_s: float = 0.0  # first submission -> every email of the run sent (submitter's two, reviewers')
    cpu_percent: dict[str, float] = field(default_factory=dict)  # 100 = one core


@dataclass
class LatencyResult:
    ideas: int = 0
    failed_submissions: int = 0
    completed: int = 0
    rate_target: float = 0.0
    rate_achieved: float = 0.0
    ack_p50_ms: float = 0.0
    ack_p95_ms: float = 0.0
    ack_p99_ms: float = 0.0
    client_p50_ms: float = 0.0  # the bench's submission start -> notification.sent_at
    client_p95_ms: float = 0.0
    client_p99_ms: float = 0.0
    submit_p50_ms: float = 0.0
    submit_p99_ms: float = 0.0
    relay_p50_ms: float = 0.0  # created -> the idea.received row marked published: where the time goes
    relay_p95_ms: float = 0.0
    in_review_p50_ms: float = 0.0
    in_review_p95_ms: float = 0.0


@dataclass
class BareResult:
    items: int = 0
    completed: int = 0
    items_per_s: float = 0.0
    elapsed_s: float = 0.0
    enqueue_s: float = 0.0


@dataclass
class Results:
    submit: str  # "direct" or "http"
    broker: str
    database: str
    cpu_count: int | None
    python: str
    date: str
    ideas: int  # in each throughput run
    runs: int
    worker_processes: int
    worker_threads: int
    serve_workers: int | None  # None: `ideahub serve` was not running (--submit direct)
    concurrency: int | None  # HTTP requests in flight (--submit http)
    bare_processes: int
    bare_threads: int
    queue_prefix: str = ""
    command: str = ""
    ideas_per_s: float = 0.0  # median over the throughput runs
    bare_items_per_s: float = 0.0  # median over the bare chain runs
    ratio_percent: float = 0.0  # ideas_per_s / bare_items_per_s
    throughput_runs: list[ThroughputResult] = field(default_factory=list)
    latency: LatencyResult = field(default_factory=LatencyResult)
    bare_runs: list[BareResult] = field(default_factory=list)
    load_average_start: list[float] = field(default_factory=list)  # 1, 5 and 15 minute, before the run
    rss_mb_end: dict[str, float] = field(default_factory=dict)  # at the end of the last throughput run
    rss_mb_max: dict[str, float] = field(default_factory=dict)  # the most seen, sampled every 0.5 s
    problems: list[str] = field(default_factory=list)
    log_lines: dict[str, int] = field(default_factory=dict)  # warning/error lines in each process's log

    def summarise(self) -> None:
        """The medians and their ratio, from the runs."""
        if self.throughput_runs:
            self.ideas_per_s = round(statistics.median(r.ideas_per_s for r in self.throughput_runs), 1)
        if self.bare_runs:
            self.bare_items_per_s = round(statistics.median(r.items_per_s for r in self.bare_runs), 1)
        if self.bare_items_per_s:
            self.ratio_percent = round(100 * self.ideas_per_s / self.bare_items_per_s, 1)


def median_run(values: list[float]) -> int:
    """The index of the run whose figure is the median (the lower of the middle two for an even count)."""
    return sorted(range(len(values)), key=lambda i: values[i])[(len(values) - 1) // 2]


def _runs(values: list[float]) -> str:
    return f"   (median of {len(values)} runs: {', '.join(f'{v:g}' for v in values)})" if len(values) > 1 else ""


def report(results: Results) -> str:
    lines = [
        "=" * 78,
        f"Ideahub pipeline benchmark  {results.date}",
        f"broker {results.broker}, database {results.database}, {results.cpu_count} CPUs, Python {results.python}, "
        f"load average before {'/'.join(f'{x:g}' for x in results.load_average_start)}",
        f"submit {results.submit}: "
        + (
            f"POST /api/v1/ideas to `ideahub serve` ({results.serve_workers} worker(s)), "
            f"{results.concurrency} requests in flight"
            if results.submit == "http"
            else "intake's submit_idea() in the bench process, one transaction each; no web server"
        ),
        f"N = {results.ideas} ideas x {results.runs} run(s); worker {results.worker_processes} process(es) x "
        f"{results.worker_threads} threads",
        "-" * 78,
    ]
    if results.throughput_runs:
        lines += _throughput_lines(results)
    lines += _latency_lines(results)
    if results.rss_mb_end:
        lines += _memory_lines(results)
    if results.bare_runs:
        lines += _bare_lines(results)
    if results.log_lines:
        lines.append("Warning/error lines in logs: " + ", ".join(f"{k} {v}" for k, v in results.log_lines.items()))
    lines += [f"PROBLEM: {problem}" for problem in results.problems]
    lines.append("=" * 78)
    return "\n".join(lines)


def _throughput_lines(results: Results) -> list[str]:
    rates = [r.ideas_per_s for r in results.throughput_runs]
    index = median_run(rates)
    t = results.throughput_runs[index]
    which = f"  median run (#{index + 1}): " if len(rates) > 1 else "  "
    cpu = sorted(t.cpu_percent.items(), key=lambda kv: -kv[1])
    return [
        f"Throughput  {results.ideas_per_s:8.1f} ideas/s{_runs(rates)}",
        f"{which}{t.completed}/{t.ideas} in review and acknowledged in {t.elapsed_s:.2f} s",
        f"  {results.submit + ' intake':20}  {t.submit_ideas_per_s:8.1f} ideas/s   (all {t.ideas} answered in "
        f"{t.submit_s:.2f} s; p50 {t.submit_p50_ms:.0f} ms, p95 {t.submit_p95_ms:.0f} ms)",
        f"  created -> ack email  p50 {t.ack_p50_ms:9.0f} ms   p95 {t.ack_p95_ms:9.0f} ms",
        f"  created -> in review  p50 {t.in_review_p50_ms:9.0f} ms   p95 {t.in_review_p95_ms:9.0f} ms",
        f"  created -> relayed    p50 {t.relay_p50_ms:9.0f} ms   p95 {t.relay_p95_ms:9.0f} ms",
        f"  every email (submitter and reviewers) sent after {t.all_emails_done_s:.2f} s",
        "  CPU (% of one core): " + ", ".join(f"{name} {pct:.0f}" for name, pct in cpu),
    ]


def _latency_lines(results: Results) -> list[str]:
    lat = results.latency
    if not lat.ideas:
        return ["Latency     not measured (--latency-ideas 0)"]
    return [
        f"Latency     {lat.ideas} ideas at {lat.rate_target:g}/s (achieved {lat.rate_achieved:g}/s), "
        f"{lat.completed} done",
        f"  created -> ack email  p50 {lat.ack_p50_ms:7.0f} ms  p95 {lat.ack_p95_ms:7.0f} ms  "
        f"p99 {lat.ack_p99_ms:7.0f} ms",
        f"  client  -> ack email  p50 {lat.client_p50_ms:7.0f} ms  p95 {lat.client_p95_ms:7.0f} ms  "
        f"p99 {lat.client_p99_ms:7.0f} ms",
        f"  created -> relayed    p50 {lat.relay_p50_ms:7.0f} ms  p95 {lat.relay_p95_ms:7.0f} ms",
        f"  created -> in review  p50 {lat.in_review_p50_ms:7.0f} ms  p95 {lat.in_review_p95_ms:7.0f} ms",
        f"  {results.submit + ' intake':20}  p50 {lat.submit_p50_ms:7.0f} ms  p99 {lat.submit_p99_ms:7.0f} ms",
    ]


def _memory_lines(results: Results) -> list[str]:
    names = [*(name for name in results.rss_mb_end if name != "total"), "total"]
    note = "" if results.serve_workers else "   (serve not running: --submit direct)"
    return [
        "Memory (RSS, MB)       " + "  ".join(f"{name:>8}" for name in names) + note,
        "  end of throughput    " + "  ".join(f"{results.rss_mb_end.get(n, 0):8.1f}" for n in names),
        "  most seen            " + "  ".join(f"{results.rss_mb_max.get(n, 0):8.1f}" for n in names),
    ]


def _bare_lines(results: Results) -> list[str]:
    rates = [r.items_per_s for r in results.bare_runs]
    bare = results.bare_runs[median_run(rates)]
    target = ""
    if (results.broker, results.database) == ("redis", "postgresql"):
        target = f"   (target >= 20 %: {'met' if results.ratio_percent >= 20 else 'NOT met'})"
    return [
        f"Bare chain  {results.bare_items_per_s:8.1f} items/s{_runs(rates)}",
        f"  {bare.completed}/{bare.items} items through a->b->c->d in {bare.elapsed_s:.2f} s; "
        f"{results.bare_processes} processes x {results.bare_threads} threads",
        f"Pipeline / bare chain   {results.ratio_percent:.1f} %{target}",
    ]


def write_json(results: Results) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"pipeline-{results.submit}-{results.broker}-{results.database}-{stamp}.json"
    path.write_text(json.dumps(asdict(results), indent=2) + "\n")
    return path

"""End-to-end benchmark of the pipeline: intake -> relay -> review and notify workers, against a bare chain.

Starts `ideahub relay` and `ideahub worker review notify` (and, with `--submit http`, `ideahub serve`)
against a scratch database and a unique queue prefix, then measures

* throughput: N ideas submitted as fast as the intake takes them, until every one is `in_review` and its
  acknowledgement email is sent (ideas/s, and p50/p95 of created -> email sent), `--runs` times;
* latency: ideas submitted at a fixed rate (p50/p95/p99 of created -> email sent);
* memory (RSS) and CPU of each process;
* a bare 4-hop dramatiq chain of no-op actors on the same broker, as the ceiling to compare with, `--runs` times.

Run from the repository root: `python bench/pipeline.py --help`; see bench/README.md. The modules next to
this one (options, environment, procs, submit, measure, phases, report) are imported as top-level modules:
Python puts a script's own folder first on sys.path.
"""

# ruff: noqa: T201
from __future__ import annotations

import contextlib
import os
import platform
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

from environment import clean_up, prepare, set_up_database, start_embedded_redis, start_pipeline, wait_healthy
from options import Options, parse_options
from phases import WARMUP_IDEAS, Bench, bare_phase, latency_phase, throughput_phase, warm_up
from procs import Child, problem_lines, stop_child
from report import Results, report, write_json
from sqlalchemy import Engine, create_engine
from submit import DirectIntake, HttpIntake, Intake

from shared.config import Settings


def run(options: Options) -> Results:
    defaults = Settings.model_fields  # the children get no IDEAHUB_* variable but ours: Ideahub's defaults apply
    results = Results(
        submit=options.submit,
        broker=options.broker,
        database=options.database,
        cpu_count=os.cpu_count(),
        python=platform.python_version(),
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        ideas=options.ideas,
        runs=options.runs,
        worker_processes=options.worker_processes or defaults["worker_processes"].default,
        worker_threads=options.worker_threads or defaults["worker_threads"].default,
        serve_workers=options.serve_workers if options.http else None,
        concurrency=options.concurrency if options.http else None,
        bare_processes=options.bare_processes,
        bare_threads=options.bare_threads,
        command=" ".join(["python", *sys.argv]),
        load_average_start=[round(x, 2) for x in os.getloadavg()],
    )
    environment = prepare(options)
    results.queue_prefix = environment.prefix
    print(f"Run {environment.prefix.rstrip('.')} (--submit {options.submit}): temporary folder {environment.tmp}")
    children: list[Child] = []
    engine: Engine | None = None
    intake: Intake | None = None
    failed = True
    try:
        if options.broker == "embedded":
            start_embedded_redis(environment)
        set_up_database(environment)
        engine = create_engine(environment.database_url)  # plain engine: the bench only reads with it
        children = start_pipeline(environment)
        wait_healthy(environment, children)
        if options.http:
            intake = HttpIntake(environment.base_url, options.concurrency)
        else:
            intake = DirectIntake(environment.database_url, environment.settings().departments)
        bench = Bench(environment, intake, engine, children, results)

        print(f"Warming up with {WARMUP_IDEAS} ideas...")
        warm_up(bench, timeout=min(options.timeout, 120))
        print(f"Throughput phase: {options.runs} x {options.ideas} ideas...")
        throughput_phase(bench)
        print(f"Latency phase: {options.latency_ideas} ideas at {options.rate:g}/s...")
        latency_phase(bench)
        for child in children:
            if not child.alive():
                results.problems.append(f"`{child.name}` exited with {child.process and child.process.returncode}")
        for child in children:
            stop_child(child)

        print(f"Bare chain: {options.runs} x {options.bare_items} items, {options.bare_processes} processes...")
        bare_phase(environment, results)
        results.summarise()
        for path in sorted(environment.log_dir.glob("*.log")):
            found = problem_lines(path)
            if found:
                results.log_lines[path.stem] = len(found)
                results.problems.append(f"{path.stem} log, first of {len(found)}: {found[0][:300]}")
        failed = bool(results.problems)
    finally:
        if intake is not None:
            intake.close()
        if engine is not None:
            engine.dispose()
        clean_up(environment, children, failed)
    return results


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv, description=__doc__)
    with interrupt_on_signals():
        try:
            results = run(options)
        except KeyboardInterrupt:
            print("Interrupted; everything started was stopped.", file=sys.stderr)
            return 130
    print(report(results))
    print(f"Results written to {write_json(results)}")
    return 1 if results.problems else 0


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM end the run through every `finally`, wherever it is.

    Our own SIGINT handler also keeps asyncio from installing its own, which only cancels the
    running task (and an interrupt can be lost if a library swallows the cancellation), and it
    applies even where the shell started us with SIGINT ignored (a background job).
    """

    interrupted = False

    def handle(_signum: int, _frame: object) -> None:
        nonlocal interrupted
        if interrupted:  # a second Ctrl-C must not cut the clean-up short
            print("  still cleaning up; please wait", file=sys.stderr)
            return
        interrupted = True
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())

"""The phases of a run: warm-up, throughput (`--runs` times), latency, and the bare chain (`--runs` times).

Each fills its part of `Results` and appends to `Results.problems` what went wrong.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass

import bare_chain
import psutil
import redis
from environment import Environment, delete_queues
from measure import delays, idle, ms, percentile, timings, wait_done, wait_for
from procs import Child, CpuMeter, ResourceSampler, log_tail, start_child, stop_child
from report import BareResult, Results, ThroughputResult
from sqlalchemy import Engine
from submit import Intake

WARMUP_IDEAS = 20


@dataclass
class Bench:
    """What the pipeline phases share."""

    environment: Environment
    intake: Intake
    engine: Engine  # the bench's own, for reading the outcome
    children: list[Child]
    results: Results

    def alive(self) -> bool:
        return all(child.alive() for child in self.children)


def warm_up(bench: Bench, timeout: float) -> None:
    """A few ideas through every process, so that start-up (imports, connections, templates) is not measured."""
    submitted = bench.intake.flood(0, WARMUP_IDEAS)
    if submitted.failures:
        raise RuntimeError(f"warm-up submissions failed: {submitted.failures[:3]}")
    state = wait_done(bench.engine, submitted.ids, timeout, "warm-up", bench.alive)
    if not state.done(len(submitted.ids)):
        tails = "\n".join(f"{c.name}:\n{log_tail(c)}" for c in bench.children if not c.alive())
        raise RuntimeError(f"warm-up did not finish within {timeout:.0f} s: {state}\n{tails}")
    wait_for(lambda: idle(bench.engine), timeout=timeout)


def throughput_phase(bench: Bench) -> None:
    """`--runs` floods of `--ideas` fresh ideas each, every one on an idle pipeline, with RSS sampled throughout."""
    environment, results = bench.environment, bench.results
    embedded = environment.embedded
    extra = {"broker (embedded)": [psutil.Process(embedded.process.pid)]} if embedded else {}
    label = "bench client" if environment.options.http else "bench (direct intake)"
    meter = CpuMeter(bench.children, label, extra)
    sampler = ResourceSampler(bench.children)
    sampler.start()
    try:
        for run in range(environment.options.runs):
            name = "throughput" if environment.options.runs == 1 else f"throughput run {run + 1}"
            first_index = WARMUP_IDEAS + run * environment.options.ideas
            results.throughput_runs.append(_throughput_run(bench, meter, sampler, first_index, name))
    finally:
        sampler.stop()
    results.rss_mb_max = dict(sampler.max_mb)


def _throughput_run(
    bench: Bench, meter: CpuMeter, sampler: ResourceSampler, first_index: int, name: str
) -> ThroughputResult:
    o, problems = bench.environment.options, bench.results.problems
    res = ThroughputResult()
    meter.mark()
    submitted = bench.intake.flood(first_index, o.ideas)
    res.ideas = len(submitted.ids)
    res.failed_submissions = len(submitted.failures)
    if submitted.failures:
        problems.append(f"{name}: {len(submitted.failures)} submissions failed, e.g. {submitted.failures[0]}")
    res.submit_s = round(submitted.last_answered - submitted.first_sent, 2)
    res.submit_ideas_per_s = round(res.ideas / res.submit_s, 1) if res.submit_s > 0 else 0.0
    res.submit_p50_ms = ms(percentile(submitted.seconds, 50))
    res.submit_p95_ms = ms(percentile(submitted.seconds, 95))
    state = wait_done(bench.engine, submitted.ids, o.timeout, name, bench.alive)
    bench.results.rss_mb_end = sampler.sample()
    res.cpu_percent = meter.percent()
    res.completed = min(state.in_review, state.acknowledged)
    if not state.done(res.ideas):
        problems.append(
            f"{name}: not finished: {state.in_review}/{res.ideas} in review, {state.acknowledged}/{res.ideas} "
            f"acknowledged (timeout {o.timeout:.0f} s)"
        )
    t = timings(bench.engine, submitted.ids)
    done_at = max([*t.in_review.values(), *t.acknowledged.values()], default=submitted.first_sent)
    res.elapsed_s = round(done_at - submitted.first_sent, 3)
    res.ideas_per_s = round(res.completed / res.elapsed_s, 1) if res.elapsed_s > 0 else 0.0
    acks = delays(t.created, t.acknowledged)
    res.ack_p50_ms, res.ack_p95_ms = ms(percentile(acks, 50)), ms(percentile(acks, 95))
    screened = delays(t.created, t.in_review)
    res.in_review_p50_ms, res.in_review_p95_ms = ms(percentile(screened, 50)), ms(percentile(screened, 95))
    relayed = delays(t.created, t.published)
    res.relay_p50_ms, res.relay_p95_ms = ms(percentile(relayed, 50)), ms(percentile(relayed, 95))
    # Let the second email of each idea go out too, so that the next phase starts on an idle pipeline.
    wait_for(lambda: not bench.alive() or idle(bench.engine), timeout=o.timeout)
    if not idle(bench.engine):
        problems.append(f"{name}: the pipeline was not idle afterwards")
    res.all_emails_done_s = round(timings(bench.engine, submitted.ids).last_email - submitted.first_sent, 3)
    return res


def latency_phase(bench: Bench) -> None:
    """`--latency-ideas` ideas at `--rate` a second."""
    o, results = bench.environment.options, bench.results
    res = results.latency
    res.rate_target = o.rate
    if o.latency_ideas == 0:
        return
    submitted = bench.intake.paced(WARMUP_IDEAS + o.runs * o.ideas, o.latency_ideas, o.rate)
    res.ideas = len(submitted.ids)
    res.failed_submissions = len(submitted.failures)
    if submitted.failures:
        results.problems.append(f"latency: {len(submitted.failures)} submissions failed, e.g. {submitted.failures[0]}")
    sent_times = sorted(submitted.sent_at.values())
    if len(sent_times) > 1:
        res.rate_achieved = round((len(sent_times) - 1) / (sent_times[-1] - sent_times[0]), 1)
    res.submit_p50_ms = ms(percentile(submitted.seconds, 50))
    res.submit_p99_ms = ms(percentile(submitted.seconds, 99))
    state = wait_done(bench.engine, submitted.ids, o.timeout, "latency", bench.alive)
    res.completed = min(state.in_review, state.acknowledged)
    if not state.done(res.ideas):
        results.problems.append(
            f"latency: not finished: {state.in_review}/{res.ideas} in review, {state.acknowledged}/{res.ideas} "
            f"acknowledged (timeout {o.timeout:.0f} s)"
        )
    t = timings(bench.engine, submitted.ids)
    acks = delays(t.created, t.acknowledged)
    res.ack_p50_ms, res.ack_p95_ms, res.ack_p99_ms = (ms(percentile(acks, p)) for p in (50, 95, 99))
    client = delays(submitted.sent_at, t.acknowledged)
    res.client_p50_ms, res.client_p95_ms, res.client_p99_ms = (ms(percentile(client, p)) for p in (50, 95, 99))
    relayed, screened = delays(t.created, t.published), delays(t.created, t.in_review)
    res.relay_p50_ms, res.relay_p95_ms = ms(percentile(relayed, 50)), ms(percentile(relayed, 95))
    res.in_review_p50_ms, res.in_review_p95_ms = ms(percentile(screened, 50)), ms(percentile(screened, 95))


def bare_phase(environment: Environment, results: Results) -> None:
    """The bare dramatiq chain `--runs` times, in worker processes of its own, on the same broker, own prefix."""
    o = environment.options
    config = bare_chain.ChainConfig(
        broker_url=environment.effective_broker_url,
        prefix=f"{environment.prefix.rstrip('.')}-bare.",
        counter_url=environment.counter_url,
        total=o.bare_items,
    )
    counter = bare_chain.redis_client(config.counter_url)
    script = str(bare_chain.__file__)
    workers = [
        start_child(
            f"bare-{i + 1}",
            [sys.executable, script, *config.argv(), "--threads", str(o.bare_threads)],
            env=environment.env,
            cwd=environment.tmp,
            log_dir=environment.log_dir,
        )
        for i in range(o.bare_processes)
    ]
    chain = None
    try:
        ready = wait_for(lambda: int(counter.get(config.ready_key) or 0) >= o.bare_processes, timeout=60)
        if not ready:
            raise RuntimeError("the bare chain workers did not start:\n" + "\n".join(log_tail(w) for w in workers))
        chain = bare_chain.declare_chain(config)
        for run in range(o.runs):
            res = BareResult(items=o.bare_items)
            results.bare_runs.append(res)
            if not _bare_run(chain, counter, config, res, o.timeout):
                results.problems.append(f"bare chain run {run + 1}: {res.completed}/{res.items} done in time")
                return
    finally:
        for worker in workers:
            stop_child(worker, timeout=15)
        if chain is not None:
            chain.broker.close()
        with contextlib.suppress(Exception):
            counter.delete(config.counter_key, config.done_at_key, config.ready_key)
        try:
            delete_queues(environment, bare_chain.queue_names(config), exchanges=[])
        except Exception as exc:
            results.problems.append(f"bare chain: could not delete its queues: {exc}")


def _bare_run(
    chain: bare_chain.Chain, counter: redis.Redis, config: bare_chain.ChainConfig, res: BareResult, timeout: float
) -> bool:
    """Items enqueued from here, one by one, until `d` has counted them all; False if that took over `timeout`."""
    counter.delete(config.counter_key, config.done_at_key)
    started = time.time()
    for i in range(res.items):
        chain.first.send(i)
    res.enqueue_s = round(time.time() - started, 3)
    finished = wait_for(lambda: counter.get(config.done_at_key) is not None, timeout=timeout, interval=0.05)
    res.completed = int(counter.get(config.counter_key) or 0)
    if finished:
        res.elapsed_s = round(float(counter.get(config.done_at_key) or 0) - started, 3)
        res.items_per_s = round(res.items / res.elapsed_s, 1) if res.elapsed_s > 0 else 0.0
    return finished

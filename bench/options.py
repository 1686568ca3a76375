"""The benchmark's command line: `Options` and `parse_options()`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    ideas: int
    runs: int
    submit: str  # "direct" (intake's own code in the bench process) or "http" (POST to `ideahub serve`)
    broker: str
    database: str
    rate: float
    latency_ideas: int
    worker_processes: int | None
    worker_threads: int | None
    serve_workers: int
    concurrency: int
    bare_items: int
    bare_processes: int
    bare_threads: int
    timeout: float
    keep: bool
    pg_url: str
    redis_url: str
    amqp_url: str

    @property
    def http(self) -> bool:
        return self.submit == "http"


def parse_options(argv: list[str] | None = None, description: str | None = None) -> Options:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ideas", type=int, help="ideas in each throughput run (default 2000; --quick 100)")
    parser.add_argument("--runs", type=int, default=1, help="throughput and bare chain runs; medians are reported")
    parser.add_argument(
        "--submit",
        choices=["direct", "http"],
        default="direct",
        help="direct: intake's submit_idea() in the bench process, no web server (default); "
        "http: POST /api/v1/ideas to `ideahub serve`",
    )
    parser.add_argument("--broker", choices=["redis", "rabbitmq", "embedded"], default="redis")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--rate", type=float, default=50.0, help="ideas/s in the latency phase (default 50)")
    parser.add_argument("--latency-ideas", type=int, help="ideas in the latency phase (default 500; --quick 50)")
    parser.add_argument("--worker-processes", type=int, help="`ideahub worker --processes` (default: Ideahub's)")
    parser.add_argument("--worker-threads", type=int, help="`ideahub worker --threads` (default: Ideahub's)")
    parser.add_argument("--serve-workers", type=int, default=1, help="--submit http: `ideahub serve --workers`")
    parser.add_argument("--concurrency", type=int, default=32, help="--submit http: requests in flight (default 32)")
    parser.add_argument("--bare-items", type=int, help="items through the bare chain (default: --ideas)")
    parser.add_argument("--bare-processes", type=int, default=2, help="bare chain worker processes (default 2)")
    parser.add_argument("--bare-threads", type=int, default=8, help="threads per bare chain process (default 8)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for a phase to finish")
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer ideas unless given")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, mail) afterwards")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672//")
    args = parser.parse_args(argv)
    if args.ideas is None:
        args.ideas = 100 if args.quick else 2000
    if args.latency_ideas is None:
        args.latency_ideas = 50 if args.quick else 500
    if args.ideas < 1 or args.runs < 1 or args.latency_ideas < 0 or args.rate <= 0 or args.concurrency < 1:
        parser.error("--ideas, --runs and --concurrency must be at least 1, --latency-ideas 0 or more, --rate above 0")
    return Options(
        ideas=args.ideas,
        runs=args.runs,
        submit=args.submit,
        broker=args.broker,
        database=args.database,
        rate=args.rate,
        latency_ideas=args.latency_ideas,
        worker_processes=args.worker_processes,
        worker_threads=args.worker_threads,
        serve_workers=args.serve_workers,
        concurrency=args.concurrency,
        bare_items=args.bare_items or args.ideas,
        bare_processes=args.bare_processes,
        bare_threads=args.bare_threads,
        timeout=args.timeout,
        keep=args.keep,
        pg_url=args.pg_url,
        redis_url=args.redis_url,
        amqp_url=args.amqp_url,
    )

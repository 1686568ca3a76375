"""The sponsors' pages and the public case studies, answered by `ideahub serve` over PostgreSQL with 100,000 ideas.

    .venv/bin/python bench/sponsor_pages.py                   # 100,000 ideas, 200 requests a route
    .venv/bin/python bench/sponsor_pages.py --ideas 20000 --requests 50

It makes a scratch PostgreSQL database, migrates it, and loads by SQL (in seconds, not through the pipeline):
50 sponsors, 2 administrators, `--ideas` ideas spread over every status, the offers of those in matching,
the incubations of those sponsored (three milestones and two updates each), outcomes, and a published case
study for each implemented idea. Then it starts `ideahub serve` (one process) and asks each route, one
request at a time, as the busiest sponsor (with an API token, which pages take as well as a session), and
prints p50/p95/p99 per route with the database's size. Target: p95 under 50 ms. Printed, never asserted.
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from procs import start_child, stop_child
from sqlalchemy.engine import make_url

from shared.db.engine import libpq_url

ROUTES = [
    ("offers page", "/offers"),
    ("one offer page", "/offers/{offer_id}"),
    ("incubations page", "/incubations"),
    ("one incubation page", "/incubations/{reference}"),
    ("case studies page", "/case-studies"),
    ("case studies, filtered", "/case-studies?department=Health"),
    ("case studies, page 40", "/case-studies?page=40"),
    ("one case study page", "/case-studies/{slug}"),
    ("Atom feed", "/case-studies.atom"),
    ("API: offers", "/api/v1/offers"),
    ("API: one offer", "/api/v1/offers/{offer_id}"),
    ("API: incubations", "/api/v1/incubations"),
    ("API: one incubation", "/api/v1/ideas/{reference}/incubation"),
    ("API: case studies", "/api/v1/case-studies"),
]
DEPARTMENTS = ["Benefits", "Health", "Housing", "Justice", "Transport", "Other"]

# Ideas by status, a share each; those sponsored get an incubation, implemented ones a case study.
SHARES = [
    ("in_review", 0.40),
    ("rejected", 0.15),
    ("received", 0.02),
    ("needs_info", 0.03),
    ("matching", 0.08),
    ("unmatched", 0.02),
    ("incubating", 0.15),
    ("implemented", 0.08),
    ("closed", 0.04),
    ("withdrawn", 0.03),
]

LOAD = """
INSERT INTO people (email, name, role, department, themes, interests, capacity, active, created_at)
SELECT 'sponsor' || n || '@bench.example.gov.uk', 'Sponsor ' || n, 'sponsor',
       (ARRAY['Benefits','Health','Housing','Justice','Transport','Other'])[1 + n % 6], 'Health',
       'waiting lists clinics housing repairs buses benefits', 100000, true, now()
FROM generate_series(1, 50) AS n;
INSERT INTO people (email, name, role, capacity, active, created_at)
SELECT 'admin' || n || '@bench.example.gov.uk', 'Admin ' || n, 'admin', 0, true, now() FROM generate_series(1, 2) AS n;

CREATE TEMP TABLE shares (status text, low float, high float);
INSERT INTO shares VALUES {shares};

INSERT INTO ideas (id, reference, status, title, problem, proposal, department, submitter_name, submitter_email,
                   anonymous, status_token, channel, correlation_id, created_at, updated_at, version)
SELECT n, 'IH-2026-' || lpad(n::text, 6, '0'),
       (SELECT status FROM shares WHERE (n % 1000) / 1000.0 >= low AND (n % 1000) / 1000.0 < high),
       'Bench idea ' || n || ' about waiting lists', 'Problem ' || n, 'Proposal ' || n,
       (ARRAY['Benefits','Health','Housing','Justice','Transport','Other'])[1 + n % 6],
       'Submitter ' || n, 'submitter' || n || '@bench.example.gov.uk', n % 10 = 0,
       md5(n::text || 'token'), 'api', gen_random_uuid(),
       now() - (n || ' minutes')::interval, now(), 1
FROM generate_series(1, {ideas}) AS n;
SELECT setval(pg_get_serial_sequence('ideas', 'id'), {ideas});

-- The busiest sponsor (Sponsor 1) has a share of everything, as one person with many offers would.
INSERT INTO offers (idea_id, sponsor_id, rank, score, reasons, state, made_at, due_at, round, ranking)
SELECT i.id, CASE WHEN i.id % 5 = 0 THEN (SELECT id FROM people WHERE email = 'sponsor1@bench.example.gov.uk')
                  ELSE (SELECT id FROM people WHERE role = 'sponsor' ORDER BY id OFFSET (i.id % 50) LIMIT 1) END,
       1, 0.5, '["your interests match: waiting lists", "same department (Health)"]',
       CASE WHEN i.status = 'matching' THEN 'open' ELSE 'accepted' END,
       now() - interval '1 day', now() + interval '5 days', 1, '[]'
FROM ideas i WHERE i.status IN ('matching', 'incubating', 'implemented', 'closed');

INSERT INTO incubations (idea_id, sponsor_id, started_at, budget, staff_days)
SELECT o.idea_id, o.sponsor_id, now() - interval '30 days', 5000, 20
FROM offers o WHERE o.state = 'accepted';

INSERT INTO milestones (idea_id, title, due_on, due_at, state, created_at)
SELECT inc.idea_id, 'Milestone ' || m, current_date + m * 30, now() + (m * 30 || ' days')::interval,
       CASE WHEN m = 1 THEN 'reached' ELSE 'open' END, now()
FROM incubations inc, generate_series(1, 3) AS m;

INSERT INTO progress_updates (idea_id, state, note, private, at)
SELECT inc.idea_id, (ARRAY['on_track','at_risk'])[1 + u % 2], 'Update ' || u, u = 2, now() - (u || ' days')::interval
FROM incubations inc, generate_series(1, 2) AS u;

INSERT INTO outcomes (idea_id, result, summary, benefits_text, money_saved_a_year, people_affected, lessons,
                      publish, at)
SELECT i.id, i.status, 'What happened to ' || i.id, 'Benefits ' || i.id, 10000, 500,
       CASE WHEN i.status = 'closed' THEN 'Lessons ' || i.id END, false, now() - interval '1 day'
FROM ideas i WHERE i.status IN ('implemented', 'closed');

INSERT INTO case_studies (idea_id, slug, state, result, title, summary, problem, what_was_done, benefits,
                          money_saved_a_year, department, theme, sponsor_name, created_at, updated_at, published_at)
SELECT i.id, 'bench-idea-' || i.id || '-' || lower(i.reference), 'published', 'implemented', i.title,
       'Summary ' || i.id, i.problem, 'Done ' || i.id, 'Benefits ' || i.id, 10000, i.department, 'Health',
       'Sponsor', now(), now(), now() - (i.id || ' seconds')::interval
FROM ideas i WHERE i.status = 'implemented';
ANALYZE;
"""


def load(database_url: str, ideas: int) -> None:
    shares, low = [], 0.0
    for status, share in SHARES:
        shares.append(f"('{status}', {low}, {low + share if status != SHARES[-1][0] else 1.01})")
        low += share
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute(LOAD.format(shares=", ".join(shares), ideas=ideas))  # type: ignore[arg-type]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("IDEAHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--ideas", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="requests a route, after 10 to warm up")
    options = parser.parse_args()

    from infra import people
    from shared.config import Settings
    from shared.db.migrate import upgrade

    run = uuid.uuid4().hex[:8]
    scratch = f"ideahub_pages_{run}"
    with psycopg.connect(libpq_url(options.pg_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{scratch}"')  # type: ignore[arg-type]
    database_url = make_url(options.pg_url).set(database=scratch).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix=f"ideahub-pages-{run}-"))
    child = None
    try:
        upgrade(database_url)
        started = time.perf_counter()
        load(database_url, options.ideas)
        print(f"loaded {options.ideas:,} ideas in {time.perf_counter() - started:.1f} s")
        settings = Settings(_env_file=None, database_url=database_url, data_dir=tmp)  # type: ignore[call-arg]
        token = people.new_api_token(settings, "sponsor1@bench.example.gov.uk")
        with psycopg.connect(libpq_url(database_url)) as connection:
            size = connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]  # type: ignore[index]
            sponsor_id = connection.execute(
                "SELECT id FROM people WHERE email = 'sponsor1@bench.example.gov.uk'"
            ).fetchone()[0]  # type: ignore[index]
            offer_id, reference = connection.execute(
                "SELECT o.id, i.reference FROM offers o JOIN ideas i ON i.id = o.idea_id "
                "WHERE o.sponsor_id = %s AND o.state = 'open' LIMIT 1",
                (sponsor_id,),
            ).fetchone()  # type: ignore[misc]
            (incubated,) = connection.execute(
                "SELECT i.reference FROM incubations inc JOIN ideas i ON i.id = inc.idea_id "
                "WHERE inc.sponsor_id = %s AND i.status = 'incubating' LIMIT 1",
                (sponsor_id,),
            ).fetchone()  # type: ignore[misc]
            (slug,) = connection.execute("SELECT slug FROM case_studies ORDER BY id LIMIT 1").fetchone()  # type: ignore[misc]
            counts = connection.execute(
                "SELECT (SELECT count(*) FROM offers WHERE sponsor_id = %s AND state = 'open'), "
                "(SELECT count(*) FROM incubations WHERE sponsor_id = %s), "
                "(SELECT count(*) FROM case_studies WHERE state = 'published')",
                (sponsor_id, sponsor_id),
            ).fetchone()
        port = 18000 + random.randrange(1000)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
        env |= {
            "IDEAHUB_DATABASE_URL": database_url,
            "IDEAHUB_DATA_DIR": str(tmp),
            "IDEAHUB_HTTP_PORT": str(port),
            "IDEAHUB_LOG_LEVEL": "WARNING",
            "IDEAHUB_API_RATE_LIMIT": "0/minute",
        }
        child = start_child("serve", [sys.executable, "-m", "infra.cli", "serve"], env=env, cwd=Path.cwd(), log_dir=tmp)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            print(
                f"PostgreSQL database {size}; sponsor 1 has {counts[0]:,} open offers and {counts[1]:,} "  # type: ignore[index]
                f"incubations; {counts[2]:,} case studies published"  # type: ignore[index]
            )
            print(f"{'route':<26}{'status':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
            for label, template in ROUTES:
                path = template.format(
                    offer_id=offer_id, reference=incubated if "incubat" in template else reference, slug=slug
                )
                times, status = [], 0
                for n in range(options.requests + 10):
                    start = time.perf_counter()
                    answer = client.get(path)
                    elapsed = (time.perf_counter() - start) * 1000
                    status = answer.status_code
                    if n >= 10:
                        times.append(elapsed)
                print(
                    f"{label:<26}{status:>7}{statistics.median(times):>9.1f}"
                    f"{percentile(times, 0.95):>9.1f}{percentile(times, 0.99):>9.1f}"
                )
    finally:
        if child is not None:
            stop_child(child)
        with psycopg.connect(libpq_url(options.pg_url), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

"""How ideas are submitted: `direct` (intake's own code in this process) or `http` (POST to `ideahub serve`).

Both offer `flood(first, count)`, as fast as the intake takes them, and `paced(first, count, rate)`, one
every 1/rate seconds; both return a `Submitted` with the new ideas' ids and the client-side times.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from texts import Texts

from services.intake.handlers import submit_idea
from services.intake.schemas import Submission
from shared.db.engine import make_engine, make_session_factory
from shared.db.uow import unit_of_work


@dataclass
class Submitted:
    ids: list[int] = field(default_factory=list)
    sent_at: dict[int, float] = field(default_factory=dict)  # id -> client time the submission started
    seconds: list[float] = field(default_factory=list)  # each submission's duration, as the client saw it
    failures: list[str] = field(default_factory=list)
    first_sent: float = 0.0
    last_answered: float = 0.0

    def started(self) -> float:
        sent = time.time()
        self.first_sent = min(self.first_sent or sent, sent)
        return sent

    def record(self, idea_id: int, sent: float) -> None:
        answered = time.time()
        self.ids.append(idea_id)
        self.sent_at[idea_id] = sent
        self.seconds.append(answered - sent)
        self.last_answered = max(self.last_answered, answered)


# One idea in COPY_EVERY is a reworded near-copy of an earlier one, for the duplicate search to find.
COPY_EVERY = 20
_texts: Texts | None = None


def idea_text(index: int) -> tuple[str, str, str, str]:
    """Idea `index`'s department, title, problem and proposal: the same for the same index in every run."""
    global _texts
    if _texts is None:
        _texts = Texts(seed=0)
    if index % COPY_EVERY == COPY_EVERY - 1 and index >= COPY_EVERY:
        original = idea_text(index - COPY_EVERY // 2)
        _texts.rng.seed(index)
        return _texts.reworded(original, change=0.1)
    _texts.rng.seed(index)
    return _texts.idea()


def idea_payload(index: int) -> dict[str, Any]:
    department, title, problem, proposal = idea_text(index)
    return {
        "title": title[:200],
        "problem": problem,
        "idea": proposal,
        "email": f"staff{index}@bench.example.gov.uk",
        "department": department,
    }


def payloads(first_index: int, count: int) -> list[dict[str, Any]]:
    """The ideas of a run, made before it starts: making up their text is the bench's work, not the pipeline's."""
    return [idea_payload(first_index + i) for i in range(count)]


class Intake(Protocol):
    def flood(self, first_index: int, count: int) -> Submitted: ...
    def paced(self, first_index: int, count: int, rate: float) -> Submitted: ...
    def close(self) -> None: ...


class DirectIntake:
    """`submit_idea()`, the function POST /api/v1/ideas calls, one transaction per idea, in a plain loop.

    A loop, not threads: on two cores it submits as fast as 2 or 4 threads do, for less CPU per idea.
    """

    def __init__(self, database_url: str, departments: list[str]) -> None:
        self.engine = make_engine(database_url, pool_size=1)
        self.factory = make_session_factory(self.engine)
        self.departments = departments

    def _submit(self, payload: dict[str, Any], into: Submitted) -> None:
        sent = into.started()
        try:
            with unit_of_work(self.factory) as session:
                created = submit_idea(session, Submission(**payload), channel="api", departments=self.departments)
        except Exception as exc:
            into.failures.append(f"{exc!r}"[:300])
            return
        into.record(created.id, sent)

    def flood(self, first_index: int, count: int) -> Submitted:
        result = Submitted()
        for payload in payloads(first_index, count):
            self._submit(payload, result)
        return result

    def paced(self, first_index: int, count: int, rate: float) -> Submitted:
        """One at a time on schedule; a submission that overruns its slot delays the next."""
        result = Submitted()
        start = time.monotonic()
        for i, payload in enumerate(payloads(first_index, count)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._submit(payload, result)
        return result

    def close(self) -> None:
        self.engine.dispose()


class HttpIntake:
    """POST /api/v1/ideas to `ideahub serve`: `concurrency` requests in flight when flooding."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        self.base_url = base_url
        self.concurrency = concurrency

    def _client(self, connections: int) -> httpx.AsyncClient:
        # Expire idle connections before uvicorn's 5 s keep-alive timeout does, so no request races a closing socket.
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2)
        return httpx.AsyncClient(base_url=self.base_url, timeout=120, limits=limits)

    @staticmethod
    async def _post(client: httpx.AsyncClient, payload: dict[str, Any], into: Submitted) -> None:
        sent = into.started()
        try:
            response = await client.post("/api/v1/ideas", json=payload)
            if response.status_code != 202:
                into.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            idea_id = int(response.json()["id"])
        except httpx.HTTPError as exc:
            into.failures.append(f"{exc!r} after {time.time() - sent:.2f} s")
            return
        into.record(idea_id, sent)

    async def _flood(self, first_index: int, count: int) -> Submitted:
        result = Submitted()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
            async with gate:
                await self._post(client, payload, result)

        ideas = payloads(first_index, count)
        async with self._client(self.concurrency) as client:
            await asyncio.gather(*(one(client, payload) for payload in ideas))
        return result

    async def _paced(self, first_index: int, count: int, rate: float) -> Submitted:
        result = Submitted()
        loop = asyncio.get_running_loop()
        ideas = payloads(first_index, count)
        async with self._client(256) as client:
            start = loop.time()
            tasks = []
            for i, payload in enumerate(ideas):
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self._post(client, payload, result)))
            await asyncio.gather(*tasks)
        return result

    def flood(self, first_index: int, count: int) -> Submitted:
        return asyncio.run(self._flood(first_index, count))

    def paced(self, first_index: int, count: int, rate: float) -> Submitted:
        """One request every 1/`rate` seconds, whatever the answers take."""
        return asyncio.run(self._paced(first_index, count, rate))

    def close(self) -> None:
        pass

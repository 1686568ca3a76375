"""One Settings class, read from `IDEAHUB_*` environment variables or a `.env` file.

`load_settings()` is the only way in: it turns a validation failure into a
`ConfigError` whose message names the environment variable at fault.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

ENV_PREFIX = "IDEAHUB_"


class ConfigError(Exception):
    """Configuration that Ideahub cannot start with; the message names the variable."""


@dataclass(frozen=True)
class Duration:
    """A deadline length: whole working days (`10d`) or wall-clock seconds (`30s`, `15m`, `2h`)."""

    amount: int
    unit: Literal["d", "s"]

    _PATTERN = re.compile(r"^\s*(\d+)\s*([dsmh])\s*$")

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, Duration):
            return value
        match = cls._PATTERN.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration: use working days like '10d' or seconds like '30s'")
        amount, unit = int(match[1]), match[2]
        if amount <= 0:
            raise ValueError("a duration must be more than zero")
        if unit == "d":
            return cls(amount, "d")
        return cls(amount * {"s": 1, "m": 60, "h": 3600}[unit], "s")

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


# NoDecode: pydantic-settings would otherwise try to read these values as JSON before our parser sees them.
DurationField = Annotated[Duration, NoDecode, BeforeValidator(Duration.parse), PlainSerializer(str)]


@dataclass(frozen=True)
class Rate:
    """A rate limit such as `60/minute`: at most `count` in every `per_seconds`; `0/minute` turns it off."""

    count: int
    per_seconds: int

    _PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
    _UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

    @classmethod
    def parse(cls, value: object) -> Rate:
        if isinstance(value, Rate):
            return value
        match = cls._PATTERN.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a rate: write it like '60/minute' (second, minute, hour or day)")
        return cls(int(match[1]), cls._UNITS[match[2]])

    @property
    def unlimited(self) -> bool:
        return self.count == 0

    def __str__(self) -> str:
        unit = {v: k for k, v in self._UNITS.items()}[self.per_seconds]
        return f"{self.count}/{unit}"


RateField = Annotated[Rate, NoDecode, BeforeValidator(Rate.parse), PlainSerializer(str)]


def _broker_scheme(url: str | None) -> str | None:
    if url is None:
        return None
    scheme = urlsplit(url).scheme
    if scheme not in {"redis", "rediss", "redis+socket", "amqp", "amqps"}:
        raise ValueError(f"unsupported broker {scheme!r}: use redis://, rediss://, redis+socket:// or amqp://")
    return url


def _webhook_url(url: str | None) -> str | None:
    if url is None or url == "":
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("the webhook must be an http:// or https:// URL")
    if len(url) > 300:
        raise ValueError("the webhook URL must be at most 300 characters")
    return url


def _database_scheme(url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith(("sqlite", "postgresql")):
        raise ValueError("unsupported database: use sqlite:///PATH or postgresql+psycopg://...")
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Path("var")
    database_url: Annotated[str | None, AfterValidator(_database_scheme)] = None
    broker_url: Annotated[str | None, AfterValidator(_broker_scheme)] = None
    # Prefix for queue and exchange names, so that several installations (or test runs) share a broker.
    queue_prefix: str = Field(default="", pattern=r"^[a-z0-9_.-]*$")

    public_url: str = "http://localhost:8000"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    smtp_intake_port: int = Field(default=2525, ge=1, le=65535)
    intake_address: str = "ideas@localhost"
    smtp_url: str | None = None
    mail_from: str = "Ideahub <ideahub@localhost>"
    secret_key: str | None = None
    max_message_bytes: int = Field(default=10 * 1024 * 1024, gt=0)

    departments: Annotated[list[str], NoDecode] = ["Benefits", "Health", "Housing", "Justice", "Transport", "Other"]
    reviewers_per_idea: int = Field(default=2, ge=1, le=10)
    decision_min_mean: float = Field(default=3.0, ge=1, le=5)
    decision_min_accept_share: float = Field(default=0.5, ge=0, le=1)  # strictly more than this share
    max_offers: int = Field(default=3, ge=1)
    review_deadline: DurationField = Duration(10, "d")
    info_deadline: DurationField = Duration(10, "d")
    offer_deadline: DurationField = Duration(5, "d")
    milestone_grace: DurationField = Duration(5, "d")
    # How long before a deadline the person is reminded (same units as the deadlines).
    review_reminder: DurationField = Duration(2, "d")
    info_reminder: DurationField = Duration(2, "d")
    offer_reminder: DurationField = Duration(1, "d")
    # How often each worker sweeps for due reminders and deadlines: those further away than the horizon
    # when they were set (a worker would hold their delayed message in memory all that time), and any
    # whose delayed message was lost.
    deadline_sweep_seconds: float = Field(default=60.0, gt=0)
    deadline_message_horizon_seconds: float = Field(default=3600.0, ge=0)

    # Processes and threads. Database-heavy stages do better with more processes and fewer threads.
    worker_processes: int = Field(default=1, ge=1, le=32)
    worker_threads: int = Field(default=4, ge=1, le=64)
    # Messages each worker process fetches ahead per queue (dramatiq's default is twice the threads).
    worker_prefetch: int = Field(default=32, ge=1, le=10_000)
    relay_batch: int = Field(default=500, ge=1, le=10_000)
    relay_idle_ms: int = Field(default=20, ge=1, le=5_000)
    # How long an idle Redis consumer waits before polling again (dramatiq's default is 1 s).
    redis_poll_ms: int = Field(default=50, ge=1, le=5_000)
    # After this long without a heartbeat, a Redis worker counts as dead and its unfinished messages
    # go back to their queues (RabbitMQ does this as soon as the connection drops).
    redis_heartbeat_ms: int = Field(default=60_000, ge=1_000)
    # Notifications: where templates may be overridden, how delivery is retried, where the webhook goes.
    templates_dir: Path | None = None
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    # Wait before the second attempt, doubled for each one after, capped by notify_retry_max_seconds.
    notify_retry_seconds: float = Field(default=30.0, gt=0)
    notify_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # How long a delivery may take before the worker doing it counts as dead.
    notify_send_lease_seconds: float = Field(default=120.0, gt=0)
    # How often the notify worker looks for retries due and for deliveries a dead worker left.
    notify_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # An event published this long ago that a topic subscriber has no record of is handled from the outbox
    # (on Redis, also one a subscriber took and died with: the bus does not redeliver it).
    event_catch_up_seconds: int = Field(default=300, ge=1)
    webhook_url: Annotated[str | None, AfterValidator(_webhook_url)] = None
    webhook_secret: str | None = None
    # Which events go to the webhook: routing patterns such as `idea.#`, comma separated.
    webhook_events: Annotated[list[str], NoDecode] = ["#"]
    # Intake: request and mail limits, attachments, rate limits, the shared IMAP mailbox, duplicates.
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    api_rate_limit: RateField = Rate(120, 60)  # per client (bearer token, else address), per server process
    mail_rate_limit: RateField = Rate(20, 3600)  # per sender address
    intake_allowed_domains: Annotated[list[str], NoDecode] = []  # sender domains allowed by email; empty: any
    max_attachments: int = Field(default=5, ge=0, le=50)
    max_attachment_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    attachment_types: Annotated[list[str], NoDecode] = [
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "text/plain",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    ]
    imap_url: str | None = None  # imap://user:password@host:143/INBOX or imaps://...
    imap_processed_folder: str = "Processed"
    imap_poll_seconds: float = Field(default=30.0, gt=0)
    duplicate_threshold: float = Field(default=0.5, gt=0, le=1)
    # Staff sign-in: how long an emailed link works, how long a browser stays signed in, and how many
    # links one address may be sent (more requests get the same answer and no email).
    sign_in_link_minutes: int = Field(default=15, ge=1, le=24 * 60)
    session_hours: int = Field(default=8, ge=1, le=24 * 31)
    sign_in_rate_limit: RateField = Rate(5, 3600)
    # The govuk-frontend package's `dist/govuk` folder; default: node_modules beside the code.
    assets_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("departments", "webhook_events", "intake_allowed_domains", "attachment_types", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`A, B` or a JSON list `["A", "B"]`."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                try:
                    return json.loads(value)
                except json.JSONDecodeError:
                    raise ValueError("not a JSON list; write the departments comma separated instead") from None
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("IDEAHUB_WEBHOOK_SECRET must be set with IDEAHUB_WEBHOOK_URL, to sign what is sent")
        return self

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    @property
    def redis_socket(self) -> Path:
        return self.data_path / "redis.sock"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or f"redis+socket://{self.redis_socket}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'ideahub.db'}"

    @property
    def broker_kind(self) -> Literal["redis", "rabbitmq"]:
        return "rabbitmq" if self.effective_broker_url.startswith("amqp") else "redis"

    @property
    def mail_dir(self) -> Path:
        return self.data_path / "mail"

    def queue(self, name: str) -> str:
        return f"{self.queue_prefix}{name}"

    @property
    def events_exchange(self) -> str:
        return f"{self.queue_prefix}ideahub.events"

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_path / "secret_key"
        if not path.exists():
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; bad values raise ConfigError naming each variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:
        raise ConfigError(f"bad configuration: {exc}") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            if error["loc"]:
                problems.append(f"{ENV_PREFIX}{str(error['loc'][0]).upper()}: {error['msg']}")
            else:  # a rule across fields: its message names them
                problems.append(str(error["msg"]).removeprefix("Value error, "))
        raise ConfigError("bad configuration: " + "; ".join(problems)) from None

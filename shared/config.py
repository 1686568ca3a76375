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
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    JsonValue,
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


def _group(name: str) -> dict[str, JsonValue]:
    """The section of the configuration page a setting is listed in (`python -m infra.config_docs`)."""
    return {"group": name}


STORAGE = _group("Storage and broker")
WEB = _group("Web")
INTAKE = _group("Email intake")
REVIEW = _group("Review and matching")
DEADLINES = _group("Deadlines")
NOTIFY = _group("Notifications")
SIGN_IN = _group("Staff sign-in")
WORKERS = _group("Workers and relay")
LOGS = _group("Logs")


class Settings(BaseSettings):
    """Every setting, with the description the configuration page (docs/configuration.md) is generated from.

    A description may end with `Unset: ...` (or `Empty: ...`), saying what the setting's empty default means;
    the page shows that in its default column.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)

    # Storage and broker
    data_dir: Path = Field(
        default=Path("var"),
        description="The data folder, relative to the working folder: the SQLite database, the embedded Redis "
        "(socket, append-only file, log), `.eml` mail and the generated secret key.",
        json_schema_extra=STORAGE,
    )
    database_url: Annotated[str | None, AfterValidator(_database_scheme)] = Field(
        default=None,
        description="The database: `sqlite:///PATH` or `postgresql+psycopg://USER:PASSWORD@HOST/DATABASE`. "
        "Unset: SQLite at `DATA_DIR/ideahub.db`.",
        json_schema_extra=STORAGE,
    )
    broker_url: Annotated[str | None, AfterValidator(_broker_scheme)] = Field(
        default=None,
        description="The broker: Redis (`redis://HOST:6379/0`, `rediss://...`, `redis+socket:///PATH`) or RabbitMQ "
        "(`amqp://USER:PASSWORD@HOST:5672//`). Unset: the embedded Redis that `ideahub up` starts, on the socket "
        "`DATA_DIR/redis.sock`.",
        json_schema_extra=STORAGE,
    )
    queue_prefix: str = Field(
        default="",
        pattern=r"^[a-z0-9_.-]*$",
        description="Put before every queue and exchange name (lower-case letters, digits, `_`, `.` and `-`), so "
        "that several installations, or test runs, can share one broker.",
        json_schema_extra=STORAGE,
    )
    secret_key: str | None = Field(
        default=None,
        description="The key that signs sign-in links and form (CSRF) tokens; every process of an installation "
        "needs the same one. Unset: a key generated once into `DATA_DIR/secret_key`.",
        json_schema_extra=STORAGE,
    )

    # Web
    public_url: str = Field(
        default="",
        description="The address people reach Ideahub at: the base of every link in emails and in API answers "
        "(`status_url`), and the address `ideahub up` prints. With `https://`, cookies are marked Secure. "
        "Unset: `http://localhost:PORT`, PORT being `IDEAHUB_HTTP_PORT`.",
        json_schema_extra=WEB,
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="The address `ideahub serve` listens on; email intake (`ideahub smtp`) listens there too.",
        json_schema_extra=WEB,
    )
    http_port: int = Field(
        default=8000, ge=1, le=65535, description="The port `ideahub serve` listens on.", json_schema_extra=WEB
    )
    max_request_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="The largest HTTP request body: a larger one is refused with 413, counted as it arrives when "
        "the request gives no length.",
        json_schema_extra=WEB,
    )
    api_rate_limit: RateField = Field(
        default=Rate(120, 60),
        description="Requests one client address may make, in each server process, to the routes that anyone may "
        "call to create or change something: `POST /api/v1/ideas`, the answer route, the web forms and the "
        "sign-in forms. Above it: 429 with `Retry-After`. `0/minute` turns the limit off.",
        json_schema_extra=WEB,
    )
    assets_dir: Path | None = Field(
        default=None,
        description="The GOV.UK Frontend files the pages use (the `govuk-frontend` package's `dist/govuk` folder). "
        "Unset: `node_modules/govuk-frontend/dist/govuk` beside the code, where `npm ci` puts it.",
        json_schema_extra=WEB,
    )

    # Email intake
    smtp_intake_port: int = Field(
        default=2525,
        ge=1,
        le=65535,
        description="The port email intake (`ideahub smtp`, or `ideahub serve --smtp`) listens on, at "
        "`IDEAHUB_HTTP_HOST`.",
        json_schema_extra=INTAKE,
    )
    intake_address: str = Field(
        default="ideas@localhost",
        description="The one address email intake takes mail for; any other recipient is refused (550).",
        json_schema_extra=INTAKE,
    )
    max_message_bytes: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="The largest message email intake takes; a larger one is refused during DATA (552).",
        json_schema_extra=INTAKE,
    )
    intake_allowed_domains: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Sender domains (and their subdomains) email intake takes ideas from, comma separated; "
        "mail from others is refused and not answered. Empty: any domain.",
        json_schema_extra=INTAKE,
    )
    mail_rate_limit: RateField = Field(
        default=Rate(20, 3600),
        description="Messages one sender address may send to email intake; above it a temporary refusal (450), "
        "so that their server tries again later.",
        json_schema_extra=INTAKE,
    )
    max_attachments: int = Field(
        default=5,
        ge=0,
        le=50,
        description="Attachments kept with an emailed idea; the acknowledgement names the others as not kept.",
        json_schema_extra=INTAKE,
    )
    max_attachment_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1,
        description="The largest attachment kept with an emailed idea.",
        json_schema_extra=INTAKE,
    )
    attachment_types: Annotated[list[str], NoDecode] = Field(
        default=[
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
        ],
        description="Attachment types kept, comma separated; both the declared type and the file name's must be "
        "in the list.",
        json_schema_extra=INTAKE,
    )
    imap_url: str | None = Field(
        default=None,
        description="A shared mailbox for `ideahub imap` to take ideas from: `imap://USER:PASSWORD@HOST:143/INBOX` "
        "or `imaps://...`; `ideahub up` starts the poller when it is set. Unset: no IMAP intake.",
        json_schema_extra=INTAKE,
    )
    imap_processed_folder: str = Field(
        default="Processed",
        description="The mailbox folder handled mail is moved to.",
        json_schema_extra=INTAKE,
    )
    imap_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often `ideahub imap` looks for new mail.", json_schema_extra=INTAKE
    )

    # Review and matching
    departments: Annotated[list[str], NoDecode] = Field(
        default=["Benefits", "Health", "Housing", "Justice", "Transport", "Other"],
        description="The departments an idea may name, comma separated (or a JSON list).",
        json_schema_extra=REVIEW,
    )
    duplicate_threshold: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="The similarity (share of words in common, 0 to 1) from which screening shows an existing idea "
        "to reviewers as a likely duplicate.",
        json_schema_extra=REVIEW,
    )
    reviewers_per_idea: int = Field(
        default=2, ge=1, le=10, description="Reviewers assigned to each idea at screening.", json_schema_extra=REVIEW
    )
    decision_min_mean: float = Field(
        default=3.0,
        ge=1,
        le=5,
        description="The lowest mean overall score (1 to 5) with which an idea can be accepted.",
        json_schema_extra=REVIEW,
    )
    decision_min_accept_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="More than this share of the reviews in must recommend accept for an idea to be accepted.",
        json_schema_extra=REVIEW,
    )
    max_offers: int = Field(
        default=3,
        ge=1,
        description="Sponsors offered an idea, one after another, before it is `unmatched`.",
        json_schema_extra=REVIEW,
    )

    # Deadlines
    review_deadline: DurationField = Field(
        default=Duration(10, "d"),
        description="Time a reviewer has for a review task: working days (`10d`; weekends and England and Wales "
        "bank holidays skipped) or plain time (`30s`, `15m`, `2h`), as every deadline here.",
        json_schema_extra=DEADLINES,
    )
    info_deadline: DurationField = Field(
        default=Duration(10, "d"),
        description="Time a submitter has to answer a reviewer's question.",
        json_schema_extra=DEADLINES,
    )
    offer_deadline: DurationField = Field(
        default=Duration(5, "d"),
        description="Time a sponsor has to answer an offer.",
        json_schema_extra=DEADLINES,
    )
    milestone_grace: DurationField = Field(
        default=Duration(5, "d"),
        description="How long after a milestone's due date, not reached, the sponsor and the administrators are "
        "told it is overdue (once), and the incubation shows as overdue.",
        json_schema_extra=DEADLINES,
    )
    review_reminder: DurationField = Field(
        default=Duration(2, "d"),
        description="How long before a review deadline the reviewer is reminded.",
        json_schema_extra=DEADLINES,
    )
    info_reminder: DurationField = Field(
        default=Duration(2, "d"),
        description="How long before a question's deadline the submitter is reminded.",
        json_schema_extra=DEADLINES,
    )
    offer_reminder: DurationField = Field(
        default=Duration(1, "d"),
        description="How long before an offer's deadline the sponsor is reminded.",
        json_schema_extra=DEADLINES,
    )
    milestone_reminder: DurationField = Field(
        default=Duration(2, "d"),
        description="How long before a milestone's due date the sponsor is reminded, if it is not reached.",
        json_schema_extra=DEADLINES,
    )
    deadline_sweep_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often each review, matching and incubation worker looks for reminders and deadlines that "
        "are due: those beyond the horizon below, and any whose delayed message was lost.",
        json_schema_extra=DEADLINES,
    )
    deadline_message_horizon_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="A reminder or deadline nearer than this gets a delayed message and is on time to the second; "
        "a later one is left to the sweep (a worker would hold its delayed message in memory all that time).",
        json_schema_extra=DEADLINES,
    )

    # Notifications
    smtp_url: str | None = Field(
        default=None,
        description="The mail server for outgoing email: `smtp://HOST:25`, `smtp+starttls://USER:PASSWORD@HOST:587` "
        "or `smtps://USER:PASSWORD@HOST:465`. Unset: each email is written as an `.eml` file to `DATA_DIR/mail`.",
        json_schema_extra=NOTIFY,
    )
    mail_from: str = Field(
        default="Ideahub <ideahub@localhost>", description="The sender of outgoing mail.", json_schema_extra=NOTIFY
    )
    templates_dir: Path | None = Field(
        default=None,
        description="A folder of email templates that replace ours file by file (`submitter/received.txt`, ...); "
        "read when the notify worker starts. Unset: ours only.",
        json_schema_extra=NOTIFY,
    )
    notify_max_attempts: int = Field(
        default=8,
        ge=1,
        le=50,
        description="Attempts at a notification before it is `failed` and administrators are told.",
        json_schema_extra=NOTIFY,
    )
    notify_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        description="The wait before a notification's second attempt, doubled for each attempt after it, give or "
        "take a tenth.",
        json_schema_extra=NOTIFY,
    )
    notify_retry_max_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="The longest wait between two attempts (with the defaults, 8 attempts span about an hour).",
        json_schema_extra=NOTIFY,
    )
    notify_send_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a delivery may take before its worker counts as dead: an email it was sending "
        "becomes `unconfirmed`, other channels are tried again.",
        json_schema_extra=NOTIFY,
    )
    notify_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often each notify worker looks for retries that are due and deliveries a dead worker left.",
        json_schema_extra=NOTIFY,
    )
    event_catch_up_seconds: int = Field(
        default=300,
        ge=1,
        description="An event published this long ago that notify has no record of is handled from the outbox: "
        "one a broker lost, or, on Redis, one a notify worker took and died with.",
        json_schema_extra=NOTIFY,
    )
    webhook_url: Annotated[str | None, AfterValidator(_webhook_url)] = Field(
        default=None,
        description="An `http://` or `https://` URL that receives events as signed JSON. Unset: no webhook.",
        json_schema_extra=NOTIFY,
    )
    webhook_secret: str | None = Field(
        default=None,
        description="The key the webhook's requests are signed with (HMAC-SHA256); required with "
        "`IDEAHUB_WEBHOOK_URL`.",
        json_schema_extra=NOTIFY,
    )
    webhook_events: Annotated[list[str], NoDecode] = Field(
        default=["#"],
        description="Which events go to the webhook: topic patterns, comma separated, such as "
        "`idea.#,offer.made.v1` (`*` stands for one word, `#` for any number).",
        json_schema_extra=NOTIFY,
    )

    # Staff sign-in
    sign_in_link_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="How long an emailed sign-in link works.",
        json_schema_extra=SIGN_IN,
    )
    session_hours: int = Field(
        default=8,
        ge=1,
        le=24 * 31,
        description="How long a signed-in browser stays signed in, from signing in.",
        json_schema_extra=SIGN_IN,
    )
    sign_in_rate_limit: RateField = Field(
        default=Rate(5, 3600),
        description="Sign-in links one email address may be sent; more requests get the same page and no email.",
        json_schema_extra=SIGN_IN,
    )

    # Workers and relay
    worker_processes: int = Field(
        default=1,
        ge=1,
        le=32,
        description="Worker processes `ideahub up` (and `ideahub worker`) starts. Database-heavy stages do better "
        "with more processes and fewer threads.",
        json_schema_extra=WORKERS,
    )
    worker_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads in each worker process: dramatiq's for the queued stages, and notify's delivery "
        "threads (notify takes its events on one thread a process).",
        json_schema_extra=WORKERS,
    )
    worker_prefetch: int = Field(
        default=32,
        ge=1,
        le=10_000,
        description="Messages each worker process fetches ahead from each queue (dramatiq's default is twice the "
        "threads).",
        json_schema_extra=WORKERS,
    )
    redis_poll_ms: int = Field(
        default=50,
        ge=1,
        le=5_000,
        description="How long an idle worker waits on Redis before it looks again (dramatiq's default is 1,000).",
        json_schema_extra=WORKERS,
    )
    redis_heartbeat_ms: int = Field(
        default=60_000,
        ge=1_000,
        description="After this long without a heartbeat a Redis worker counts as dead, and its unfinished "
        "messages go back to their queues (RabbitMQ does that as soon as the connection drops).",
        json_schema_extra=WORKERS,
    )
    relay_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Outbox rows the relay reads and publishes in one pass.",
        json_schema_extra=WORKERS,
    )
    relay_idle_ms: int = Field(
        default=20,
        ge=1,
        le=5_000,
        description="The relay's pause between passes while events keep coming, and on SQLite whenever the outbox "
        "is empty (on PostgreSQL a commit wakes an idle relay, which also looks every second).",
        json_schema_extra=WORKERS,
    )

    # Logs
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="The lowest level logged.", json_schema_extra=LOGS
    )
    log_format: Literal["json", "console"] = Field(
        default="json",
        description="`json`: one JSON object a line, each with `idea_reference`, `event_id` and `correlation_id` "
        "where known; `console`: plain lines, easier to read in a terminal.",
        json_schema_extra=LOGS,
    )

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
    def _public_url_follows_the_port(self) -> Settings:
        """Unset, the public URL is this machine on `http_port`, so that links in emails reach the server."""
        if not self.public_url:
            # The model is frozen; this runs while it is being made, before anyone has read it.
            object.__setattr__(self, "public_url", f"http://localhost:{self.http_port}")
        return self

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


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; bad values raise ConfigError naming each variable."""
    try:
        return Settings(**overrides)
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

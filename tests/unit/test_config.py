"""Settings come from IDEAHUB_* variables (or .env); bad values stop start-up with the variable named."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from shared.config import ConfigError, Duration, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No IDEAHUB_* variable from the caller's shell, and no .env file from the repository."""
    for name in list(os.environ):
        if name.startswith("IDEAHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_without_configuration_the_database_is_sqlite_in_the_data_folder(tmp_path):
    settings = load_settings()
    assert settings.database_url is None
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'ideahub.db'}"


def test_without_configuration_the_broker_is_the_embedded_redis_socket(tmp_path):
    settings = load_settings()
    assert settings.embedded_broker
    assert settings.broker_kind == "redis"
    assert settings.effective_broker_url == f"redis+socket://{tmp_path.resolve() / 'var' / 'redis.sock'}"


def test_without_configuration_the_defaults_apply():
    settings = load_settings()
    assert settings.http_port == 8000
    assert settings.reviewers_per_idea == 2
    assert settings.decision_min_mean == 3.0
    assert settings.review_deadline == Duration(10, "d")
    assert settings.offer_deadline == Duration(5, "d")
    assert settings.departments == ["Benefits", "Health", "Housing", "Justice", "Transport", "Other"]
    assert settings.queue("review") == "review"


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        ("IDEAHUB_HTTP_PORT", "9001", "http_port", 9001),
        ("IDEAHUB_REVIEWERS_PER_IDEA", "3", "reviewers_per_idea", 3),
        ("IDEAHUB_DECISION_MIN_MEAN", "3.5", "decision_min_mean", 3.5),
        ("IDEAHUB_LOG_FORMAT", "console", "log_format", "console"),
        ("IDEAHUB_BROKER_URL", "amqp://guest:guest@rabbit:5672/", "broker_url", "amqp://guest:guest@rabbit:5672/"),
        (
            "IDEAHUB_DATABASE_URL",
            "postgresql+psycopg://ideahub@db/ideahub",
            "database_url",
            "postgresql+psycopg://ideahub@db/ideahub",
        ),
        ("IDEAHUB_DEPARTMENTS", '["Health", "Housing"]', "departments", ["Health", "Housing"]),
    ],
)
def test_an_environment_variable_sets_its_setting(monkeypatch, variable, value, attribute, expected):
    monkeypatch.setenv(variable, value)
    assert getattr(load_settings(), attribute) == expected


def test_a_rabbitmq_url_selects_rabbitmq_and_no_embedded_broker(monkeypatch):
    monkeypatch.setenv("IDEAHUB_BROKER_URL", "amqp://guest:guest@rabbit:5672/")
    settings = load_settings()
    assert settings.broker_kind == "rabbitmq"
    assert not settings.embedded_broker


def test_the_data_folder_moves_the_default_database_and_socket(monkeypatch, tmp_path):
    monkeypatch.setenv("IDEAHUB_DATA_DIR", str(tmp_path / "elsewhere"))
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'elsewhere' / 'ideahub.db'}"
    assert settings.redis_socket == tmp_path.resolve() / "elsewhere" / "redis.sock"


def test_the_queue_prefix_is_put_before_queue_and_exchange_names(monkeypatch):
    monkeypatch.setenv("IDEAHUB_QUEUE_PREFIX", "run42.")
    settings = load_settings()
    assert settings.queue("review") == "run42.review"
    assert settings.events_exchange == "run42.ideahub.events"


def test_departments_may_be_given_as_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("IDEAHUB_DEPARTMENTS", "A, B")
    assert load_settings().departments == ["A", "B"]


def test_departments_given_directly_as_a_comma_separated_string_are_split():
    assert load_settings(departments="A, B").departments == ["A", "B"]


@pytest.mark.parametrize(
    ("value", "expected"), [("30s", Duration(30, "s")), ("2h", Duration(7200, "s")), ("15d", Duration(15, "d"))]
)
def test_a_deadline_may_be_set_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("IDEAHUB_REVIEW_DEADLINE", value)
    assert load_settings().review_deadline == expected


def test_a_deadline_given_directly_is_parsed():
    assert load_settings(review_deadline="30s").review_deadline == Duration(30, "s")


def test_a_dot_env_file_in_the_working_folder_is_read_and_the_environment_wins(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("IDEAHUB_HTTP_PORT=9100\nIDEAHUB_HTTP_HOST=0.0.0.0\n")
    monkeypatch.setenv("IDEAHUB_HTTP_HOST", "10.0.0.1")
    settings = load_settings()
    assert settings.http_port == 9100
    assert settings.http_host == "10.0.0.1"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IDEAHUB_HTTP_PORT", "abc"),
        ("IDEAHUB_HTTP_PORT", "70000"),
        ("IDEAHUB_HTTP_PORT", "0"),
        ("IDEAHUB_REVIEW_DEADLINE", "soon"),
        ("IDEAHUB_BROKER_URL", "kafka://x"),
        ("IDEAHUB_DATABASE_URL", "mysql://x"),
        ("IDEAHUB_REVIEWERS_PER_IDEA", "0"),
        ("IDEAHUB_REVIEWERS_PER_IDEA", "11"),
        ("IDEAHUB_DECISION_MIN_MEAN", "6"),
        ("IDEAHUB_LOG_LEVEL", "LOUD"),
        ("IDEAHUB_QUEUE_PREFIX", "Has Spaces"),
    ],
)
def test_a_bad_value_raises_config_error_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_every_bad_variable_is_named_at_once(monkeypatch):
    monkeypatch.setenv("IDEAHUB_HTTP_PORT", "abc")
    monkeypatch.setenv("IDEAHUB_BROKER_URL", "kafka://x")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "IDEAHUB_HTTP_PORT" in str(raised.value)
    assert "IDEAHUB_BROKER_URL" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10d", Duration(10, "d")),
        ("30s", Duration(30, "s")),
        ("15m", Duration(900, "s")),
        ("2h", Duration(7200, "s")),
        (" 3 d ", Duration(3, "d")),
    ],
)
def test_a_duration_is_working_days_or_seconds(text, expected):
    assert Duration.parse(text) == expected


@pytest.mark.parametrize("text", ["0d", "0s", "x", "-1s", "", "1.5h", "10", "d", "10w"])
def test_a_duration_that_is_not_a_positive_whole_amount_of_a_known_unit_is_refused(text):
    with pytest.raises(ValueError, match="duration"):
        Duration.parse(text)


def test_a_duration_prints_in_the_form_it_parses_from():
    for duration in (Duration(10, "d"), Duration(900, "s")):
        assert Duration.parse(str(duration)) == duration


def test_the_public_url_follows_the_port_when_it_is_not_set(monkeypatch):
    monkeypatch.setenv("IDEAHUB_HTTP_PORT", "9123")
    settings = load_settings()
    assert settings.public_url == "http://localhost:9123"
    assert isinstance(settings.public_url, str)


def test_a_public_url_that_is_set_is_kept_whatever_the_port(monkeypatch):
    monkeypatch.setenv("IDEAHUB_HTTP_PORT", "9123")
    monkeypatch.setenv("IDEAHUB_PUBLIC_URL", "https://ideas.example.gov.uk")
    assert load_settings().public_url == "https://ideas.example.gov.uk"


def test_without_configuration_the_public_url_is_localhost_on_the_default_port():
    assert load_settings().public_url == "http://localhost:8000"


def test_the_public_url_stays_frozen_once_made():
    settings = load_settings(http_port=9123)
    with pytest.raises(ValidationError):
        settings.public_url = "http://elsewhere"  # type: ignore[misc]

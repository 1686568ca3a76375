"""The `ideahub` command answers mistakes with one clear line and exit status 2, never a stack trace, and
keeps its answer on stdout apart from the log lines on stderr."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from infra.cli.common import settings


def ideahub(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")} | env
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.processes
def test_people_are_added_and_given_tokens_with_clear_answers_to_every_mistake(tmp_path: Path) -> None:
    add = ("users", "add", "--email", "Rita@Example.gov.uk", "--name", "Rita [Reviewer]", "--role", "reviewer")

    before_setup = ideahub(tmp_path, *add)
    assert before_setup.returncode == 2
    assert "run `ideahub db upgrade`" in before_setup.stderr
    assert "Traceback" not in before_setup.stderr

    assert ideahub(tmp_path, "db", "upgrade").returncode == 0
    added = ideahub(tmp_path, *add)
    assert added.returncode == 0, added.stderr
    assert "Added Rita [Reviewer] <rita@example.gov.uk> as reviewer" in added.stdout

    again = ideahub(tmp_path, *add)
    assert (again.returncode, again.stderr.strip()) == (2, "rita@example.gov.uk is already registered")

    bad = ideahub(tmp_path, "users", "add", "--email", "rita", "--name", "R", "--role", "boss")
    assert bad.returncode == 2
    assert "email: enter an email address like name@example.gov.uk" in bad.stderr

    token = ideahub(tmp_path, "users", "token", "rita@example.gov.uk")
    assert token.returncode == 0
    assert token.stdout.strip().startswith("ih_")
    unknown = ideahub(tmp_path, "users", "token", "nobody@example.gov.uk")
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "nobody is registered as nobody@example.gov.uk")

    stage = ideahub(tmp_path, "worker", "reviw")
    assert stage.returncode == 2
    assert "unknown stage reviw" in stage.stderr


@pytest.mark.processes
def test_a_command_prints_only_its_answer_and_logs_only_warnings_unless_a_log_level_is_set(tmp_path: Path) -> None:
    assert ideahub(tmp_path, "db", "upgrade").returncode == 0
    added = ideahub(tmp_path, "users", "add", "--email", "sol@example.gov.uk", "--name", "Sol", "--role", "sponsor")
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines() == ["Added Sol <sol@example.gov.uk> as sponsor (id 1)."]
    assert added.stderr == ""
    status = ideahub(tmp_path, "status", COLUMNS="100")
    assert status.returncode == 0, status.stderr
    assert "Ideas by status" in status.stdout
    assert (json_lines(status.stdout), status.stderr) == ([], "")

    ideas = tmp_path / "ideas.csv"
    ideas.write_text("title,problem,idea,email\nQuiet logs,P,I,jo@example.gov.uk\n")
    quiet = ideahub(tmp_path, "import", "ideas", str(ideas))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.splitlines() == ["1 created, 0 already imported, 0 rows with errors."]
    assert json_lines(quiet.stderr) == []  # the import logs `import.finished` at INFO

    # Asked for, in the environment or in .env: the log lines come, on stderr only.
    loud = ideahub(tmp_path, "import", "ideas", str(ideas), IDEAHUB_LOG_LEVEL="INFO")
    assert loud.stdout.splitlines() == ["0 created, 1 already imported, 0 rows with errors."]
    assert [line["event"] for line in json_lines(loud.stderr)] == ["import.finished"]
    (tmp_path / ".env").write_text("IDEAHUB_LOG_LEVEL=INFO\n")
    from_file = ideahub(tmp_path, "import", "ideas", str(ideas))
    assert json_lines(from_file.stdout) == []
    assert [line["event"] for line in json_lines(from_file.stderr)] == ["import.finished"]


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


@pytest.mark.processes
@pytest.mark.usefixtures("restored_logging")
def test_components_that_run_until_stopped_log_info_by_default_and_every_command_follows_a_level_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name in [name for name in os.environ if name.startswith("IDEAHUB_")]:
        monkeypatch.delenv(name)

    def level(**kwargs: bool) -> str:
        settings(**kwargs)
        return logging.getLevelName(logging.getLogger().level)

    assert (level(long_running=True), level()) == ("INFO", "WARNING")
    monkeypatch.setenv("IDEAHUB_LOG_LEVEL", "DEBUG")
    assert (level(long_running=True), level()) == ("DEBUG", "DEBUG")
    monkeypatch.setenv("IDEAHUB_LOG_LEVEL", "INFO")
    assert level() == "INFO"

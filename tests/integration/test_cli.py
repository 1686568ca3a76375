"""The `ideahub` command answers mistakes with one clear line and exit status 2, never a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def ideahub(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )


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

"""A real browser (Debian's headless Chromium, driven by Playwright) sends an idea through `ideahub serve`."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.db.migrate import upgrade
from shared.web import pages
from tests.conftest import free_port, unavailable
from tests.helpers import start_component, wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GENERIC_HEADER_BLACK = "rgb(11, 12, 12)"  # GOV.UK Frontend's generic header; unstyled it would be transparent


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`ideahub serve` on a free port over a fresh SQLite database; no broker or workers are needed to submit."""
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    env = {
        "IDEAHUB_DATA_DIR": str(data),
        "IDEAHUB_DATABASE_URL": f"sqlite:///{data / 'ideahub.db'}",
        "IDEAHUB_HTTP_PORT": str(port),
        "IDEAHUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDEAHUB_QUEUE_PREFIX": "browser.",
    }
    upgrade(env["IDEAHUB_DATABASE_URL"])
    process = start_component(data, "serve", env, "serve")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/healthz") or process.poll() is not None, timeout=60, what="ideahub serve")
        assert process.poll() is None, (data / "serve.log").read_text()[-3000:]
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def test_a_submitter_sends_an_idea_with_the_keyboard_and_follows_it(
    server: str, browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    styled = (pages.DEFAULT_ASSETS / "govuk-frontend.min.css").is_file()
    page = browser.new_page()
    page.set_default_timeout(10_000)

    page.goto(f"{server}/ideas/new")
    assert page.title() == "Send an idea – Ideahub"
    if styled:
        background = page.eval_on_selector(".govuk-generic-header", "e => getComputedStyle(e).backgroundColor")
        assert background == GENERIC_HEADER_BLACK
        # The GOV.UK script ran: the body is marked as supported and the module initialised.
        assert "govuk-frontend-supported" in str(page.get_attribute("body", "class"))
    page.screenshot(path=shots / "1-form.png", full_page=True)

    page.fill("#title", "Text claimants when a letter is on its way")
    page.fill("#problem", "Claimants ring us to ask whether we have written.")
    # "What is your idea?" is left empty.
    page.select_option("#department", "Benefits")
    page.fill("#email", "sam@example.gov.uk")
    page.click("button:has-text('Send idea')")

    page.wait_for_selector(".govuk-error-summary")
    assert page.title().startswith("Error: ")
    assert page.inner_text(".govuk-error-summary__list") == "Describe your idea"
    assert page.input_value("#title") == "Text claimants when a letter is on its way"  # nothing typed is lost
    assert page.input_value("#department") == "Benefits"
    page.screenshot(path=shots / "2-error.png", full_page=True)
    page.click(".govuk-error-summary__list a[href='#idea']")
    assert _focused_id(page) == "idea"

    # From here on, the keyboard only: type the answer, Tab to the button, press Enter.
    page.keyboard.type("Send a text message when the letter is posted.")
    for _ in range(20):
        if page.evaluate("document.activeElement.textContent.trim()") == "Send idea":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the Send idea button cannot be reached with Tab")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/ideas/confirmation/"))
    panel = page.inner_text(".govuk-panel")
    reference = re.search(r"IH-\d{4}-\d{6}", panel)
    assert reference, panel
    page.screenshot(path=shots / "3-confirmation.png", full_page=True)

    page.click("#status-link")
    page.wait_for_url(re.compile(r"/status/[A-Za-z0-9_-]+$"))
    assert page.inner_text("h1") == "Text claimants when a letter is on its way"
    assert page.inner_text("#status") == "Received"
    assert reference[0] in page.inner_text(".govuk-caption-l")
    page.screenshot(path=shots / "4-status.png", full_page=True)

    with capsys.disabled():
        print(f"\nscreenshots: {shots}")  # noqa: T201 - where to look, asked for by whoever runs it

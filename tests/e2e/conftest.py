"""Fixtures of the browser journeys: Debian's Chromium through Playwright, a live server.

Chromium is the system's (``/usr/bin/chromium``, Debian package ``chromium``; another path
with ``REGISTRY_CHROMIUM``): the project never downloads a browser.  Where it is missing
the journeys are skipped with the reason, unless ``REGISTRY_REQUIRE_BROWSER=1`` (CI), where
they fail instead.

Every journey gets a fresh browser context and a ``Journey`` that saves a screenshot of
each step to ``tests/artifacts/<test>/``; when the test fails, the page's screenshot and
HTML are saved there too (``failure.png``, ``failure.html``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import CHROMIUM_ENV, chromium_available, chromium_path, launch
from tests.e2e.journeys import (
    USERS,
    Journey,
    JourneyState,
    start_registry,
)
from tests.e2e.server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
REQUIRE_ENV = "REGISTRY_REQUIRE_BROWSER"


def _unavailable(reason: str) -> None:
    """Skip (developer machine) or fail (CI sets REGISTRY_REQUIRE_BROWSER=1)."""
    if os.environ.get(REQUIRE_ENV, "").strip() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the browser journeys must run here)",
                    pytrace=False)
    pytest.skip(f"{reason}; install it with `apt-get install chromium` "
                f"(or set {CHROMIUM_ENV} to a Chromium binary)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    """Keep each phase's report on the test item, so fixtures can see a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not chromium_available():
        _unavailable(f"Chromium not found at {chromium_path()}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live_server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A migrated SQLite registry with one site and a user per role, served by gunicorn."""
    server = start_registry(tmp_path_factory.mktemp("e2e"), USERS)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def journey_state() -> JourneyState:
    """What the module's journeys share (the clinician's patient and its visits)."""
    return JourneyState()


def _artifact_folder(node: pytest.Item) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name)
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        old.unlink()
    return folder


@pytest.fixture
def journey(browser: Any, live_server: LiveServer,
            request: pytest.FixtureRequest) -> Iterator[Journey]:
    folder = _artifact_folder(request.node)
    context = browser.new_context(base_url=live_server.base_url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(20_000)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None)
    # Sub-resources (CSS, scripts, charts) that fail; pages themselves are checked by tests.
    page.on("response", lambda response: console_errors.append(
        f"{response.status} {response.url}") if response.status >= 400
        and response.request.resource_type not in {"document"} else None)
    trip = Journey(page=page, server=live_server, artifacts=folder,
                   console_errors=console_errors)
    yield trip
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for current in context.pages:
            try:
                current.screenshot(path=str(folder / "failure.png"), full_page=True)
                (folder / "failure.html").write_text(current.content(), encoding="utf-8")
            except Exception as error:  # a page may already be gone
                (folder / "failure-note.txt").write_text(f"page not captured: {error}")
        (folder / "gunicorn-error.log").write_text(live_server.log_tail(200))
    context.close()

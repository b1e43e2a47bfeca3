"""The idle-session warning in a real browser (Debian's Chromium, a gunicorn server).

The page's clock is Playwright's (the server's is real): 28½ minutes on the page bring
the warning, announced through its ``role="alert"`` region; "Stay signed in" asks the
server to restart the idle limit; 30 minutes without it say the session has ended.
Uses the journeys' browser (``tests/e2e/conftest.py``): skipped without Chromium, except
where ``REGISTRY_REQUIRE_BROWSER=1`` (CI) asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from registry import migrate
from registry.auth.services import create_user
from registry.db import get_session, writing
from registry.models import Site
from tests.e2e.server import LiveServer
from tests.fixtures.accounts import PASSWORD
from tests.integrity.helpers import committed_app

EMAIL = "warned@example.org"


@pytest.fixture(scope="module")
def server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("expiry")
    url = f"sqlite:///{folder / 'registry.sqlite3'}"
    migrate.upgrade(url)
    app = committed_app(url)
    with app.app_context(), writing():
        session = get_session()
        session.add(Site(code="EXP", name="Expiry Clinic"))
        session.flush()
        create_user(session, email=EMAIL, full_name="Warned User", role="clinician",
                    password=PASSWORD, site_codes=["EXP"])
        session.commit()
    app.extensions["registry.engine"].dispose()
    live = LiveServer(instance=folder / "instance", database_url=url, today=date(2026, 6, 1),
                      workers=1)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=server.base_url)
    page = context.new_page()
    page.clock.install()
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/home")
    yield page
    context.close()


def test_the_warning_comes_two_minutes_before_the_end_and_stay_signed_in_works(page):
    message = page.locator("#session-expiry-message")
    stay = page.get_by_role("button", name="Stay signed in")
    assert message.text_content() == ""
    assert not stay.is_visible()
    page.clock.run_for("27:00")
    assert message.text_content() == ""
    page.clock.run_for("01:30")
    assert "Your session will end in about 2 minutes" in message.text_content()
    assert page.get_by_role("alert").filter(has_text="Your session will end").count() == 1
    assert stay.is_visible()
    assert page.evaluate("document.activeElement.id") == "session-expiry-stay"
    with page.expect_response("**/account/session") as answer:
        stay.click()
    assert answer.value.status == 200
    assert answer.value.json()["seconds_left"] > 1700
    page.wait_for_function("document.getElementById('session-expiry-message')"
                           ".textContent === 'You are still signed in.'")
    assert not stay.is_visible()
    page.clock.run_for("30:30")
    assert "Your session has ended" in message.text_content()
    assert not stay.is_visible()

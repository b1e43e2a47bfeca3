"""A summary chart opened as an image of its own ("Open image") in Chromium, under the
registry's content security policy: drawn in its colours, with no CSP violation.

matplotlib's own SVG styles its shapes with ``style=""`` and a ``<style>`` element, which
``style-src 'self'`` blocks in an SVG document: the same chart unconverted is checked too,
to show what the conversion (``charts.csp_safe_svg``) prevents.
"""

from __future__ import annotations

from typing import Any

import pytest

from registry.research import charts
from registry.security import CONTENT_SECURITY_POLICY
from tests.research.test_summary_charts import summary

pytestmark = [pytest.mark.browser]

ORIGIN = "http://registry.test"
BLUE = "rgb(31, 119, 180)"  # matplotlib's first colour, the first group's bars


@pytest.fixture
def chromium(browser: Any) -> Any:
    """The session's Chromium (one Playwright per test session: see conftest)."""
    return browser


def open_svg(chromium: Any, svg: bytes) -> dict[str, Any]:
    """Serve ``svg`` as the registry does (its CSP header), open it, and report what the
    browser drew and which console errors it gave."""
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.route(f"{ORIGIN}/**", lambda route: route.fulfill(
        status=200, body=svg, content_type="image/svg+xml",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY}))
    try:
        page.goto(f"{ORIGIN}/research/cohorts/all/charts/responders.svg")
        drawn = page.evaluate("""() => ({
            root: document.documentElement.tagName,
            title: (document.querySelector('title') || {}).textContent,
            bars: Array.from(document.querySelectorAll('g[id^="patch_"] path'))
                .map((shape) => getComputedStyle(shape).fill),
            legend: Array.from(document.querySelectorAll('text'))
                .map((text) => text.textContent)})""")
    finally:
        context.close()
    return {**drawn, "errors": errors}


def test_standalone_svg_draws_under_the_csp(chromium):
    data = summary()
    shown = open_svg(chromium, charts.render(data, "responders", "svg"))
    assert shown["root"] == "svg"
    assert shown["title"] == "OMERACT-OARSI responder rate by timepoint"
    assert BLUE in shown["bars"], shown["bars"]
    assert "Female (n = 9)" in shown["legend"]
    assert not shown["errors"], shown["errors"]


def test_matplotlibs_own_svg_would_break_under_the_csp(chromium, monkeypatch):
    """The check above can fail: unconverted, the browser refuses the inline style."""
    monkeypatch.setattr(charts, "csp_safe_svg", lambda svg, name=None: svg)
    shown = open_svg(chromium, charts.render(summary(), "responders", "svg"))
    assert BLUE not in shown["bars"]
    assert any("Content Security Policy" in error for error in shown["errors"]), shown

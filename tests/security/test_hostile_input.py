"""Hostile input over every route, generated from the app's URL map.

For each route (GET and POST), as a role allowed on it (admin; a researcher for the
research pages; nobody for sign-in), with real ids from the ``world`` fixture:
- huge numbers (2**31, 2**63, 10**400) and odd text in every URL part;
- ``page`` = 1e20, 400 digits, -1, abc;
- a NUL byte in every query parameter and every field of the route's rendered form;
- ``inf``, ``nan``, ``-inf``, ``1e308``, ``0001-01-01`` and ``9999-12-31`` in every field;
- a file part in every form field.

The forms are read from the rendered pages (the route's own GET page, else the page that
shows a form posting to it), filled as a browser submits them (blank fields given valid
values, so that a hostile value meets a form that is otherwise valid), then one field is
changed at a time.  Each request runs in a savepoint that is rolled back afterwards.

Never a 500 (an exception counts as one); nothing written by a GET, nor by any refused
request; a NUL byte or a file part is refused with 400, an id past the database's range
with 4xx; an out-of-range number or date in a number or date field is refused with 4xx;
a value outside a choice field's options, if the form is accepted, is not stored.

Every test here shares one app and one open transaction per backend (``hostile_app``);
a test on a connection of its own would wait for that transaction's locks, so such tests
go elsewhere (the guards one by one: test_request_guard.py).
"""

from __future__ import annotations

import functools
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine

from tests.fixtures.accounts import PASSWORD
from tests.fixtures.app import make_app
from tests.security.form_filling import TODAY as FILL_TODAY
from tests.security.form_filling import controls
from tests.security.hostile_probe import Probe, Route, base_submission, build_world, find_form

TODAY = FILL_TODAY.isoformat()  # the app's today: filled-in dates are plausible against it
URL_PART = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")  # <converter(args):name>
HUGE_NUMBERS = (2**31, 2**63, 10**400)
ODD_KEYS = ("²", "-1", "abc", str(2**63))
BAD_PAGES = ("1e20", "9" * 400, "-1", "abc")
NUL = "nul\x00byte"
NOT_UTF8 = "%C3%28%FF%FE"  # percent-encoded bytes that are not UTF-8
NUMBERS = ("inf", "nan", "-inf", "1e308")
DATES = ("0001-01-01", "9999-12-31")
FILE = object()  # marker: the field sent as a file part
PAGED_LISTS = frozenset({"clinical.patient_list", "audit.index", "followup.worklist",
                         "followup.grid", "audit.patient_history", "audit.visit_history"})
EXTRA_QUERY = ("page", "q", "next")  # query parameters read without a form
# GET routes read by script with the query of another page's form (the live count).
QUERY_FORM_OF = {"research.count": "research.cohorts"}


@functools.cache
def _routes() -> tuple[Route, ...]:
    """Every (rule, method) of the app (built once, on a throw-away app)."""
    folder = tempfile.mkdtemp(prefix="hostile-routes-")
    try:
        app = make_app("sqlite://", Path(folder))
        routes = [Route(rule.endpoint, rule.rule, method, tuple(sorted(rule.arguments)),
                        {name: converter or "default"
                         for converter, name in URL_PART.findall(rule.rule)},
                        "GET" in (rule.methods or set()))
                  for rule in app.url_map.iter_rules() if rule.endpoint != "static"
                  for method in sorted((rule.methods or set()) & {"GET", "POST"})]
        app.extensions["registry.engine"].dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return tuple(sorted(routes, key=lambda route: (route.rule, route.method)))



def _role(endpoint: str) -> str | None:
    if endpoint == "auth.login":
        return None
    return "researcher" if endpoint.startswith("research.") else "admin"


def _sign_in(app: Flask, email: str) -> str:
    """The session cookie of a fresh sign-in (each request starts from a copy of it)."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


@pytest.fixture(scope="module")
def hostile_app(engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Flask, dict[str, Any], dict[str, str]]]:
    """One app per backend for the whole module, on one connection whose transaction is
    rolled back at the end (as the ``app`` fixture does per test), with the ``world`` of
    the route matrix, an admin of its site and a researcher signed in."""
    app = make_app(database_url, tmp_path_factory.mktemp("hostile") / "instance",
                   TODAY=TODAY)
    app.extensions["registry.engine"].dispose()
    connection = engine.connect()
    outer = connection.begin()
    maker = app.extensions["registry.sessionmaker"]
    maker.configure(bind=connection, join_transaction_mode="create_savepoint")
    app.extensions.pop("registry.read_bind", None)
    app.extensions["registry.engine"] = engine
    db = maker()
    world, users = build_world(db)
    db.commit()
    db.close()
    cookies = {role: _sign_in(app, email) for role, email in users.items()}
    yield app, world, cookies
    outer.rollback()
    connection.close()


def _label(value: Any) -> str:
    if value is FILE:
        return "<file part>"
    return repr(value if len(str(value)) < 40 else f"{str(value)[:20]}…({len(str(value))})")


def _attack_url_parts(probe: Probe, route: Route, data: Any) -> None:
    for name in route.arguments:
        values = HUGE_NUMBERS if route.converters.get(name) == "int" \
            else (*HUGE_NUMBERS, *ODD_KEYS)
        for value in values:
            url = probe.url(route, **{name: value})
            outcome = probe.send(route.method, url, data)
            probe.expect(outcome, f"URL part {name}", _label(value), refused=True)


def _attack_query(probe: Probe, route: Route, url: str, fields: list[str]) -> None:
    for name in dict.fromkeys([*fields, *EXTRA_QUERY]):
        outcome = probe.send("GET", url, query={name: NUL})
        probe.expect(outcome, f"query {name}", _label(NUL), status=400)
        outcome = probe.send("GET", url, raw=(name, NOT_UTF8))
        probe.expect(outcome, f"query {name}", NOT_UTF8)
    for name in fields:
        for value in (*NUMBERS, *DATES):
            outcome = probe.send("GET", url, query={name: value})
            probe.expect(outcome, f"query {name}", _label(value))
    for value in BAD_PAGES:
        outcome = probe.send("GET", url, query={"page": value})
        probe.expect(outcome, "query page", _label(value),
                     refused=route.endpoint in PAGED_LISTS)


def _attack_form(probe: Probe, route: Route, url: str, form: Any) -> None:
    base = base_submission(form, route.endpoint, probe.world)
    probe.note_base(probe.send("POST", url, base))
    outcome = probe.send("POST", url, base, query={"note": NUL})
    probe.expect(outcome, "query note", _label(NUL), status=400)
    for control in probe.controls_to_try(form):
        for value in (NUL, *NUMBERS, *DATES, FILE):
            data = [(key, item) for key, item in base if key != control.name]
            if value is FILE:
                files = {control.name: (io.BytesIO(b"=1+1\n"), "values.csv")}
                outcome = probe.send("POST", url, data, files=files)
                probe.expect(outcome, control.name, _label(value), status=400)
                continue
            outcome = probe.send("POST", url, [*data, (control.name, value)])
            if value == NUL:  # and bytes that are not UTF-8, in the same place
                probe.expect(probe.send("POST", url, data, raw=(control.name, NOT_UTF8)),
                             control.name, NOT_UTF8)
            must_refuse = value == NUL or (
                (control.is_number or control.is_date) and value in (*NUMBERS, *DATES))
            probe.expect(outcome, control.name, _label(value), status=400 if value == NUL
                         else None, refused=must_refuse,
                         not_stored=json.dumps(value) if control.is_choice
                         and value not in control.options else None)


@pytest.mark.parametrize("route", _routes(), ids=lambda route: f"{route.method} {route.rule}")
def test_hostile_input(hostile_app, route: Route) -> None:
    """Hostile values in every URL part, query parameter and form field of the route."""
    app, world, cookies = hostile_app
    role = _role(route.endpoint)
    probe = Probe(app, route, role, cookies.get(role or ""), world)
    url = probe.url(route)
    form = find_form(probe, route, url, _routes())
    if form is None and route.endpoint in QUERY_FORM_OF:
        source = next(page for page in _routes() if page.method == "GET"
                      and page.endpoint == QUERY_FORM_OF[route.endpoint])
        form = find_form(probe, source, probe.url(source), _routes())
    data = base_submission(form, route.endpoint, probe.world) \
        if form and route.method == "POST" else []
    _attack_url_parts(probe, route, data if route.method == "POST" else None)
    if route.method == "GET":
        _attack_query(probe, route, url, [control.name for control in controls(form)]
                      if form else [])
    else:
        _attack_form(probe, route, url if form is None else form.action, form
                     or probe.empty_form(url))
    assert probe.failures == [], "\n" + "\n".join(probe.failures)


"""Sending one hostile request at a time and judging what it did (see test_hostile_input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flask import Flask, url_for
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from registry.models import (
    AdverseEvent,
    Base,
    CellProduct,
    Cohort,
    ProductLot,
    SelfReport,
    SelfReportLink,
    Site,
    utcnow,
)
from registry.selfreport import tokens
from tests.clinical.helpers import enrol_data
from tests.fixtures import accounts, clinical
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.webtest import webtest
from tests.security.form_filling import (
    Control,
    FilePart,
    as_submitted,
    controls,
    fill,
    read_forms,
)

Form = webtest.forms.Form

# Refusals that write on purpose: a failed sign-in is counted and audited.
AUDITED_REFUSALS = {"auth.login": {"audit_event", "app_user"}}
# The patient's self-report pages (/r/<token>): a wrong token is counted against the
# client address (registry.throttle), GET or POST; the start page's GET records that the
# link was opened (audited); a section with an invalid answer keeps the valid ones.
SELF_REPORT_PAGES = ("selfreport.start", "selfreport.step", "selfreport.review",
                     "selfreport.submit_form", "selfreport.language", "selfreport.unknown")
AUDITED_REFUSALS.update({endpoint: {"request_throttle"} for endpoint in SELF_REPORT_PAGES})
AUDITED_REFUSALS["selfreport.step"] = {"request_throttle", "audit_event"}
WRITING_GETS = {endpoint: {"request_throttle"} for endpoint in SELF_REPORT_PAGES}
WRITING_GETS["selfreport.start"] = {"request_throttle", "audit_event"}
# Opening a lot's trace and downloading it are audited (registry.lots.routes).
WRITING_GETS.update({"lots.lot_page": {"audit_event"}, "lots.trace_csv": {"audit_event"}})
SIGNING_OUT = frozenset({"auth.logout", "auth.change_password_page"})  # end the session
URL_VALUES = {"kind": "change", "fmt": "svg", "score_code": "vas_pain"}
CHOICES_PER_GROUP = 2  # of many radio groups alike (questionnaire items), try the first two
SKIPPED_CONTROLS = frozenset({"csrf_token"})
FILL_EMAIL = "hostile.fill@example.org"
_SOURCES: dict[tuple[str | None, str], str | None] = {}  # (role, endpoint) -> page endpoint


def build_world(db: Session) -> tuple[dict[str, Any], dict[str, str]]:
    """The route matrix's ``world`` (its own site's half), built once per module: a treated
    patient with visits and a serious adverse event awaiting review, treated with a recalled
    lot of the site (a review due), a locked clinician, a cohort; and an admin of the site
    and a researcher (role -> e-mail)."""
    site = Site(code="HST", name="Hostile input clinic")
    db.add(site)
    db.flush()
    # The shared fixtures' builders, called with this module's session.
    make_patient = clinical.make_patient.__wrapped__(db)
    make_user = accounts.make_user.__wrapped__(db)
    patient = make_patient(site, treatment_date=date(2026, 1, 15))
    event = AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 20),
                         description="swelling", category="swelling", severity_grade=3,
                         serious=True, serious_criterion="hospitalisation",
                         relatedness="possibly", outcome="ongoing")
    clinician = make_user("clinician", sites=[site])
    clinician.failed_logins = 9
    clinician.locked_until = datetime(2999, 1, 1, tzinfo=UTC)
    cohort = Cohort(name="hostile input cohort", definition={})
    product = CellProduct(name="Hostile BMAC", origin="autologous",
                          tissue_source="bone_marrow", preparation="bmac")
    db.add_all([event, cohort, product])
    db.flush()
    lot = ProductLot(product_id=product.id, lot_number="HOSTILE-1", site_id=site.id,
                     release_status="recalled", recalled_at=utcnow())
    db.add(lot)
    db.flush()
    patient.treatment.lot_id = lot.id
    db.flush()
    world = {"lot_id": lot.id, "product_id": product.id, "patient_id": patient.id,
             "visit_id": patient.visits[1].id, "event_id": event.id,
             "site_id": site.id, "user_id": clinician.id, "cohort_id": cohort.id,
             "protocol_id": patient.protocol_id}
    users = {"admin": make_user("admin", sites=[site]).email,
             "researcher": make_user("researcher").email}
    world["admin_email"] = users["admin"]
    world.update(_self_report_link(db, patient))
    return world, users


def _self_report_link(db: Session, patient: Any) -> dict[str, Any]:
    """A working, opened self-report link to one of the patient's visits (its token and
    first section), so that the patient's pages show their forms."""
    token, hashed = tokens.new_token()
    visit = patient.visits[2]
    report = SelfReport(visit_id=visit.id, patient_id=patient.id, site_id=patient.site_id,
                        language="en", instruments=["vas", "grc"], draft={}, skipped=[],
                        state="open", opened_at=datetime(2026, 5, 1, tzinfo=UTC))
    db.add(report)
    db.flush()
    db.add(SelfReportLink(self_report_id=report.id, token_hash=hashed, channel="link",
                          expires_on=date(2999, 12, 31)))
    db.flush()
    return {"token": token, "step": 1, "rest": "unknown/place"}


@dataclass(frozen=True)
class Route:
    endpoint: str
    rule: str
    method: str
    arguments: tuple[str, ...]
    converters: dict[str, str]
    has_get: bool


@dataclass
class Outcome:
    method: str
    status: int
    error: str | None
    written: dict[str, int]  # table -> rows added or removed
    new_audit_values: list[str]
    location: str = ""


@dataclass
class Probe:
    """Requests as one signed-in user (by session cookie), each rolled back afterwards."""

    app: Flask
    route: Route
    role: str | None
    cookie: str | None
    world: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    base_status: int | None = None
    sent: int = 0
    _baseline: tuple[dict[str, int], int] | None = None  # row counts, last audit id

    @property
    def connection(self) -> Connection:
        return self.app.extensions["registry.sessionmaker"].kw["bind"]

    def url(self, route: Route, **override: Any) -> str:
        values = {"key": self.world["cohort_id"], **URL_VALUES, **self.world, **override}
        with self.app.test_request_context():
            return url_for(route.endpoint, **{name: values[name] for name in route.arguments})

    def _counts(self) -> dict[str, int]:
        tables = Base.metadata.sorted_tables
        row = self.connection.execute(text("SELECT " + ", ".join(
            f"(SELECT count(*) FROM {table.name})" for table in tables))).one()
        return {table.name: count for table, count in zip(tables, row, strict=True)}

    def send(self, method: str, url: str, data: Any = None, *, query: dict[str, str] | None
             = None, files: dict[str, Any] | None = None, raw: tuple[str, str] | None = None
             ) -> Outcome:
        """One request in a savepoint: its status, error and the rows it wrote.

        ``raw`` is a field with an already percent-encoded value (bytes that are not
        UTF-8), added to the query string of a GET or to the form body of a POST."""
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        body: MultiDict[str, Any] | bytes | None = None
        if data is not None or files:
            body = MultiDict([(name, value.part() if isinstance(value, FilePart) else value)
                              for name, value in data or []])
            for name, part in (files or {}).items():
                body.add(name, part)
        options = {}
        if raw is not None:
            encoded = f"{quote(raw[0])}={raw[1]}"
            if method == "GET":
                url += ("&" if "?" in url else "?") + encoded
            else:
                body = "&".join(filter(None, [urlencode(list(data or [])), encoded])).encode()
                options["content_type"] = "application/x-www-form-urlencoded"
        client = self.app.test_client()
        if self.cookie:
            client.set_cookie(self.app.config["SESSION_COOKIE_NAME"], self.cookie)
        self.sent += 1
        if self._baseline is None:  # the same before every request: each is rolled back
            self._baseline = (self._counts(), self.connection.scalar(
                text("SELECT max(id) FROM audit_event")) or 0)
        before, last = self._baseline
        savepoint = self.connection.begin_nested()
        try:
            error, location = None, ""
            try:
                response = client.open(url, method=method, data=body, **options)
                status = response.status_code
                location = response.headers.get("Location", "")
                response.close()
            except HTTPException as exception:  # pragma: no cover - answered, not raised
                status, error = exception.code or 500, repr(exception)
            except Exception as exception:  # noqa: BLE001 - any exception is a 500
                status, error = 500, f"{type(exception).__name__}: {exception}"[:300]
            after = self._counts()
            written = {name: after[name] - before[name] for name in after
                       if after[name] != before[name]}
            values = list(self.connection.scalars(text(
                "SELECT new_value FROM audit_event WHERE id > :last AND new_value IS NOT NULL"),
                {"last": last})) if written else []
        finally:
            savepoint.rollback()
        return Outcome(method, status, error, written, values, location)

    def expect(self, outcome: Outcome, where: str, value: str, *, status: int | None = None,
               refused: bool = False, not_stored: str | None = None) -> None:
        """Record a failure unless the outcome meets the rules (module docstring)."""
        problems = []
        if outcome.status >= 500 or outcome.error:
            problems.append("server error")
        allowed = AUDITED_REFUSALS.get(self.route.endpoint, set())
        if outcome.method == "GET" and set(outcome.written) - WRITING_GETS.get(
                self.route.endpoint, set()):
            problems.append("a GET wrote")
        elif outcome.status >= 400 and set(outcome.written) - allowed:
            problems.append("refused but wrote")
        if status is not None and outcome.status != status:
            problems.append(f"expected {status}")
        if refused and not 400 <= outcome.status < 500:
            problems.append("expected a 4xx refusal")
        if not_stored and outcome.status < 400 and any(
                not_stored in stored for stored in outcome.new_audit_values):
            problems.append("stored the value")
        if self.role and self.route.endpoint not in SIGNING_OUT \
                and "/login" in outcome.location:
            problems.append("signed out: nothing was tested")
        if problems:
            self.failures.append(
                f"{self.route.method} {self.route.rule} | {where} = {value} -> "
                f"{outcome.status} {', '.join(problems)}"
                + (f" | wrote {outcome.written}" if outcome.written else "")
                + (f" | {outcome.error}" if outcome.error else ""))

    def note_base(self, outcome: Outcome) -> None:
        """The form as a browser would send it, unchanged: may be refused, never a 500."""
        self.base_status = outcome.status
        self.expect(outcome, "form as rendered and filled", "(valid values)")

    def controls_to_try(self, form: Form) -> list[Control]:
        """Every control, but only the first few of many alike choice groups."""
        seen: dict[tuple[Any, ...], int] = {}
        chosen = []
        for control in controls(form):
            if control.name in SKIPPED_CONTROLS:
                continue
            if control.is_choice:
                key = (control.kind, tuple(control.options), control.name.split("-")[0])
                seen[key] = seen.get(key, 0) + 1
                if seen[key] > CHOICES_PER_GROUP:
                    continue
            chosen.append(control)
        return chosen

    def empty_form(self, url: str) -> Form:
        """For a POST route that no page shows a form for: one free-text field."""
        return Form(None, f'<form method="post" action="{escape(url)}">'
                          '<input type="text" name="note"></form>')

    def get_forms(self, url: str) -> list[Form]:
        """The forms of the page, read by WebTest (with the page as their default action)."""
        browser = webtest.TestApp(self.app)
        if self.cookie:
            browser.set_cookie(self.app.config["SESSION_COOKIE_NAME"], self.cookie)
        page = browser.get(url, expect_errors=True)
        if page.status_int != 200 or page.content_type != "text/html":
            return []
        forms = read_forms(page)
        for form in forms:
            form.action = form.action or url
            form.method = form.method.upper()
        return forms

    def endpoint_of(self, action: str, method: str) -> str | None:
        adapter = self.app.url_map.bind("localhost")
        try:
            endpoint, _args = adapter.match(urlsplit(action).path, method)
        except HTTPException:
            return None
        return str(endpoint)


def _matching(probe: Probe, forms: list[Form], route: Route) -> Form | None:
    for form in forms:
        if form.method == route.method and probe.endpoint_of(form.action, form.method) \
                == route.endpoint:
            return form
    return None


def find_form(probe: Probe, route: Route, url: str, routes: tuple[Route, ...]) -> Form | None:
    """The rendered form that submits to the route: on its own page, else on the page
    (found once by visiting every page) that shows one."""
    if route.has_get:
        form = _matching(probe, probe.get_forms(url), route)
        if form is not None or route.method == "GET":
            return form
    key = (probe.role, route.endpoint)
    if key not in _SOURCES:
        _SOURCES[key] = None
        for page in routes:
            if page.method == "GET" and _matching(
                    probe, probe.get_forms(probe.url(page)), route) is not None:
                _SOURCES[key] = page.endpoint
                break
    source = next((page for page in routes if page.method == "GET"
                   and page.endpoint == _SOURCES[key]), None)
    return None if source is None else _matching(probe, probe.get_forms(probe.url(source)),
                                                 route)


def base_submission(form: Form, endpoint: str, world: dict[str, Any]) -> list[tuple[str, str]]:
    """The form as a browser sends it, blanks filled with valid values (form_filling)."""
    overrides = {"clinical.enrol": enrol_data(world["site_id"]),
                 "auth.login": {"email": world["admin_email"], "password": PASSWORD},
                 }.get(endpoint, {})
    fill(form, FILL_EMAIL, overrides)
    return as_submitted(form)

"""Self-report journeys in Debian's Chromium: the patient on a phone (390×844), staff on a desk.

One registry (SQLite, served by gunicorn) for the module, with a real SMTP server
(aiosmtpd) behind the reminder run.  A Spanish-speaking patient gets the window-open
e-mail, opens its link on the phone, answers half, closes the page, reopens the link in a
fresh browser, finds the answers kept, finishes (the VAS slider by keyboard, the numeric
alternative), reviews and submits; the clinician then reads the scores as self-reported;
a clinic tablet runs the kiosk flow; forged, malformed, revoked and expired tokens get
the same plain page.
"""

from __future__ import annotations

import contextlib
import email.policy
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest

from registry import create_app
from tests.e2e.conftest import ROOT, _artifact_folder
from tests.e2e.journeys import JOURNEY_PASSWORD, USERS, Journey, sign_in
from tests.e2e.self_report import (
    Devices,
    PatientSpec,
    Seeded,
    answer_by_keyboard,
    answer_by_touch,
    answer_line_by_number,
    answer_line_by_slider,
    go_on,
    issue_links,
    links_in,
    load_text_packs,
    message_text,
    patient_check,
    problems_found,
    score_cells,
    seed_patients,
    slider,
    step_number,
)
from tests.e2e.server import AUDIT_KEY, PSEUDONYM_KEY, SECRET_KEY, LiveServer
from tests.fixtures.mail import Inbox, start_smtp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TODAY = date(2026, 6, 1)
SCREENSHOTS = ROOT / "docs" / "screenshots"
# Set to 1 to refresh the README's phone picture (docs/screenshots/self-report-phone-es.png).
UPDATE_SCREENSHOTS = "REGISTRY_UPDATE_SCREENSHOTS"
MARIA = PatientSpec(number=1, language="es", email="maria.sr@example.org",
                    email_reminders=True, family_name="Fernández")
KIOSK = PatientSpec(number=2, language="en", email="kiosk.sr@example.org",
                    family_name="Tabletperson")
REVOKED = PatientSpec(number=3, language="en", email="revoked.sr@example.org",
                      family_name="Revokedperson")
EXPIRING = PatientSpec(number=4, language="en", email="expiring.sr@example.org",
                       family_name="Expiringperson")
# The 3-month window (days 75–120) of patients treated 95 days before TODAY ends at
# TODAY + 25: their links stop working after that day.
AFTER_WINDOW = TODAY + timedelta(days=30)
VAS_ANSWER = 37
PGA_ANSWER = 42


@dataclass
class World:
    server: LiveServer
    inbox: Inbox
    patients: dict[str, Seeded]
    revoked_url: str
    expiring_url: str
    maria_url: str | None = None
    submitted: bool = False
    notes: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The registry (site, clinician, coordinator, three patients, text packs), a mail
    server, and a revoked link, served by gunicorn."""
    inbox = Inbox(policy=email.policy.default)
    smtp = start_smtp(inbox)
    folder = tmp_path_factory.mktemp("e2e-self-report")
    url = f"sqlite:///{folder / 'registry.sqlite3'}"
    server = LiveServer(instance=folder / "instance", database_url=url, today=TODAY)
    server.settings.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
                            "SMTP_SECURITY": "none", "SMTP_SENDER": "registry@clinic.example",
                            "BASE_URL": server.base_url})
    server.instance.mkdir(parents=True)
    server.cli("init")
    server.cli("create-site", "--code", "SRJ", "--name", "Clínica de Rodilla Journey",
               "--timezone", "Europe/Madrid")
    for role in ("clinician", "coordinator"):
        user = USERS[role]
        server.cli("create-user", "--email", user.email, "--name", user.name, "--role", role,
                   "--site", "SRJ", "--password-stdin", stdin=JOURNEY_PASSWORD + "\n")
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(server.instance),
                      "SECRET_KEY": SECRET_KEY, "AUDIT_KEY": AUDIT_KEY,
                      "PSEUDONYM_KEY": PSEUDONYM_KEY, "TODAY": TODAY.isoformat(),
                      "BASE_URL": server.base_url})
    load_text_packs(app)
    seeded = seed_patients(app, "SRJ", TODAY, [MARIA, KIOSK, REVOKED, EXPIRING])
    patients = dict(zip(("maria", "kiosk", "revoked", "expiring"), seeded, strict=True))
    revoked_url, expiring_url = issue_links(
        app, [patients["revoked"].m3_visit_id, patients["expiring"].m3_visit_id],
        channel="link")
    revoke_all(app, patients["revoked"].m3_visit_id)
    app.extensions["registry.engine"].dispose()
    server.start()
    yield World(server=server, inbox=inbox, patients=patients, revoked_url=revoked_url,
                expiring_url=expiring_url)
    server.stop()
    smtp.stop()


def revoke_all(app: Any, visit_id: int) -> None:
    """Revoke every link of the visit's self-report through the service (as staff would)."""
    from sqlalchemy import select

    from registry.db import get_session, writing
    from registry.models import SelfReport
    from registry.selfreport import service

    with app.app_context(), writing():
        session = get_session()
        report = session.scalars(select(SelfReport).where(SelfReport.visit_id == visit_id)).one()
        for link in report.links:
            service.revoke(session, link, user_id=None)
        session.commit()


@pytest.fixture
def devices(browser: Any, world: World, request: pytest.FixtureRequest) -> Iterator[Devices]:
    folder = _artifact_folder(request.node)
    found = Devices(browser=browser, server=world.server, folder=folder)
    yield found
    report = getattr(request.node, "report_call", None)
    for number, context in enumerate(found.contexts):
        if report is not None and report.failed:
            for page in context.pages:
                try:
                    page.screenshot(path=str(folder / f"failure-{number}.png"), full_page=True)
                    (folder / f"failure-{number}.html").write_text(page.content(),
                                                                   encoding="utf-8")
                except Exception as error:  # a closed context has no pages left
                    (folder / f"failure-{number}-note.txt").write_text(str(error))
        with contextlib.suppress(Exception):  # the test may have closed it (a put-away phone)
            context.close()
    if report is not None and report.failed:
        (folder / "gunicorn-error.log").write_text(world.server.log_tail(200))


def reminder_link(world: World) -> str:
    """Run the coordinator's reminder job; the link in the patient's window-open e-mail."""
    world.server.cli("remind")
    mails = world.inbox.to(MARIA.email or "")
    assert mails, f"no reminder e-mail to {MARIA.email}: {[m['To'] for m in world.inbox.messages]}"
    text = message_text(mails[-1])
    found = links_in(text)
    assert found, f"no /r/<token> link in the e-mail:\n{text}"
    assert all(url.startswith(world.server.base_url + "/r/") for url in found), found
    world.notes["mail"] = (str(mails[-1]["Subject"]), text)
    return found[0]


def spanish_patient_answers(devices: Devices, world: World, *, check: bool = True) -> None:
    """The Spanish-speaking patient's journey, from the e-mail to the thank-you page."""
    url = world.maria_url or reminder_link(world)
    world.maria_url = url
    subject, text = world.notes.get("mail", ("", ""))
    # First sitting: the start page, the VAS by slider, the PGA by number; then closed.
    phone = devices.open("phone")
    page = phone.page
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text() == "Su cuestionario"
    assert page.locator(".sr-clinic").inner_text() == "Clínica de Rodilla Journey"
    body = page.locator("body").inner_text()
    for identifying in ("Fernández", "SRJ-", "SR-SRJ", "1958"):
        assert identifying not in body, f"{identifying!r} shown on the patient's page"
    if check:
        patient_check(phone)
    phone.shot("start-es")
    page.get_by_role("link", name="Empezar").click()
    page.wait_for_url(re.compile(r"/r/[^/]+/1$"))
    if check:
        patient_check(phone)
    assert page.get_by_role("button", name="Guardar y continuar").count() == 1
    assert slider(phone).get_attribute("aria-valuetext") == "Todavía sin marcar"
    answer_line_by_slider(phone, VAS_ANSWER)
    page.evaluate("() => window.scrollTo(0, 0)")
    picture = page.screenshot(path=str(phone.artifacts / "phone-es.png"))
    if os.environ.get(UPDATE_SCREENSHOTS, "").strip() in {"1", "true", "yes"}:
        (SCREENSHOTS / "self-report-phone-es.png").write_bytes(picture)
    phone.shot("vas-slider")
    go_on(phone)
    page.wait_for_url(re.compile(r"/r/[^/]+/2$"))
    answer_line_by_number(phone, PGA_ANSWER)
    go_on(phone)
    page.wait_for_url(re.compile(r"/r/[^/]+/3$"))
    if check:
        patient_check(phone)
    phone.shot("section-3")
    phone.page.context.close()  # the phone is put away: nothing but the server keeps state

    # Second sitting, a fresh browser: the answers are there; finish, review, send.
    phone = devices.open("phone")
    page = phone.page
    page.goto(url)
    page.get_by_role("link", name="Continuar").click()
    page.wait_for_url(re.compile(r"/r/[^/]+/3$"))
    page.goto(url.rstrip("/") + "/1")
    assert page.locator("input[type=number]").input_value() == str(VAS_ANSWER)
    assert slider(phone).get_attribute("aria-valuenow") == str(VAS_ANSWER)
    page.goto(url.rstrip("/") + "/2")
    assert page.locator("input[type=number]").input_value() == str(PGA_ANSWER)
    page.goto(url.rstrip("/") + "/3")
    steps = int(page.locator("progress").get_attribute("max") or 0)
    assert steps >= 4, f"only {steps} sections offered"
    while True:
        current = step_number(phone)
        if page.locator("fieldset.sr-question").count():
            if current % 2:
                answer_by_keyboard(phone)
            else:
                answer_by_touch(phone, skip_last=True)
        elif page.locator("input[type=number]").count():
            answer_line_by_number(phone, 50)
        if check:
            patient_check(phone)
        phone.shot(f"section-{current}")
        go_on(phone)
        if current == steps:
            break
        page.wait_for_url(re.compile(rf"/r/[^/]+/{current + 1}$"))
    page.wait_for_url(re.compile(r"/r/[^/]+/review$"))
    if check:
        patient_check(phone)
    phone.shot("review")
    review = page.locator("main").inner_text()
    assert str(VAS_ANSWER) in review, review[:500]
    assert str(PGA_ANSWER) in review, review[:500]
    assert "Omitida" in review, "the skipped question is not shown as skipped"
    page.locator("form.sr-submit button[type=submit]").click()
    page.wait_for_url(re.compile(r"/r/[^/]+/submit$"))  # the thank-you page answers the POST
    if check:
        patient_check(phone)
    phone.shot("thank-you")
    thanks = page.locator("h1").inner_text()
    assert thanks == "Gracias"
    assert page.locator("form").count() == 0, "the thank-you page offers a form"
    world.notes["thanks"] = thanks
    world.submitted = True

    # The link again, later: only "thank you".
    again = devices.open("phone")
    again.page.goto(url)
    assert again.page.locator("h1").inner_text() == thanks
    assert again.page.locator("form, input, a.sr-button").count() == 0
    again.page.goto(url.rstrip("/") + "/1")
    assert re.search(r"/r/[^/]+$", again.path()), again.path()  # back to thank-you
    assert again.page.locator("h1").inner_text() == thanks
    again.shot("thank-you-again")
    assert subject
    assert text


def test_spanish_patient_answers_from_the_reminder_on_a_phone(devices: Devices,
                                                              world: World) -> None:
    spanish_patient_answers(devices, world)
    subject, text = world.notes["mail"]
    assert "Clínica de Rodilla Journey" in subject
    assert "visita" in subject.lower(), f"the reminder is not in Spanish: {subject}"
    assert not devices.errors, devices.errors
    problems = problems_found(devices)
    assert not problems, "accessibility problems:\n" + "\n".join(problems)


def test_clinician_sees_the_self_reported_scores_and_the_mode(devices: Devices,
                                                              world: World) -> None:
    if not world.submitted:  # run on its own: the patient answers first (no checks)
        spanish_patient_answers(devices, world, check=False)
    maria = world.patients["maria"]
    desk = devices.open("desk")
    page = desk.page
    sign_in(desk, "clinician")
    home = page.locator(f"tr[data-self-report-visit='{maria.m3_visit_id}']")
    assert home.count() == 1, "the new self-report is not on the clinician's home page"
    assert maria.study_id in home.inner_text()
    home.get_by_role("link", name=maria.study_id).click()
    page.wait_for_url(re.compile(rf"/patients/{maria.patient_id}$"))
    desk.check_page()
    desk.shot("patient-page")
    mark = page.locator("[data-mode=self_link]")
    assert mark.count() >= 1
    assert "self-reported by link" in mark.first.inner_text()
    headers = page.locator("table.scores thead").inner_text()
    assert "self-reported by link" in headers, headers
    vas = score_cells(page, "VAS pain")
    assert vas, "no VAS pain score"
    assert vas[-1].startswith(str(VAS_ANSWER)), vas
    assert score_cells(page, "KOOS Pain"), "no KOOS pain score from the patient's answers"
    page.get_by_role("link", name=re.compile(r"^View 3 months visit$")).click()
    page.wait_for_url(re.compile(rf"/visits/{maria.m3_visit_id}$"))
    desk.check_page()
    desk.shot("visit-page")
    panel = page.locator("section.self-report-panel")
    assert "Self-report by link" in panel.inner_text(), panel.inner_text()
    assert page.locator("[data-self-report-state=submitted]").count() == 1
    assert not devices.errors, devices.errors
    problems = problems_found(devices)
    assert not problems, "accessibility problems:\n" + "\n".join(problems)


def test_kiosk_tablet_shows_only_the_patients_form_until_sent(devices: Devices,
                                                              world: World) -> None:
    kiosk = world.patients["kiosk"]
    tablet = devices.open("tablet")
    page = tablet.page
    sign_in(tablet, "clinician", check=False)
    page.goto(f"/patients/{kiosk.patient_id}/visits/{kiosk.m3_visit_id}")
    tablet.shot("visit-before-kiosk")
    page.get_by_role("button", name="Start on this tablet").click()
    page.wait_for_url(re.compile(r"/r/[A-Za-z0-9_-]{43}$"))
    form_url = page.url
    assert page.locator("html").get_attribute("lang") == "en"
    patient_check(tablet)
    tablet.shot("kiosk-start")
    for elsewhere in ("/patients/", f"/patients/{kiosk.patient_id}", "/home", "/login",
                      "/followup/"):
        page.goto(elsewhere)
        assert page.url == form_url, f"{elsewhere} left the kiosk form: {page.url}"
    assert "Tabletperson" not in page.locator("body").inner_text()
    page.get_by_role("link", name=re.compile(r"^Start")).click()
    steps = int(page.locator("progress").get_attribute("max") or 0)
    for _number in range(steps):
        if page.locator("fieldset.sr-question").count():
            answer_by_touch(tablet)
        elif page.locator("input[type=number]").count():
            answer_line_by_number(tablet, 20)
        go_on(tablet)
    page.wait_for_url(re.compile(r"/review$"))
    page.goto("/patients/")  # still locked while unsent
    assert page.url == form_url
    page.goto(form_url + "/review")
    page.locator("form.sr-submit button[type=submit]").click()
    page.wait_for_url(form_url + "/submit")  # the thank-you page answers the POST
    patient_check(tablet)
    tablet.shot("kiosk-thanks")
    assert page.locator("h1").inner_text() == "Thank you"
    page.get_by_role("link", name="Staff sign-in").click()
    page.wait_for_url(re.compile(r"/login"))
    page.goto("/patients/")  # the tablet is released, and signed out
    page.wait_for_url(re.compile(r"/login"))
    assert page.get_by_label("Password").count() == 1
    tablet.shot("kiosk-sign-in")
    sign_in(tablet, "clinician", check=False)
    page.goto(f"/patients/{kiosk.patient_id}")
    mark = page.locator("[data-mode=self_kiosk]")
    assert mark.count() >= 1
    assert "self-reported on clinic tablet" in mark.first.inner_text()
    assert not devices.errors, devices.errors
    problems = problems_found(devices)
    assert not problems, "accessibility problems:\n" + "\n".join(problems)


def refused_page(trip: Journey, url: str, name: str) -> str:
    """Open a refused link: 404, nothing of the patient or clinic, no form; its <main>."""
    page = trip.page
    response = page.goto(url)
    assert response is not None, name
    assert response.status == 404, (name, response.status)
    body = page.locator("body").inner_text()
    for shown in ("Revokedperson", "Expiringperson", "Clínica", "3 months"):
        assert shown not in body, f"{name}: {shown!r} on the refusal page"
    assert page.locator("form, input").count() == 0
    # A dead end with nothing to operate: no focus ring to check.
    patient_check(trip, focus=False)
    trip.shot(f"refused-{name}")
    return str(page.locator("main").inner_html())


def test_forged_revoked_and_expired_tokens_show_the_same_plain_page(devices: Devices,
                                                                    world: World) -> None:
    phone = devices.open("phone")
    forged = "/r/" + "A" * 43
    pages = {name: refused_page(phone, url, name) for name, url in (
        ("forged", forged), ("revoked", world.revoked_url), ("malformed", "/r/not-a-token"),
        ("forged-step", forged + "/1"))}
    # The expiring link works on the window's last days, and not after them.
    response = phone.page.goto(world.expiring_url)
    assert response is not None
    assert response.status == 200
    try:
        world.server.restart(today=AFTER_WINDOW)
        pages["expired"] = refused_page(phone, world.expiring_url, "expired")
    finally:
        world.server.restart(today=TODAY)
    assert len(set(pages.values())) == 1, "the refusals differ: " + ", ".join(pages)
    assert not problems_found(devices), problems_found(devices)

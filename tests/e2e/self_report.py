"""Self-report set-up shared by the browser journeys and the 200-patient benchmark.

``seed_patients`` writes treated patients (with their visit schedule) straight into a
migrated registry database through the app's models, in one app context, the way the test
fixtures do (``tests/fixtures/clinical.py``): the journeys are about the patient's pages,
not the enrolment form, which ``test_journeys.py`` already walks.  ``load_text_packs``
loads the text packs that make the instruments self-reportable; ``issue_links`` hands out
links through the self-report service, as staff pages and reminders do.  ``Devices``
opens browsers (phone, tablet, desk) and the ``answer_*`` helpers operate the patient's
form as a person would: the VAS slider by keyboard, the number box, radio groups by arrow
keys or by touch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import Message
from typing import Any

from flask import Flask
from sqlalchemy import select

from registry.db import get_session, writing
from registry.models import IndexKnee, Patient, PatientIdentity, Site, Treatment, Visit
from registry.scheduling import default_protocol, schedule_visits
from tests.e2e.journeys import Journey
from tests.e2e.server import LiveServer

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
DESK = {"width": 1280, "height": 900}
NARROW = 360  # the narrowest phone the patient's pages must fit without sideways scrolling
# Days since treatment that put the 3-month visit (window 75–120, grace to 105) in its
# open, not yet overdue stretch: the window-open reminder goes out, the link works.
DAYS_SINCE_TREATMENT = 95
LINK = re.compile(r"https?://[^\s<>\"']+/r/[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class PatientSpec:
    """A patient to seed: identity, language and whether e-mail reminders are wanted."""

    number: int
    language: str | None = None
    email: str | None = None
    email_reminders: bool = False
    family_name: str = "Selfreport"


@dataclass(frozen=True)
class Seeded:
    patient_id: int
    study_id: str
    m3_visit_id: int


def seed_patients(app: Flask, site_code: str, today: date,
                  specs: Iterable[PatientSpec]) -> list[Seeded]:
    """Treated patients of the site whose 3-month window is open on ``today``."""
    treatment_date = today - timedelta(days=DAYS_SINCE_TREATMENT)
    seeded = []
    with app.app_context(), writing():
        session = get_session()
        site = session.scalars(select(Site).where(Site.code == site_code)).one()
        protocol = default_protocol(session, site.id)
        existing = len(session.scalars(select(Patient.id).where(Patient.site_id == site.id))
                       .all())
        for spec in specs:
            sequence = existing + spec.number
            patient = Patient(
                study_id=f"{site.code}-{sequence:04d}", site_id=site.id, site_sequence=sequence,
                protocol_id=protocol.id, sex="female", birth_date=date(1958, 3, 9),
                height_cm=165.0, weight_kg=70.0, bmi=25.7, language=spec.language,
                consent_date=treatment_date - timedelta(days=20))
            patient.identity = PatientIdentity(
                site_id=site.id, family_name=spec.family_name, given_name=f"Given{sequence}",
                medical_record_number=f"SR-{site.code}-{sequence:06d}",
                phone=f"+34 600 {sequence:06d}",
                email=spec.email or f"patient{sequence}@example.org",
                preferred_contact="email", email_reminders=spec.email_reminders)
            patient.index_knee = IndexKnee(laterality="right", kl_grade=2, eligibility={})
            session.add(patient)
            session.flush()
            patient.treatment = Treatment(
                treatment_date=treatment_date, cell_source="bmac", product_name="BMAC kit",
                lot_number=f"SR-{sequence:05d}", cell_dose_million=20.0, injections=1,
                co_interventions=[], operator="Dr Journey")
            session.flush()
            visits = schedule_visits(session, patient, treatment_date)
            m3 = next(visit for visit in visits
                      if visit.timepoint is not None and visit.timepoint.code == "m3")
            seeded.append(Seeded(patient.id, patient.study_id, m3.id))
        session.commit()
    return seeded


def load_text_packs(app: Flask) -> list[str]:
    """Load the demo text packs (KOOS, WOMAC … built from the short labels) in every
    language; return what was loaded.  The registry's own wordings (VAS, PGA, NRS, GRC)
    need no pack."""
    from registry import textpacks

    with app.app_context(), writing():
        session = get_session()
        loaded: Any = textpacks.load_demo_packs(session)
        session.commit()
    return [str(item) for item in loaded or []]


def issue_links(app: Flask, visit_ids: list[int], *, channel: str = "email") -> list[str]:
    """A link (its absolute URL) per visit, through the self-report service."""
    from registry.selfreport import service

    urls = []
    with app.app_context(), writing():
        session = get_session()
        base_url = str(app.config["BASE_URL"]).rstrip("/")
        for visit_id in visit_ids:
            visit = session.get(Visit, visit_id)
            assert visit is not None, visit_id
            _link, token = service.issue_link(session, visit, channel=channel,
                                              created_by_id=None)
            urls.append(service.link_url(token, base_url))
        session.commit()
    return urls


def links_in(text: str) -> list[str]:
    """The self-report URLs (``…/r/<43-character token>``) in a text, e.g. an e-mail."""
    return LINK.findall(text)


def message_text(message: Message) -> str:
    """Every text part of an e-mail, decoded (plain text and HTML alike)."""
    parts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode(part.get_content_charset() or "utf-8"))
    return "\n".join(parts)


@dataclass
class Devices:
    """Browser contexts of one test (phones, tablet, desk), each with a Journey."""

    browser: Any
    server: LiveServer
    folder: Any
    contexts: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, kind: str = "phone") -> Journey:
        """A fresh browser: "phone" (390×844, touch, Spanish), "tablet" (820×1180,
        touch) or "desk" (1280×900)."""
        viewport = {"phone": PHONE, "tablet": TABLET}.get(kind, DESK)
        options: dict[str, Any] = {"base_url": self.server.base_url, "viewport": viewport,
                                   "locale": "es-ES" if kind == "phone" else "en-GB"}
        if kind in {"phone", "tablet"}:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        context = self.browser.new_context(**options)
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        # As in conftest: failed sub-resources are caught by the response hook below.
        page.on("console", lambda message: self.errors.append(message.text)
                if message.type == "error" and "Failed to load resource" not in message.text
                else None)
        page.on("response", lambda response: self.errors.append(
            f"{response.status} {response.url}") if response.status >= 400
            and response.request.resource_type != "document" else None)
        trip = Journey(page=page, server=self.server, artifacts=self.folder,
                       console_errors=self.errors)
        trip.steps = len(list(self.folder.glob("*.png")))
        return trip


# --- the patient's pages ---------------------------------------------------------------


def no_horizontal_scroll(trip: Journey) -> None:
    """At 360 px wide the page needs no sideways scrolling; back to the phone after."""
    page = trip.page
    page.set_viewport_size({"width": NARROW, "height": PHONE["height"]})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    page.set_viewport_size(PHONE)
    assert width <= NARROW, f"{trip.path()}: {width} px wide at a {NARROW} px viewport"


def patient_check(trip: Journey, *, focus: bool = True) -> None:
    """The accessibility basics (no staff navigation on the patient's pages) and no
    sideways scrolling at 360 px."""
    trip.check_page(signed_in=False, focus=focus)
    no_horizontal_scroll(trip)


def slider(trip: Journey) -> Any:
    return trip.page.get_by_role("slider")


def answer_line_by_slider(trip: Journey, value: int) -> None:
    """The 0–100 line by keyboard: unmarked at first (no value, no thumb); focused, the
    first ArrowRight marks 1, then Page Up (+10) and the arrows reach ``value``."""
    line = slider(trip)
    assert line.count() == 1, "no slider on the VAS page"
    assert line.get_attribute("aria-valuenow") is None, "the slider starts marked"
    assert line.get_attribute("aria-valuetext"), "an unmarked slider says so"
    assert trip.page.locator(".sr-slider-thumb").is_hidden(), "a thumb before any answer"
    line.focus()
    trip.page.keyboard.press("ArrowRight")  # unmarked: starts from the low end -> 1
    assert line.get_attribute("aria-valuenow") == "1"
    for _ in range(value // 10):
        trip.page.keyboard.press("PageUp")
    for _ in range(value - 1 - 10 * (value // 10)):
        trip.page.keyboard.press("ArrowRight")
    while int(line.get_attribute("aria-valuenow") or 0) > value:
        trip.page.keyboard.press("ArrowLeft")
    assert line.get_attribute("aria-valuenow") == str(value)
    number = trip.page.locator("input[type=number]")
    assert number.input_value() == str(value), "the number box follows the slider"


def answer_line_by_number(trip: Journey, value: int) -> None:
    """The numeric alternative: type the number; the slider follows."""
    number = trip.page.locator("input[type=number]")
    number.fill(str(value))
    assert slider(trip).get_attribute("aria-valuenow") == str(value)


def answer_by_keyboard(trip: Journey) -> int:
    """Every radio group of the section: Tab-less focus on its first box, ArrowRight
    (second answer).  Returns the questions answered."""
    page = trip.page
    groups = page.locator("fieldset.sr-question")
    for index in range(groups.count()):
        group = groups.nth(index)
        group.locator("input[type=radio]").first.focus()
        page.keyboard.press("ArrowRight")
        assert group.locator("input[type=radio]:checked").count() == 1
    return groups.count()


def answer_by_touch(trip: Journey, *, skip_last: bool = False) -> int:
    """Tap the first answer of every group (``skip_last``: tick "skip" on the last)."""
    groups = trip.page.locator("fieldset.sr-question")
    count = groups.count()
    for index in range(count):
        group = groups.nth(index)
        if skip_last and index == count - 1:
            group.locator("input[type=checkbox]").check()
        else:
            group.locator("label").first.tap()
    return count


def go_on(trip: Journey) -> None:
    """Press the section's forward button (save and continue / check answers)."""
    trip.page.locator("form.sr-form button[value=next]").click()
    trip.page.wait_for_load_state()


def step_number(trip: Journey) -> int:
    found = re.search(r"/r/[^/]+/(\d+)$", trip.path())
    assert found, trip.path()
    return int(found.group(1))


def score_cells(page: Any, label: str) -> list[str]:
    """The cells (text) of a row of the patient page's score table."""
    row = page.locator("table.scores tbody tr", has=page.locator(
        "th .score-label", has_text=re.compile(rf"^{re.escape(label)}$")))
    return [cell.strip() for cell in row.locator("td").all_inner_texts()
            if cell.strip() not in {"", "—"}]


def problems_found(devices: Devices) -> list[str]:
    path = devices.folder / "accessibility.txt"
    return path.read_text().splitlines() if path.exists() else []

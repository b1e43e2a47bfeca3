"""Steps of the browser journeys, written as a person uses the pages.

The journey tests (``test_journeys.py``) and the README screenshots (``screenshots.py``)
both drive the pages through these functions.  Questionnaires are answered with the
keyboard only: ``digits`` mode uses the page's enhancement (keys 0–4 choose and move on),
``arrows`` mode only what every browser does with radio groups (Tab to the group, arrow
keys to choose), so both the scripted and the plain form are proven usable without a mouse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.e2e.a11y import page_problems
from tests.e2e.server import LiveServer, sqlite_registry

# "Today" of the clinician's journey, and the patient's dates relative to it.
T0 = date(2026, 3, 16)
TREATMENT_DATE = T0 - timedelta(days=95)
BASELINE_DATE = TREATMENT_DATE - timedelta(days=5)
CONSENT_DATE = TREATMENT_DATE - timedelta(days=20)
M3_DATE = TREATMENT_DATE + timedelta(days=91)
# The coordinator's "today": day 250, inside the 6–12-month window (182–365) and past its
# grace period (target 182 + 14 days), so that visit is overdue.
T1 = TREATMENT_DATE + timedelta(days=250)
APPOINTMENT_DATE = T1 + timedelta(days=9)
PROJECT = "E2E outcomes project"
LOT_NUMBERS = ("L2512-E2E", "L2512-E2E-B")  # the module registry's product lots
JOURNEY_PASSWORD = "journey password for e2e tests"


@dataclass(frozen=True)
class JourneyUser:
    email: str
    name: str


USERS = {role: JourneyUser(f"{role}@e2e.koa-registry.test", f"E2E {role.title()}")
         for role in ("clinician", "coordinator", "researcher")}


@dataclass(frozen=True)
class PatientDetails:
    """The identifying and clinical values typed into the enrolment form."""

    family_name: str = "Journeyperson"
    given_name: str = "Ingeborg"
    medical_record_number: str = "E2E-MRN-471100"
    phone: str = "+47 412 34 567"
    email: str = "ingeborg.journeyperson@example.org"
    birth_date: date = date(1961, 5, 17)
    kl_grade: int = 3

    def identifying_values(self) -> dict[str, str]:
        return {"family name": self.family_name, "given name": self.given_name,
                "record number": self.medical_record_number, "phone": self.phone,
                "e-mail": self.email, "birth date": self.birth_date.isoformat()}


@dataclass(frozen=True)
class VisitAnswers:
    visit_date: date
    vas: int
    pga: int
    womac: int  # the same answer (0–4) to every WOMAC item
    koos: int  # the same answer (0–4) to every KOOS item

    def item_answer(self, instrument: str) -> int:
        return self.womac if instrument == "womac" else self.koos


BASELINE = VisitAnswers(BASELINE_DATE, vas=72, pga=70, womac=3, koos=3)
MONTH3 = VisitAnswers(M3_DATE, vas=24, pga=30, womac=1, koos=1)


@dataclass
class JourneyState:
    """The clinician's patient, shared with the journeys that follow it."""

    patient_id: int | None = None
    study_id: str | None = None
    visit_ids: dict[str, int] = field(default_factory=dict)
    details: PatientDetails = field(default_factory=PatientDetails)


@dataclass
class Journey:
    """A browser page plus screenshots of every step and accessibility findings."""

    page: Any
    server: LiveServer
    artifacts: Path
    console_errors: list[str] = field(default_factory=list)
    steps: int = 0
    problems: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        self.steps += 1
        path = self.artifacts / f"{self.steps:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check_page(self, *, signed_in: bool = True, focus: bool = True) -> None:
        """Run the accessibility basics on the page as it is; findings are kept."""
        found = page_problems(self.page, signed_in=signed_in, focus=focus)
        if found:
            self.problems.extend(found)
            with (self.artifacts / "accessibility.txt").open("a", encoding="utf-8") as out:
                out.write("\n".join(found) + "\n")

    def assert_accessible(self) -> None:
        assert not self.problems, "accessibility problems:\n" + "\n".join(self.problems)

    def flash(self) -> str:
        return " ".join(self.page.locator(".flashes").all_inner_texts())

    def path(self) -> str:
        return re.sub(r"^https?://[^/]+", "", self.page.url)


# --- signing in -----------------------------------------------------------------------


def sign_in(trip: Journey, role: str, *, check: bool = True) -> None:
    page = trip.page
    page.goto("/login")
    if check:
        trip.check_page(signed_in=False)
    page.get_by_label("E-mail").fill(USERS[role].email)
    page.get_by_label("Password").fill(JOURNEY_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/home$"))
    if check:
        trip.check_page()
    trip.shot(f"signed-in-{role}")


# --- clinician ------------------------------------------------------------------------


def enrol_patient(trip: Journey, details: PatientDetails, *, check: bool = True) -> tuple[int,
                                                                                          str]:
    """Fill the enrolment form; return (patient id, study ID)."""
    page = trip.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Enrol patient").click()
    page.wait_for_url(re.compile(r"/patients/new$"))
    if check:
        trip.check_page()
        # Sent empty first: the errors are listed, each tied to its field (aria checks).
        page.get_by_role("button", name="Enrol patient").click()
        page.locator(".error-summary").wait_for()
        assert page.locator("#family_name[aria-invalid=true]").count() == 1
        trip.check_page()
        trip.shot("enrol-errors")
    fill_enrolment(page, details)
    trip.shot("enrol-filled")
    page.get_by_role("button", name="Enrol patient").click()
    page.wait_for_url(re.compile(r"/patients/\d+/treatment$"))
    patient_id = int(re.search(r"/patients/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
    study_id = re.search(r"Patient (\S+) enrolled", trip.flash()).group(1)  # type: ignore[union-attr]
    trip.shot("enrolled")
    return patient_id, study_id


def fill_enrolment(page: Any, details: PatientDetails) -> None:
    """Type ``details`` into the open enrolment form (usual checklist answers)."""
    page.get_by_label("Family name").fill(details.family_name)
    page.get_by_label("Given name").fill(details.given_name)
    page.get_by_label("Medical record number").fill(details.medical_record_number)
    page.get_by_label("Phone", exact=True).fill(details.phone)
    page.get_by_label("E-mail", exact=True).fill(details.email)
    page.get_by_label("Preferred contact").select_option("phone")
    page.get_by_label("Sex", exact=True).select_option("female")
    page.get_by_label("Date of birth").fill(details.birth_date.isoformat())
    page.get_by_label("Height (cm)").fill("168")
    page.get_by_label("Weight (kg)").fill("74")
    page.get_by_label("Consent date").fill(CONSENT_DATE.isoformat())
    page.locator("fieldset#laterality").get_by_label("Right").check()
    page.get_by_label("Kellgren–Lawrence grade", exact=True).select_option(str(details.kl_grade))
    for group in page.locator("fieldset.radio-group[id^=elig_]").all():
        usual = group.locator(".hint").inner_text().strip().rsplit(" ", 1)[-1]  # yes / no
        group.get_by_label(usual.capitalize(), exact=True).check()


def start_registry(folder: Path, users: Mapping[str, JourneyUser], *,
                   lots: bool = True) -> LiveServer:
    """The journeys' registry in ``folder``, serving: site E2E, each of ``users`` with the
    role it is listed under (researchers without a site), and, with ``lots``, the product
    lots the treatment form offers (``seed_lots``)."""
    server = sqlite_registry(folder, T0)
    server.cli("create-site", "--code", "E2E", "--name", "End-to-end Clinic",
               "--timezone", "Europe/Oslo")
    for role, user in users.items():
        sites = [] if role == "researcher" else ["--site", "E2E"]
        server.cli("create-user", "--email", user.email, "--name", user.name, "--role", role,
                   *sites, "--password-stdin", stdin=JOURNEY_PASSWORD + "\n")
    if lots:
        seed_lots(server)
    return server.start()


def seed_lots(server: LiveServer) -> None:
    """The module registry's product catalogue: a released product lot for every site
    (and a second one, for corrections), written in-process on the server's database."""
    import tempfile

    from registry import audit_capture as capture
    from registry import create_app
    from registry.db import get_session, writing
    from registry.lots.services import register_lot, save_product
    from tests.e2e.server import AUDIT_KEY, PSEUDONYM_KEY, SECRET_KEY

    app = create_app({"DATABASE_URL": server.database_url,
                      "INSTANCE_PATH": tempfile.mkdtemp(prefix="e2e-lots-"),
                      "SECRET_KEY": SECRET_KEY, "AUDIT_KEY": AUDIT_KEY,
                      "PSEUDONYM_KEY": PSEUDONYM_KEY, "TODAY": server.today.isoformat()})
    try:
        with app.app_context(), writing():
            session = get_session()
            capture.set_actor(session, None, "e2e-setup")
            product = save_product(session, {
                "name": "BMAC kit", "origin": "autologous", "tissue_source": "bone_marrow",
                "preparation": "bmac", "minimally_manipulated": True})
            for number in LOT_NUMBERS:
                register_lot(session, {"product_id": product.id, "lot_number": number,
                                       "status": "released"}, server.today)
            session.commit()
    finally:
        app.extensions["registry.engine"].dispose()


def record_treatment(trip: Journey, *, check: bool = True) -> None:
    page = trip.page
    if check:
        trip.check_page()
    page.get_by_label("Treatment date (day 0)").fill(TREATMENT_DATE.isoformat())
    page.get_by_label("Treatment", exact=True).select_option("cell_therapy")
    page.get_by_label("Product lot").select_option(
        label=page.locator("#lot_id option", has_text=LOT_NUMBERS[0] + " ").first.inner_text())
    page.get_by_label("Cell dose (million cells)").fill("40")
    page.get_by_label("Number of injections").fill("1")
    page.get_by_label("Physiotherapy / rehabilitation programme").check()
    page.get_by_label("Operator").fill("Dr Journey")
    trip.shot("treatment-filled")
    page.get_by_role("button", name="Save treatment").click()
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    trip.shot("treatment-saved")


def open_visit(trip: Journey, visit_name: str) -> int:
    """From the patient page, open a visit's entry form; return the visit id."""
    page = trip.page
    page.get_by_role("link", name=re.compile(rf"^(Enter|View) {re.escape(visit_name)} visit$"))\
        .click()
    page.wait_for_url(re.compile(r"/patients/\d+/visits/\d+$"))
    return int(page.url.rsplit("/", 1)[-1])


def _focused(page: Any) -> dict[str, str]:
    return dict(page.evaluate("() => { const e = document.activeElement; return {tag: "
                              "e.tagName.toLowerCase(), name: e.name || '', type: e.type || '',"
                              " value: e.value || '', text: (e.textContent || '').trim()}; }"))


GRC_ANSWER = 2  # the global rating of change at a follow-up: "moderately better" or so


def item_names(page: Any, instrument: str) -> list[str]:
    """The instrument's answer groups in page order (field names ``<instrument>-<item>``)."""
    return list(page.eval_on_selector_all(
        f"section[data-instrument={instrument}] fieldset.item", "els => els.map(e => e.id)"))


def enter_visit_by_keyboard(trip: Journey, answers: VisitAnswers, *, mode: str,
                            check: bool = True) -> None:
    """Fill a visit's questionnaires with the keyboard only, then save with Enter.

    The date is typed into the date field; from there on only Tab, the arrow keys, the
    number keys and Enter are used (no clicks on the questionnaire).
    """
    page = trip.page
    if check:
        trip.check_page()
    trip.shot("visit-empty")
    date_field = page.get_by_label("Visit date")
    date_field.fill(answers.visit_date.isoformat())  # fill() focuses the field
    for _ in range(4):  # Tab walks the date's day/month/year parts, then leaves the field
        page.keyboard.press("Tab")
        if _focused(page)["name"] != "visit_date":
            break
    assert _focused(page)["name"] == "vas-VAS", _focused(page)
    page.keyboard.type(str(answers.vas))
    page.keyboard.press("Tab")
    assert _focused(page)["name"] == "pga-PGA", _focused(page)
    page.keyboard.type(str(answers.pga))
    page.keyboard.press("Tab")
    for instrument in ("womac", "koos"):
        value = answers.item_answer(instrument)
        for name in item_names(page, instrument):
            focused = _focused(page)
            assert focused["name"] == name, f"focus on {focused}, expected the group {name}"
            if mode == "digits":
                page.keyboard.press(str(value))  # chooses and moves to the next question
            else:
                # "Not answered" (last option) is checked: ArrowRight wraps to 0, then on.
                for _ in range(value + 1):
                    page.keyboard.press("ArrowRight")
                page.keyboard.press("Tab")
        trip.shot(f"visit-{instrument}-answered")
    # A follow-up also asks the global rating of change (codes -3..+3): "+2" by its digit key,
    # or by arrows from "Not answered" (last): wrap to -3, then on to +2.
    for name in item_names(page, "grc"):
        assert _focused(page)["name"] == name, _focused(page)
        if mode == "digits":
            page.keyboard.press(str(GRC_ANSWER))
        else:
            for _ in range(GRC_ANSWER + 3 + 1):
                page.keyboard.press("ArrowRight")
            page.keyboard.press("Tab")
    if mode == "digits":
        page.keyboard.press("Tab")  # from the last answered group to the next control
    focused = _focused(page)
    assert focused["tag"] in {"input", "button"}, focused
    assert focused["value"] == "Save visit", focused
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    page.locator(".flashes").wait_for()
    trip.shot("visit-saved")
    assert "visit saved" in trip.flash(), trip.flash()
    for instrument in ("womac", "koos"):
        expected = str(answers.item_answer(instrument))
        saved = checked_answers(page, instrument)
        wrong = {name: value for name, value in saved.items() if value != expected}
        assert not wrong, f"{instrument} answers not saved as typed ({expected}): {wrong}"
    grc = checked_answers(page, "grc")
    assert all(value == str(GRC_ANSWER) for value in grc.values()), grc


def checked_answers(page: Any, instrument: str) -> dict[str, str]:
    """Item field name -> the checked option's value, as the saved form shows it."""
    return {name: page.locator(f"input[name='{name}']:checked").get_attribute("value") or ""
            for name in item_names(page, instrument)}


def clinician_records_patient(trip: Journey, state: JourneyState, *,
                              check: bool = True) -> None:
    """Enrol, treat, and enter the baseline and 3-month visits (the clinician's journey)."""
    sign_in(trip, "clinician", check=check)
    if check:
        trip.page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients")\
            .click()
        trip.page.wait_for_url(re.compile(r"/patients/$"))
        trip.check_page()
    state.patient_id, state.study_id = enrol_patient(trip, state.details, check=check)
    record_treatment(trip, check=check)
    if check:
        trip.check_page()
    state.visit_ids["baseline"] = open_visit(trip, "Baseline")
    enter_visit_by_keyboard(trip, BASELINE, mode="digits", check=check)
    trip.page.goto(f"/patients/{state.patient_id}")
    state.visit_ids["m3"] = open_visit(trip, "3 months")
    enter_visit_by_keyboard(trip, MONTH3, mode="arrows", check=check)
    trip.page.goto(f"/patients/{state.patient_id}")


def sign_out(trip: Journey) -> None:
    trip.page.get_by_role("button", name="Sign out").click()
    trip.page.wait_for_url(re.compile(r"/login"))

"""A Spanish-speaking clinic's day in Chromium: the Madrid clinician and coordinator.

Runs on the demo cohort (``registry demo``), whose Madrid site works in Spanish and whose
Madrid staff chose Spanish; the browser itself asks for British English, so every Spanish
word comes from the person's own choice.  On every page of both journeys, no English
interface text may remain: none of the catalogue's English strings (those whose Spanish
differs) and none of the English words that never occur in Spanish text (``ENGLISH``);
proper names, study IDs and instrument codes are data and allowed.  Switching the
clinician to English on the Language page turns the same pages English.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from babel.messages.pofile import read_po

from registry.i18n_catalogue import po_path
from tests.e2e.journeys import Journey
from tests.e2e.screenshots import DEMO_TODAY
from tests.e2e.server import LiveServer, demo_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MADRID = {"clinician": ("clinico.madrid@demo.koa-registry.test",
                        "contraseña de demostración del clínico"),
          "coordinator": ("coordinacion.madrid@demo.koa-registry.test",
                          "contraseña de demostración de coordinación")}
# English words that a Spanish page never contains (function words and the registry's
# own vocabulary); matched as whole words, case-insensitively.
_ENGLISH_WORDS = (
    "the and of with without from your you this that these those which when where what "
    "visit visits patient patients save saved cancel search filter filters status due "
    "overdue missed booked done upcoming window target days weeks months baseline score "
    "scores change record recorded treatment adverse event events serious review reviewed "
    "sign out language password home worklist grid cohort cohorts export next previous page "
    "show showing all none yes open date dates name study site sites call reminder "
    "reminders")
ENGLISH = frozenset(_ENGLISH_WORDS.split(" "))
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@cache
def english_catalogue_strings() -> tuple[str, ...]:
    """English texts of the catalogue whose Spanish differs (longest first), with their
    placeholders cut out: each piece of three words or more must not appear on a page."""
    with po_path("es").open("rb") as handle:
        catalogue = read_po(handle)
    pieces: set[str] = set()
    for message in catalogue:
        if not message.id or isinstance(message.id, tuple):
            continue
        translated = message.string if isinstance(message.string, str) else ""
        if not translated or translated == message.id:
            continue
        for piece in re.split(r"%\(\w+\)s|%%|[.:;!?()]", message.id):
            piece = " ".join(piece.split())
            if len(piece.split()) >= 3:
                pieces.add(piece)
    return tuple(sorted(pieces, key=len, reverse=True))


@cache
def proper_names() -> tuple[str, ...]:
    """Instruments' official names, the same in every language (the WOMAC's and the
    KOOS's full titles): proper names, not interface text."""
    import scoring
    from scoring.labels import short_label

    return tuple(instrument.name for instrument in scoring.INSTRUMENTS.values()
                 if short_label(instrument.name, "es") == instrument.name)


def english_left(page: Any) -> list[str]:
    """English interface text on the page as it is shown (visible text, the title, the
    labels screen readers hear)."""
    text = page.evaluate("""() => [document.title, document.body.innerText,
        ...Array.from(document.querySelectorAll('[aria-label],[title],[placeholder]'))
            .map(e => [e.getAttribute('aria-label'), e.getAttribute('title'),
                       e.getAttribute('placeholder')].filter(Boolean).join(' '))].join('\\n')""")
    for name in proper_names():
        text = text.replace(name, " ")
    found = sorted({word for word in WORD.findall(text) if word.lower() in ENGLISH})
    flat = " ".join(text.split())
    found += [piece for piece in english_catalogue_strings() if piece in flat]
    return found


@pytest.fixture(scope="module")
def live_server(browser: Any, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """The demo cohort as `make demo` serves it (Madrid included)."""
    server = demo_server(tmp_path_factory.mktemp("spanish"), DEMO_TODAY)
    yield server
    server.stop()


def sign_in_madrid(trip: Journey, role: str) -> None:
    page = trip.page
    email, password = MADRID[role]
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)  # the browser asks for English: so is this page
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/home")


def in_spanish(trip: Journey, name: str) -> None:
    """The page is Spanish throughout; its screenshot is kept."""
    page = trip.page
    assert page.evaluate("() => document.documentElement.lang") == "es", trip.path()
    left = english_left(page)
    trip.shot(name)
    assert not left, f"English on {trip.path()}: {left}"
    trip.check_page()


def test_the_madrid_clinician_works_in_spanish(journey: Journey) -> None:
    page = journey.page
    sign_in_madrid(journey, "clinician")
    in_spanish(journey, "home")

    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Pacientes").click()
    in_spanish(journey, "patient-list")
    page.locator("table tbody a[href^='/patients/']").first.click()
    in_spanish(journey, "patient-page")
    patient_path = journey.path()

    page.get_by_role("link", name=re.compile("^Registrar un evento adverso")).click()
    in_spanish(journey, "adverse-event-form")
    onset = (DEMO_TODAY - timedelta(days=3)).isoformat()
    page.get_by_label(re.compile("^Fecha de inicio")).fill(onset)
    page.get_by_label(re.compile("^Descripción")).fill("Dolor leve tras la marcha")
    page.get_by_label("Categoría", exact=True).select_option("local_pain")
    page.get_by_label(re.compile("^Gravedad")).select_option("1")
    page.locator("fieldset", has_text="Grave").get_by_label("No", exact=True).check()
    page.get_by_label("Relación con el tratamiento").select_option("possibly")
    page.get_by_role("button", name="Guardar el evento adverso").click()
    page.wait_for_url(re.compile(re.escape(patient_path) + r"([#?].*)?$"))
    assert "Evento adverso registrado." in journey.flash(), journey.flash()
    in_spanish(journey, "adverse-event-saved")

    page.locator("a[href*='/visits/']").first.click()
    in_spanish(journey, "visit-form")
    page.goto("/patients/new")
    in_spanish(journey, "enrolment-form")
    journey.assert_accessible()


def test_the_madrid_coordinator_works_in_spanish(journey: Journey) -> None:
    page = journey.page
    sign_in_madrid(journey, "coordinator")
    in_spanish(journey, "home")
    nav = page.get_by_role("navigation", name="Principal")
    nav.get_by_role("link", name="Lista de trabajo").click()
    in_spanish(journey, "worklist")
    tabs = [link.get_attribute("href") for link in page.locator("a[data-tab]").all()]
    assert len(tabs) >= 5, tabs  # Open, Missed, Not yet due, Done, Not applicable, All
    for href in tabs:
        page.goto(href)
        in_spanish(journey, "worklist-tab")
    nav.get_by_role("link", name="Cuadro de estado").click()
    in_spanish(journey, "grid")
    page.locator("table a[href*='/followup/visits/']").first.click()
    in_spanish(journey, "follow-up-visit")
    journey.assert_accessible()


def test_switching_to_english_changes_every_page(journey: Journey) -> None:
    page = journey.page
    sign_in_madrid(journey, "clinician")
    assert page.evaluate("() => document.documentElement.lang") == "es"
    page.get_by_role("link", name="Idioma").click()
    page.get_by_label("Idioma de la interfaz").select_option("en")
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_url("**/account/language")
    assert "Language saved." in journey.flash()
    for path in ("/home", "/patients/", "/followup/", "/followup/grid"):
        page.goto(path)
        assert page.evaluate("() => document.documentElement.lang") == "en", path
        assert "Sign out" in page.inner_text("header")
    page.get_by_role("link", name="Language").click()
    page.get_by_label("Language of the interface").select_option("es")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/account/language")
    assert "Idioma guardado." in journey.flash()

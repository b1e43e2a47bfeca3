"""A realistic synthetic demo cohort: 4 sites, ~200 patients, demo users for each role.

Patients were treated over the last 15 months; their visits follow the default
protocol, so some follow-ups are done (most in window, a few late), some due, some
overdue or missed.  Answers follow a plausible course (improvement peaking at 6–12
months, some non-responders, ~3 % items left blank) for whatever instruments each
timepoint records, generated from each item's kind and range in the catalogue.
Everything is written through the same services as the web forms, so scores come from
``scoring/`` and the audit trail records the load.  The Madrid clinic works in Spanish: its
site language, its patients (Spanish names, language "es") and its clinician and
coordinator, whose interface is Spanish from the first sign-in.  Elsewhere every fourth
patient speaks Spanish (language "es", e-mail reminders on), and the demo text packs (the
catalogue's short labels, marked "demo wording") are loaded for KOOS, WOMAC and KOOS-PS in
English and Spanish, so that self-report can be tried in both languages.  Treatments use
the demo product catalogue (``registry.lots.demo``: three products, a recalled lot, a lot
with two serious events, a hyaluronic-acid comparator group).  The data are
invented; no real person is described.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import scoring
from registry import audit_capture as capture
from registry.admin.services import create_site
from registry.auth.services import create_user
from registry.clinical.services.visits import visit_instruments
from registry.clock import today
from registry.followup.state import refresh_sites
from registry.lots import demo as demo_lots
from registry.models import (
    DEMO_MARKER,
    AdverseEvent,
    IndexKnee,
    Patient,
    PatientIdentity,
    RegistrySetting,
    Site,
    User,
    Visit,
)
from registry.scheduling import default_protocol, schedule_visits
from registry.scores import save_response
from registry.textpacks import load_demo_packs
from registry.vocabularies import ELIGIBILITY_CRITERIA

DEMO_DOMAIN = "demo.koa-registry.test"
# (code, name, time zone, language)
DEMO_SITES = (("OSL", "Oslo Knee Clinic", "Europe/Oslo", "en"),
              ("BGN", "Bergen Orthopaedics", "Europe/Oslo", "en"),
              ("TRD", "Trondheim Joint Centre", "Europe/Oslo", "en"),
              ("MAD", "Clínica de la Rodilla Madrid", "Europe/Madrid", "es"))
SPANISH_SITES = frozenset({"MAD"})
# (e-mail local part, role, site codes, password).  Demo-only credentials, printed by
# `registry demo`; the loader refuses any database holding data without the demo marker.
DEMO_USERS = (
    ("clinician", "clinician", ("OSL",), "demo clinician password"),
    ("coordinator", "coordinator", ("OSL", "BGN"), "demo coordinator password"),
    ("researcher", "researcher", (), "demo researcher password"),
    ("admin", "admin", ("OSL", "BGN", "TRD", "MAD"), "demo administrator password"),
    ("clinician.bergen", "clinician", ("BGN",), "demo clinician password"),
    ("clinician.trondheim", "clinician", ("TRD",), "demo clinician password"),
    ("clinico.madrid", "clinician", ("MAD",), "contraseña de demostración del clínico"),
    ("coordinacion.madrid", "coordinator", ("MAD",),
     "contraseña de demostración de coordinación"),
)
# The Madrid staff's names and their interface language (Spanish at once, whatever the
# browser says); everyone else follows their browser.
DEMO_STAFF = {"clinico.madrid": ("Dra. Lucía Fernández Ortega (demo)", "es"),
              "coordinacion.madrid": ("Carmen Ruiz Navarro (demo)", "es")}
FAMILY_NAMES = ("Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen",
                "Kristiansen", "Jensen", "Karlsen", "Berg", "Haugen", "Hagen", "Eriksen")
GIVEN_NAMES = ("Anne", "Inger", "Kari", "Marit", "Ingrid", "Liv", "Per", "Jan", "Bjørn",
               "Ole", "Lars", "Kjell", "Knut", "Arne", "Eva", "Berit", "Hans", "Nils")
SPANISH_FAMILY_NAMES = ("García", "Fernández", "González", "Rodríguez", "López", "Martínez",
                        "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Núñez",
                        "Díaz", "Moreno", "Muñoz", "Álvarez", "Peña")
SPANISH_GIVEN_NAMES = ("María", "Carmen", "Isabel", "Ana", "Lucía", "Pilar", "Dolores",
                       "Rosa", "Begoña", "José", "Antonio", "Manuel", "Francisco", "Juan",
                       "Javier", "Jesús", "Ángel", "Íñigo")
# What clinicians type, in the site's language (indexed by "the site works in Spanish").
FREE_TEXT = {
    False: {"justification": "Shared decision after MDT review; patient declines arthroplasty.",
            "reaction": "Post-injection knee reaction",
            "serious": "Septic arthritis, admitted for washout"},
    True: {"justification": "Decisión compartida tras revisión en comité multidisciplinar; "
                            "el paciente rechaza la artroplastia.",
           "reaction": "Reacción de la rodilla tras la inyección",
           "serious": "Artritis séptica, ingreso para lavado articular"},
}
# Mean fraction of the baseline problem level left at each follow-up timepoint.
COURSE = {"baseline": 1.0, "w2_6": 0.85, "m3": 0.7, "m6_12": 0.62}


class DemoRefused(RuntimeError):
    """The database already holds data and is not a demo database."""


REFUSED = ("This database holds data and is not a demo database (it has no demo marker): "
           "the demo cohort is loaded only into an empty database, never next to real "
           "data. Point DATABASE_URL at another database, or, to start the demo over, "
           "remove the demo database (`make clean-demo` for the default SQLite file) and "
           "run `make demo` again.")


@dataclass(frozen=True)
class DemoResult:
    """The demo sign-ins, and whether they were loaded now or found (a marked database
    served as it is, with ``marker`` saying when it was loaded)."""

    logins: list[tuple[str, str, str]]
    loaded: bool
    marker: str = ""


def _demo_logins() -> list[tuple[str, str, str]]:
    return [(f"{local}@{DEMO_DOMAIN}", role, password)
            for local, role, _sites, password in DEMO_USERS]


def demo_marker(session: Session) -> RegistrySetting | None:
    """The marker of a demo database (set when the demo was loaded, or by migration 0009
    for a database holding the demo's sites); None for any other database."""
    return session.get(RegistrySetting, DEMO_MARKER)


def holds_data(session: Session) -> bool:
    """Whether any site, account or patient exists (an empty database has none)."""
    return any(session.scalar(select(func.count()).select_from(model)) for model in
               (Site, User, Patient))


def load_demo(session: Session, *, seed: int = 20261124, patients: int = 200) -> DemoResult:
    """Load the demo cohort into an empty database and mark it as a demo database.

    A database with the marker is served as it is, however it was used since (accounts
    added on the admin page, patients enrolled): the demo is recognised by its marker,
    not by its accounts.  Any other database holding data is refused (DemoRefused).
    """
    marker = demo_marker(session)
    if marker is not None:
        return DemoResult(_demo_logins(), loaded=False, marker=marker.value)
    if holds_data(session):
        raise DemoRefused(REFUSED)
    capture.set_actor(session, None, "demo-loader")
    rng = random.Random(seed)
    sites = {code: create_site(session, code=code, name=name, timezone=zone,
                               language=language)
             for code, name, zone, language in DEMO_SITES}
    for local, role, site_codes, password in DEMO_USERS:
        full_name, language = DEMO_STAFF.get(
            local, (f"Demo {local.replace('.', ' ').title()}", None))
        user = create_user(session, email=f"{local}@{DEMO_DOMAIN}", full_name=full_name,
                           role=role, password=password, site_codes=list(site_codes))
        user.language = language
    _demo_protocol(session)
    load_demo_packs(session)  # marked demo: not the licensed KOOS / WOMAC wording
    reference_day = today()
    catalogue = demo_lots.load_catalogue(session, reference_day)
    for number in range(patients):
        site = list(sites.values())[number % len(sites)]
        _demo_patient(session, rng, catalogue, site.id, site.code,
                      number // len(sites) + 1, reference_day)
    session.flush()
    demo_lots.finish(session, catalogue, reference_day,
                     frozenset(sites[code].id for code in SPANISH_SITES))
    refresh_sites(session, [site.id for site in sites.values()])  # the worklist's statuses
    value = f"loaded on {reference_day.isoformat()} (seed {seed}, {patients} patients)"
    session.add(RegistrySetting(key=DEMO_MARKER, value=value))
    session.flush()
    return DemoResult(_demo_logins(), loaded=True, marker=value)


def _demo_protocol(session: Session) -> None:
    """The demo study records every instrument the catalogue offers at a timepoint by default,
    plus those a protocol must choose (e.g. NRS pain, as in the ICHOM standard set), so each
    one can be seen on the forms, pages and exports; instruments scored from another's answers
    (KOOS-PS from the KOOS) are left to their source."""
    optional = {instrument.code for instrument in scoring.recordable_instruments()
                if instrument.timepoints == "none"}
    with capture.reason(session, "Demo study: every instrument of the catalogue recorded."):
        for timepoint in default_protocol(session).timepoints:
            wanted = set(scoring.default_instruments(timepoint.is_baseline)) | optional
            timepoint.instruments = [instrument.code
                                     for instrument in scoring.entry_instruments(wanted)]
        session.flush()


def _demo_patient(session: Session, rng: random.Random, catalogue: demo_lots.DemoCatalogue,
                  site_id: int, site_code: str, sequence: int, reference_day: date) -> None:
    treatment_date = reference_day - timedelta(days=rng.randint(5, 456))
    kl_grade = rng.choices([1, 2, 3, 4], weights=[3, 45, 45, 7])[0]
    height = rng.gauss(170, 9)
    weight = rng.gauss(82, 13)
    outside = kl_grade not in (2, 3)
    # No random draw: the rest of the cohort stays as it was.
    spanish = site_code in SPANISH_SITES or sequence % 4 == 1
    patient = Patient(
        study_id=f"{site_code}-{sequence:04d}", site_id=site_id, site_sequence=sequence,
        protocol_id=default_protocol(session, site_id).id,
        sex=rng.choice(["female", "female", "male"]),
        birth_date=date(rng.randint(1945, 1985), rng.randint(1, 12), rng.randint(1, 28)),
        height_cm=round(height, 1), weight_kg=round(weight, 1),
        bmi=round(weight / (height / 100) ** 2, 1),
        consent_date=treatment_date - timedelta(days=rng.randint(7, 40)),
        language="es" if spanish else None,
        outside_indication_justification=(
            FREE_TEXT[site_code in SPANISH_SITES]["justification"] if outside else None),
    )
    in_spain = site_code in SPANISH_SITES
    if in_spain:  # two family names, as in Spain
        family = f"{rng.choice(SPANISH_FAMILY_NAMES)} {rng.choice(SPANISH_FAMILY_NAMES)}"
        given = rng.choice(SPANISH_GIVEN_NAMES)
    else:
        family, given = rng.choice(FAMILY_NAMES), rng.choice(GIVEN_NAMES)
    mailbox = unicodedata.normalize("NFKD", f"{given}.{family}{sequence}".replace("ø", "o"))
    patient.identity = PatientIdentity(
        site_id=site_id, family_name=family, given_name=given,
        medical_record_number=f"{site_code}{rng.randint(100000, 999999)}",
        phone=(f"+34 6{rng.randint(10000000, 99999999)}" if in_spain
               else f"+47 9{rng.randint(1000000, 9999999)}"),
        email=mailbox.encode("ascii", "ignore").decode().replace(" ", "-").lower()
        + "@example.com",
        preferred_contact=rng.choice(["phone", "email", "sms"]),
        email_reminders=rng.random() < 0.6 or spanish,
    )
    patient.index_knee = IndexKnee(
        laterality=rng.choice(["left", "right"]), kl_grade=kl_grade,
        eligibility={code: expected for code, (_label, expected) in
                     ELIGIBILITY_CRITERIA.items()},
    )
    session.add(patient)
    session.flush()
    demo_lots.treat(session, rng, catalogue, patient, treatment_date)
    visits = schedule_visits(session, patient, treatment_date)
    _demo_visits(session, rng, visits, reference_day)
    _demo_adverse_events(session, rng, patient, treatment_date, reference_day,
                         site_code in SPANISH_SITES)


def _demo_visits(session: Session, rng: random.Random, visits: list[Visit],
                 reference_day: date) -> None:
    severity = min(3.6, max(0.8, rng.gauss(2.1, 0.5)))  # mean item answer at baseline
    responder = rng.random() < 0.65
    attends = rng.random() < 0.85  # some patients stop coming
    for visit in visits:
        code = visit.timepoint.code if visit.timepoint else "baseline"
        target, start, end = visit.target_date, visit.window_start, visit.window_end
        if target is None or start is None or end is None or start > reference_day:
            break
        if code != "baseline" and not attends and rng.random() < 0.7:
            continue
        latest = min(end, reference_day)
        if code != "baseline" and rng.random() < 0.25 and latest < reference_day:
            continue  # missed
        if code == "baseline":
            visit_date = target - timedelta(days=rng.randint(0, 20))
        else:
            visit_date = target + timedelta(days=rng.randint(-10, 25))
        if visit_date > reference_day:
            continue  # due, not yet done
        remaining = COURSE[code] if responder else 1 - (1 - COURSE[code]) / 3
        visit.visit_date = visit_date
        visit.status = "done"
        visit.out_of_window = not (start <= visit_date <= end)
        for instrument in visit_instruments(visit):
            save_response(session, visit, instrument,
                          _answers(rng, instrument, severity * remaining / 4, 1 - remaining))


def _answers(rng: random.Random, instrument: str, problem: float,
             improvement: float) -> dict[str, int | None]:
    """Plausible answers to any catalogue instrument, from its items' kinds and ranges.

    ``problem`` (0 = none, 1 = extreme) places every problem item in its range, the
    higher code being the worse answer, as on every scale here (KOOS and WOMAC boxes,
    the VAS, NRS and PGA).  An instrument asked at follow-ups only is an anchor question
    about change: its answer follows ``improvement`` (the share of the baseline problem
    gone), from the middle of its range ("unchanged") towards its top ("much better").
    """
    definition = scoring.INSTRUMENTS[instrument]
    anchor = definition.timepoints == "followup"
    answers: dict[str, int | None] = {}
    for item in definition.items:
        low, high = item.minimum, item.maximum
        if anchor:
            target = (low + high) / 2 + improvement * (high - low)
        else:
            target = low + problem * (high - low)
        spread = 0.09 if item.kind == "line" else 0.175  # as on the paper forms' scatter
        value = rng.gauss(target, spread * (high - low))
        if item.options:
            answer = min((option.code for option in item.options),
                         key=lambda code: abs(code - value))
        else:
            answer = min(high, max(low, round(value)))
        blank = len(definition.items) > 1 and rng.random() < 0.03
        answers[item.code] = None if blank else answer
    return answers


def _demo_adverse_events(session: Session, rng: random.Random, patient: Patient,
                         treatment_date: date, reference_day: date, spanish: bool) -> None:
    if rng.random() > 0.12:
        return
    onset = treatment_date + timedelta(days=rng.randint(0, 10))
    if onset > reference_day:
        return
    serious = rng.random() < 0.12
    category = "infection" if serious else rng.choice(["local_pain", "swelling", "stiffness",
                                                       "flu_like", "fever"])
    resolved = onset + timedelta(days=rng.randint(2, 20))
    session.add(AdverseEvent(
        patient_id=patient.id, onset_date=onset,
        description=FREE_TEXT[spanish]["serious" if serious else "reaction"],
        category=category, severity_grade=3 if serious else rng.choice([1, 1, 2]),
        serious=serious, serious_criterion="hospitalisation" if serious else None,
        relatedness=rng.choice(["possibly", "probably"]),
        action_taken="hospitalisation" if serious else "medication",
        outcome="resolved" if resolved <= reference_day else "ongoing",
        resolution_date=resolved if resolved <= reference_day else None,
    ))
    session.flush()

"""The instrument catalogue drives the registry: every instrument in ``scoring.INSTRUMENTS``
reaches the visit form, the patient page, the exports and the data dictionary.

For each instrument a timepoint is set to record it through the protocol editor page (as
rendered), its visit form is filled in as rendered, and then its scores — and those of the
instruments scored from its answers — must show on the patient page, in the long and wide
exports and in the data dictionary.  A toy instrument defined here, added to the catalogue
and nowhere else, must go the same way: the proof that the registry keeps no instrument
list of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

import scoring
import scoring.instruments
from registry.models import Patient, Visit
from registry.research.export import ExportOptions, export_cohort
from scoring.model import AnswerOption, Instrument, Item, ScoreDef
from tests.clinical.browser import fill, form_for, open_form, submit, webtest
from tests.research.helpers import open_export

M3_DATE = date(2026, 4, 1)  # in the 3-month window of a patient treated on 2026-01-01
BOXES = tuple(AnswerOption(code, label) for code, label in
              enumerate(("None", "Mild", "Moderate", "Severe", "Extreme")))
TOY = Instrument(
    code="toy", name="Toy knee questionnaire", version="toy/1",
    citation="Defined in tests/clinical/test_catalogue.py (not a real instrument).",
    items=(Item("T1", "Toy stiffness", "Toy", BOXES), Item("T2", "Toy swelling", "Toy", BOXES)),
    scores=(ScoreDef(code="toy_total", label="Toy total", instrument="toy",
                     items=("T1", "T2"), minimum=0.0, maximum=100.0, unit="points",
                     higher_is_better=True, missing_rule="Both items must be answered.",
                     citation="Test only.", method="mean_0_100", min_answered=2),),
    short_name="Toy", timepoints="none",
    description="A two-item test questionnaire, 0-100; higher = better.",
)


@dataclass(frozen=True)
class Recorded:
    """What one run through the registry produced for an instrument."""

    patient: Patient
    entered: tuple[scoring.Instrument, ...]  # the form's sections
    scored: tuple[scoring.Instrument, ...]  # every instrument with scores from them


@pytest.fixture
def admin(as_user, site_a):
    """An admin of site A (may edit protocols and enter visits), signed in."""
    return as_user("admin", sites=[site_a])


def m3_visit(db, patient: Patient) -> Visit:
    db.expire_all()
    return next(visit for visit in db.scalars(select(Visit).where(
        Visit.patient_id == patient.id)) if visit.timepoint and visit.timepoint.code == "m3")


def configure(browser: webtest.TestApp, visit: Visit, codes: list[str]) -> None:
    """Tick ``codes`` (only) for the visit's timepoint on the protocol editor page."""
    timepoint = visit.timepoint
    form = open_form(browser, f"/admin/protocols/{timepoint.protocol_id}", field="reason")
    name = f"timepoint_{timepoint.id}"
    offered = {box._value for box in form.fields[name]}
    assert set(codes) <= offered, f"the editor does not offer {set(codes) - offered}"
    fill(form, {name: codes, "reason": "study records this instrument at 3 months"})
    response = submit(form)
    assert response.status_int == 302, response.text[:2000]


def answer(item: scoring.Item) -> int:
    """A valid answer in the middle of the item's range (an option code for a choice)."""
    middle = (item.minimum + item.maximum) // 2
    if item.options:
        return min((option.code for option in item.options), key=lambda c: abs(c - middle))
    return middle


def record(browser: webtest.TestApp, db, patient: Patient, code: str) -> Recorded:
    """Set the 3-month timepoint to record ``code`` (or, for an instrument only scored
    from another one's answers, its sources), then fill in and save its visit form."""
    instrument = scoring.INSTRUMENTS[code]
    codes = [code] if instrument.entry else list(instrument.derived_from)
    visit = m3_visit(db, patient)
    configure(browser, visit, codes)
    url = f"/patients/{patient.id}/visits/{visit.id}"
    page = browser.get(url, status=200)
    entered = scoring.entry_instruments(codes)
    assert entered, f"{code}: nothing to enter"
    form = form_for(page, field="visit_date")
    values: dict[str, object] = {"visit_date": M3_DATE.isoformat()}
    for shown in entered:
        assert f'data-instrument="{shown.code}"' in page.text, f"{shown.code}: no section"
        for item in shown.items:
            name = f"{shown.code}-{item.code}"
            assert name in form.fields, f"{shown.code}: item {item.code} is not on the form"
            values[name] = answer(item)
    response = submit(fill(form, values))
    assert response.status_int == 302, response.text[:3000]
    scored = tuple(dict.fromkeys(i for shown in entered for i in scoring.scored_from(shown.code)))
    assert instrument in scored
    return Recorded(patient, entered, scored)


def check_patient_page(browser: webtest.TestApp, recorded: Recorded) -> None:
    """Every score of every instrument scored shows as a row, with a value (a chart)."""
    html = browser.get(f"/patients/{recorded.patient.id}", status=200).text
    for instrument in recorded.scored:
        for score in instrument.scores:
            row_header = f'<span class="score-label">{score.label}</span><br>'
            assert row_header in html, f"{score.code}: no row"
            chart = f"/patients/{recorded.patient.id}/charts/{score.code}.svg"
            assert chart in html, f"{score.code}: no value (no chart)"


def export(db, tmp_path: Path, shape: str) -> dict:
    """The cohort of every treated patient exported as CSV, opened with pandas."""
    target = tmp_path / f"{shape}.zip"
    export_cohort(db, cohort_name="All", definition={},
                  options=ExportOptions(format="csv", shape=shape, project="catalogue"),
                  pseudonym_key="test-key", free_text_allowed=False, target=target)
    tables, _manifest, _raw = open_export(target.read_bytes(), "csv")
    return tables


def check_exports(db, tmp_path: Path, recorded: Recorded) -> None:
    """Each score is a value of the long table's ``score`` column, a ``<score>_m3`` column
    of the wide table, and described in both tables' data dictionaries."""
    codes = [score.code for instrument in recorded.scored for score in instrument.scores]
    long = export(db, tmp_path, "long")
    in_long = set(long["outcomes_long"]["score"].astype(str))
    described = set(long["data_dictionary"]["column"].astype(str))
    wide = export(db, tmp_path, "wide")
    wide_columns = set(wide["outcomes_wide"].columns)
    wide_described = set(wide["data_dictionary"]["column"].astype(str))
    for code in codes:
        assert code in in_long, f"{code}: not in the long table"
        assert f"value[score={code}]" in described, f"{code}: not in the long dictionary"
        assert f"{code}_m3" in wide_columns, f"{code}: not in the wide table"
        assert f"{code}_m3" in wide_described, f"{code}: not in the wide dictionary"


@pytest.mark.parametrize("code", list(scoring.INSTRUMENTS))
def test_every_instrument_reaches_form_page_exports_and_dictionary(
        browser, db, treated, admin, tmp_path, code):
    recorded = record(browser, db, treated, code)
    check_patient_page(browser, recorded)
    check_exports(db, tmp_path, recorded)


@pytest.fixture
def toy_in_catalogue(monkeypatch):
    """The toy instrument added to the catalogue only (its dicts and its ordered tuple)."""
    monkeypatch.setitem(scoring.INSTRUMENTS, TOY.code, TOY)
    for score in TOY.scores:
        monkeypatch.setitem(scoring.SCORES, score.code, score)
    monkeypatch.setattr(scoring.instruments, "CATALOGUE", (*scoring.instruments.CATALOGUE, TOY))
    return TOY


def test_a_new_instrument_needs_no_registry_change(browser, db, treated, admin, tmp_path,
                                                   toy_in_catalogue):
    recorded = record(browser, db, treated, toy_in_catalogue.code)
    assert recorded.entered == (toy_in_catalogue,)
    check_patient_page(browser, recorded)
    check_exports(db, tmp_path, recorded)


def test_items_render_by_kind_and_are_checked_by_the_catalogue(browser, db, treated, admin):
    """Choice, rating and line items each get their own input, from the catalogue; a bad
    answer is refused with the item's own range, naming the field."""
    visit = m3_visit(db, treated)
    configure(browser, visit, ["vas", "nrs", "grc"])
    url = f"/patients/{treated.id}/visits/{visit.id}"
    page = browser.get(url, status=200)
    html = page.text
    nrs, grc, vas = (scoring.INSTRUMENTS[code].items[0] for code in ("nrs", "grc", "vas"))
    for code in range(nrs.minimum, nrs.maximum + 1):  # rating: one radio per point
        assert f'<input type="radio" name="nrs-NRS" id="nrs-NRS-{code}" value="{code}">' in html
    assert (f'<label for="nrs-NRS-{nrs.maximum}"><span class="code">{nrs.maximum}</span> '
            f'<span class="anchor">{nrs.anchors[1]}</span></label>') in html
    assert f"{nrs.minimum} = {nrs.anchors[0]}; {nrs.maximum} = {nrs.anchors[1]}" in html
    for option in grc.options:  # choice: the option codes (-3..+3 here) with their labels
        assert (f'<label for="grc-GRC-{option.code}"><span class="code">{option.code}</span> '
                f"{option.label}</label>") in html
    for name in ("nrs-NRS", "grc-GRC"):
        assert f'id="{name}-none" value="" checked' in html  # "Not answered"
    assert '<input type="number" id="vas-VAS" name="vas-VAS" min="0" max="100"' in html
    assert f"0 = {vas.anchors[0]}" in html
    assert 'class="missing"' not in html  # no count for one-item sections
    script = browser.get("/static/clinical-visit.js").text
    assert "[0-4]" not in script
    for bad in ("11", "abc", "2.5"):
        form = form_for(page, field="visit_date")
        response = submit(fill(form, {"visit_date": M3_DATE.isoformat(), "nrs-NRS": bad}))
        assert response.status_int == 422
        assert (f"{scoring.INSTRUMENTS['nrs'].name} {nrs.label}: &#39;{bad}&#39; is not "
                f"{nrs.allowed_text()}.") in response.text
        assert 'href="#nrs-NRS"' in response.text

"""The patient page: header, schedule, score table, and a query count that does not grow."""

from __future__ import annotations

from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from flask import url_for

from registry.models import AdverseEvent, Visit
from tests.clinical.conftest import TODAY
from tests.clinical.helpers import all_items
from tests.fixtures.database import recorded_statements


@pytest.fixture
def app_settings() -> dict[str, Any]:
    """This module only reads pages (signed in with ``auth.login``, which posts the sign-in
    without its form): CSRF off."""
    return {"TODAY": TODAY.isoformat()}


TREATED = date(2026, 1, 1)


def full_answers(level: int) -> dict[str, dict]:
    return {"vas": {"VAS": 20 * level}, "pga": {"PGA": 15 * level},
            "womac": all_items("womac", level), "koos": all_items("koos", level)}


def patient_with_visits(db, make_patient, record_visit, site, visit_count: int):
    """A treated patient with ``visit_count`` done visits (4 scheduled + unscheduled)."""
    patient = make_patient(site, treatment_date=TREATED)
    scheduled = sorted(patient.visits, key=lambda v: v.target_date)
    dates = [date(2025, 12, 20), date(2026, 1, 28), date(2026, 4, 1), date(2026, 5, 20)]
    for visit, visit_date, level in zip(scheduled, dates, (3, 2, 1, 1), strict=True):
        record_visit(visit, visit_date, full_answers(level))
    for extra in range(visit_count - len(scheduled)):
        visit = Visit(patient_id=patient.id, status="scheduled")
        db.add(visit)
        db.flush()
        record_visit(visit, date(2026, 2, 1) + timedelta(days=7 * extra), full_answers(2))
    db.add(AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 3), description="Pain",
                        category="local_pain", severity_grade=1, relatedness="probably",
                        outcome="resolved", resolution_date=date(2026, 1, 6)))
    db.add(AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 9),
                        description="Septic arthritis", category="infection", severity_grade=3,
                        serious=True, serious_criterion="hospitalisation",
                        relatedness="possibly", outcome="ongoing"))
    db.flush()
    return patient


def test_patient_page_shows_header_schedule_scores_and_events(auth, client, db, site_a,
                                                              make_patient, record_visit):
    patient = patient_with_visits(db, make_patient, record_visit, site_a, 4)
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f"<h1>{patient.study_id}" in html
    assert "Clinic A" in html
    assert "Left" in html
    assert "<dt>KL grade</dt><dd>2</dd>" in html
    assert "<dt>Days since treatment</dt><dd>151</dd>" in html  # 2026-01-01 -> 2026-06-01
    for name in ("Baseline", "2–6 weeks", "3 months", "6–12 months"):
        assert f'<th scope="row">{name}</th>' in html
    assert "WOMAC Function (0-100)" in html
    assert "KOOS Pain" in html
    # VAS 60 at baseline, 20 at 3 months: -40.0 (-66.7 %).
    assert "-40.0 (-66.7 %)" in html
    assert "OMERACT-OARSI responder" in html
    assert '<tr class="serious">' in html
    assert "Septic arthritis" in html


def test_query_count_does_not_grow_with_visits(app, auth, client, db, site_a, make_patient,
                                               record_visit):
    few = patient_with_visits(db, make_patient, record_visit, site_a, 4)
    many = patient_with_visits(db, make_patient, record_visit, site_a, 10)
    auth.login("clinician", sites=[site_a])
    engine = app.extensions["registry.engine"]
    counts = {}
    for patient in (few, many):
        client.get(f"/patients/{patient.id}")  # warm caches
        with recorded_statements(engine) as statements:
            response = client.get(f"/patients/{patient.id}")
        assert response.status_code == 200
        counts[patient.id] = len(statements)
    assert counts[few.id] == counts[many.id], counts
    assert counts[many.id] <= 15, counts
    html = client.get(f"/patients/{many.id}").get_data(as_text=True)
    assert html.count("Unscheduled") >= 6


def test_patient_page_cells_flags_and_links(auth, client, db, site_a, make_patient,
                                            record_visit):
    patient = make_patient(site_a, treatment_date=TREATED)
    baseline, early, three_months, _late = sorted(patient.visits, key=lambda v: v.target_date)
    record_visit(baseline, date(2025, 12, 20), full_answers(3))
    record_visit(early, date(2026, 1, 28), {"vas": {"VAS": 70}, "koos": all_items("koos", None)})
    record_visit(three_months, date(2026, 4, 1), full_answers(1))
    db.add(AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 9),
                        description="Septic arthritis", category="infection", severity_grade=3,
                        serious=True, serious_criterion="hospitalisation",
                        relatedness="possibly", outcome="ongoing"))
    db.flush()
    event = db.query(AdverseEvent).filter_by(patient_id=patient.id).one()
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    # VAS 60 -> 70 is 10 mm worse; 60 -> 20 meets MCII (19.9 mm) and PASS (<= 32.3 mm).
    assert '<span class="change worse">+10.0 (+16.7 %) worse</span>' in html
    assert ('<span class="change better">-40.0 (-66.7 %) better</span>\n          '
            '<span class="badge badge-ok">MCII: yes</span>'
            '<span class="badge badge-ok">PASS: yes</span>') in html
    assert '<span class="badge badge-plain">PASS: no</span>' in html
    # KOOS with every item missing: not scorable, with the reason.
    assert '<span class="not-scorable">not scorable</span><span class="reason">' in html
    with client.application.test_request_context("/"):
        links = [url_for("clinical.visit_entry", patient_id=patient.id, visit_id=visit.id)
                 for visit in (baseline, early, three_months)]
        links += [url_for("clinical.score_chart", patient_id=patient.id, score_code=code)
                  for code in ("vas_pain", "koos_pain", "womac_function_norm")]
        links += [url_for(endpoint, patient_id=patient.id, event_id=event.id)
                  for endpoint in ("clinical.adverse_event_edit",
                                   "clinical.adverse_event_review")]
    for link in links:
        assert f'="{link}"' in html, link
    assert "Mark reviewed" in html
    assert "Add an unscheduled visit" in html


def test_adverse_events_are_read_only_for_patients_who_have_them(
        app, auth, client, db, site_a, make_patient):
    without = make_patient(site_a, treatment_date=TREATED)
    with_event = make_patient(site_a, treatment_date=TREATED)
    db.add(AdverseEvent(patient_id=with_event.id, onset_date=date(2026, 1, 9),
                        description="Effusion after injection", category="swelling",
                        severity_grade=1, serious=False, relatedness="possibly",
                        outcome="ongoing"))
    db.flush()
    auth.login("clinician", sites=[site_a])
    engine = app.extensions["registry.engine"]
    reads_events = {}
    for patient in (without, with_event):
        with recorded_statements(engine) as statements:
            html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
        reads_events[patient.id] = [s for s in statements if "FROM adverse_event" in s
                                    and "EXISTS" not in s.upper()]
        assert ("No adverse events recorded." in html) is (patient is without)
        assert ("Effusion after injection" in html) is (patient is with_event)
    assert reads_events[without.id] == []
    assert len(reads_events[with_event.id]) == 1


def test_scores_follow_the_catalogue_with_range_direction_and_help(auth, client, db, site_a,
                                                                   make_patient,
                                                                   record_visit):
    """Rows in catalogue order, each with its range and direction; an anchor question asked
    at follow-ups only (GRC) shows its value with the change "—"; the help text comes from
    the instruments' descriptions and the study's threshold set."""
    import scoring

    patient = make_patient(site_a, treatment_date=TREATED)
    baseline, _early, three_months, _late = sorted(patient.visits, key=lambda v: v.target_date)
    record_visit(baseline, date(2025, 12, 20), {"vas": {"VAS": 60}, "nrs": {"NRS": 7}})
    record_visit(three_months, date(2026, 4, 1), {"vas": {"VAS": 20}, "nrs": {"NRS": 3},
                                                  "grc": {"GRC": 2}})
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    labels = [scoring.SCORES[code].label for code in ("vas_pain", "nrs_pain", "grc")]
    positions = [html.index(f'<span class="score-label">{label}</span><br>') for label in labels]
    assert positions == sorted(positions)  # catalogue order
    assert '<span class="hint">0–10 points, higher = worse</span>' in html
    assert '<span class="hint">-3–3 points, higher = better</span>' in html
    grc_row = html[positions[2]:html.index("</tr>", positions[2])]
    assert '<span class="value">2.0</span>' in grc_row
    assert '<span class="change">—</span>' in grc_row
    assert '<span class="change better">-4.0 (-57.1 %) better</span>' in html  # NRS 7 -> 3
    for code in ("vas", "nrs", "grc"):
        assert scoring.INSTRUMENTS[code].description in unescape(html)
    chosen = scoring.threshold_set(scoring.DEFAULT_THRESHOLD_SET)
    assert chosen.label in unescape(html)
    assert "Perrot" in html  # the NRS thresholds' citation

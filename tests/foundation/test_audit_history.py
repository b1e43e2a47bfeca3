"""History you can read: audit rows named as a person would, the patient's and visit's
History pages (only their own changes, site time zone, site separation, identity rule)."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from registry import audit_capture as capture
from registry.audit.describe import describe
from registry.audit.history import about, records_of_patient
from registry.models import (
    AuditEvent,
    Cohort,
    ContactAttempt,
    InstrumentResponse,
    ScoreValue,
    SelfReport,
    SelfReportLink,
    Timepoint,
)
from registry.selfreport import tokens
from tests.fixtures.database import recorded_statements


def everything(db, patient, record_visit):
    """Give ``patient`` one of each record the trail names, with a change to each."""
    visit = next(v for v in patient.visits if v.timepoint and v.timepoint.code == "m3")
    record_visit(visit, date(2026, 4, 1), {"koos": {"P5": 2, "P6": 1}, "vas": {"VAS": 40}})
    koos = next(r for r in visit.responses if r.instrument == "koos")
    with capture.reason(db, "misread the paper form"):
        koos.answers = {**koos.answers, "P5": 3}
        patient.index_knee.kl_grade = 3
        patient.identity.family_name = "Núñez Peña"
    event = patient.adverse_events[0] if patient.adverse_events else None
    if event is None:
        from registry.models import AdverseEvent

        event = AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 20),
                             description="swelling", category="swelling", severity_grade=1,
                             serious=False, relatedness="possibly", outcome="ongoing")
        db.add(event)
    contact = ContactAttempt(patient_id=patient.id, visit_id=visit.id,
                             attempted_on=date(2026, 3, 20), method="phone", outcome="reached")
    db.add(contact)
    report = SelfReport(visit_id=visit.id, patient_id=patient.id, site_id=patient.site_id,
                        language="en", instruments=["vas"], draft={}, skipped=[], state="open")
    db.add(report)
    db.flush()
    link = SelfReportLink(self_report_id=report.id, token_hash=tokens.new_token()[1],
                          channel="email", expires_on=date(2026, 12, 31))
    db.add(link)
    with capture.reason(db, "wrong severity"):
        event.severity_grade = 2
    db.flush()
    return visit, koos, event, contact, report, link


def events_of(db, entity_type, entity_id, **where):
    stmt = select(AuditEvent).where(AuditEvent.entity_type == entity_type,
                                    AuditEvent.entity_id == str(entity_id))
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    return list(db.scalars(stmt.order_by(AuditEvent.id)))


def names(app, db, events, show_identity=lambda site_id: True):
    with app.test_request_context():
        return describe(db, events, show_identity=show_identity)


def test_each_record_type_is_named_as_a_person_would(app, db, site_a, make_patient,
                                                      record_visit, make_user):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    visit, koos, event, contact, report, link = everything(db, patient, record_visit)
    study = patient.study_id
    score = db.scalar(select(ScoreValue).where(ScoreValue.response_id == koos.id,
                                               ScoreValue.score_code == "koos_pain"))
    timepoint = db.scalar(select(Timepoint).where(Timepoint.code == "m3"))
    cohort = Cohort(name="Grade 3 knees", definition={})
    db.add(cohort)
    db.flush()
    user = make_user("coordinator", sites=[site_a])
    rows = {
        "patient": events_of(db, "patient", patient.id)[0],
        "identity": events_of(db, "patient_identity", patient.id, action="update")[0],
        "knee": events_of(db, "index_knee", patient.index_knee.id, action="update")[0],
        "treatment": events_of(db, "treatment", patient.treatment.id)[0],
        "visit": events_of(db, "visit", visit.id, field="visit_date")[0],
        "answer": events_of(db, "instrument_response", koos.id, field="answers.P5")[0],
        "response": events_of(db, "instrument_response", koos.id, action="create")[0],
        "ae": events_of(db, "adverse_event", event.id, action="update")[0],
        "contact": events_of(db, "contact_attempt", contact.id)[0],
        "report": events_of(db, "self_report", report.id)[0],
        "link": events_of(db, "self_report_link", link.id)[0],
        "site": events_of(db, "site", site_a.id)[0],
        "user": events_of(db, "app_user", user.id)[0],
        "cohort": events_of(db, "cohort", cohort.id)[0],
        # Scores are derived, not audited: a row naming one is still named.
        "score": AuditEvent(id=0, occurred_at=datetime.now(UTC), action="recomputed",
                            entity_type="score_value", entity_id=str(score.id)),
        "timepoint": AuditEvent(id=0, occurred_at=datetime.now(UTC), action="update",
                                entity_type="timepoint", entity_id=str(timepoint.id),
                                field="grace_days", old_value="14", new_value="21"),
    }
    described = dict(zip(rows, names(app, db, list(rows.values())), strict=True))
    expect = {
        "patient": study,
        "identity": f"{study}, identifying details",
        "knee": f"{study}, index knee",
        "treatment": f"{study}, treatment",
        "visit": f"{study}, 3 months visit",
        "answer": f"{study}, 3 months visit, KOOS P5",
        "response": f"{study}, 3 months visit, KOOS",
        "ae": f"{study}, adverse event of 2026-01-20 (Swelling / effusion)",
        "contact": f"{study}, 3 months visit, contact attempt of 2026-03-20",
        "report": f"{study}, 3 months visit, self-report",
        "link": f"{study}, 3 months visit, self-report link (E-mail)",
        "site": "site AAA",
        "user": f"account {user.email}",
        "cohort": "cohort Grade 3 knees",
        "score": f"{study}, 3 months visit, KOOS Pain",
        "timepoint": "timepoint 3 months",
    }
    assert {key: row.record for key, row in described.items()} == expect
    for key in ("patient", "identity", "knee", "treatment", "visit", "answer", "ae"):
        assert described[key].url, key
    assert described["visit"].url == f"/patients/{patient.id}/visits/{visit.id}"
    assert described["answer"].url == described["visit"].url
    assert described["ae"].url == f"/patients/{patient.id}/adverse-events/{event.id}"
    answer = described["answer"]
    assert (answer.field, answer.old, answer.new) == (
        "P5 Walking on a flat surface", "2 (Moderate)", "3 (Severe)")
    assert answer.event.reason == "misread the paper form"
    knee = described["knee"]
    assert (knee.field, knee.old, knee.new) == ("KL grade", "2 — minimal", "3 — moderate")
    ae = described["ae"]
    assert (ae.field, ae.old, ae.new) == ("Severity grade", "1 — mild", "2 — moderate")
    created = dict(described["response"].values)
    assert created["P5 Walking on a flat surface"] == "2 (Moderate)"
    assert described["timepoint"].field == "Grace days"
    # Internal names never stand alone.
    for row in described.values():
        assert "_" not in row.record, row.record
        assert row.action
        assert row.when


def test_a_deleted_record_is_named_from_its_kept_values(app, db, site_a, make_patient):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    knee_id = patient.index_knee.id
    with capture.reason(db, "entered on the wrong patient"):
        db.delete(patient.index_knee)
    deleted = events_of(db, "index_knee", knee_id, action="delete")
    [row] = names(app, db, deleted)
    assert row.record == f"{patient.study_id}, index knee, (deleted)"
    assert ("KL grade", "2 — minimal") in row.values
    assert row.event.reason == "entered on the wrong patient"


def test_redacted_values_stay_redacted(app, db, site_a, make_patient, record_visit):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    *_rest, link = everything(db, patient, record_visit)
    [row] = names(app, db, events_of(db, "self_report_link", link.id))
    shown = dict(row.values)
    assert shown["Token hash"] == "[redacted]"
    assert link.token_hash not in str(row)


def test_identity_values_only_for_readers_allowed_them(app, db, site_a, make_patient,
                                                       record_visit):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    everything(db, patient, record_visit)
    rows = events_of(db, "patient_identity", patient.id)
    allowed = names(app, db, rows)
    assert any(row.new == "Núñez Peña" for row in allowed)
    assert any("Family" in dict(row.values).get("Family name", "") for row in allowed)
    refused = names(app, db, rows, show_identity=lambda site_id: False)
    text = " ".join(f"{row.old} {row.new} {row.values}" for row in refused)
    assert "Núñez" not in text
    assert "Family" not in text
    assert "MRN" not in text
    assert all(row.withheld for row in refused)


def _mixed_rows(db, site_a, make_patient, record_visit, patients: int) -> list[AuditEvent]:
    for _number in range(patients):
        everything(db, make_patient(site_a, treatment_date=date(2026, 1, 1)), record_visit)
    capture.flush_to_chain(db)
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(100)))


def test_a_page_of_rows_is_named_in_a_bounded_number_of_queries(app, db, site_a,
                                                                 make_patient, record_visit):
    small = _mixed_rows(db, site_a, make_patient, record_visit, 1)[:10]
    rows = _mixed_rows(db, site_a, make_patient, record_visit, 6)
    assert len(rows) == 100
    assert len({row.entity_type for row in rows}) >= 8
    counts = []
    for events in (small, rows):
        ids = [event.id for event in events]
        db.expire_all()  # nothing loaded before: as a page's request finds it
        page = list(db.scalars(select(AuditEvent).where(AuditEvent.id.in_(ids))
                               .order_by(AuditEvent.id.desc())))
        with app.test_request_context(), recorded_statements(db.connection()) as seen:
            described = describe(db, page, show_identity=lambda site_id: True)
        assert len(described) == len(page)
        counts.append(len(seen))
    assert counts[1] <= 16, counts
    assert counts[1] - counts[0] <= 4, counts  # more record types, not more rows


# --- the History pages ----------------------------------------------------------------


@pytest.fixture
def two_patients(db, site_a, make_patient, record_visit):
    site_a.timezone = "America/New_York"
    mine = make_patient(site_a, treatment_date=date(2026, 1, 1))
    other = make_patient(site_a, treatment_date=date(2026, 1, 1))
    for patient in (mine, other):
        everything(db, patient, record_visit)
    db.commit()  # the audit rows join the trail (a savepoint here): requests read them
    return mine, other


def _history_rows(page) -> list[str]:
    return re.findall(r'<tr data-event="(\d+)">', page.get_data(as_text=True))


def test_patient_history_holds_its_own_changes_only(auth, client, db, site_a, two_patients):
    mine, other = two_patients
    auth.login("clinician", sites=[site_a])
    page = client.get(f"/audit/patients/{mine.id}/history")
    assert page.status_code == 200
    shown = {int(number) for number in _history_rows(page)}
    capture.flush_to_chain(db)
    expected = set(db.scalars(select(AuditEvent.id).where(about(records_of_patient(mine.id)))))
    assert shown == expected
    kinds = {event.entity_type for event in db.scalars(
        select(AuditEvent).where(AuditEvent.id.in_(shown)))}
    assert {"patient", "patient_identity", "index_knee", "treatment", "visit",
            "instrument_response", "adverse_event", "contact_attempt", "self_report",
            "self_report_link"} <= kinds
    theirs = {event.id for event in db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "patient", AuditEvent.entity_id == str(other.id)))}
    assert not shown & theirs
    text = html.unescape(page.get_data(as_text=True))
    assert "3 months visit, KOOS P5" in text
    assert "2 (Moderate)" in text
    assert "3 (Severe)" in text
    assert "misread the paper form" in text
    assert "Núñez Peña" in text  # a clinician of the site reads identity changes


def test_visit_history_holds_that_visits_changes_only(auth, client, db, site_a,
                                                      two_patients):
    mine, _other = two_patients
    auth.login("coordinator", sites=[site_a])
    m3 = next(v for v in mine.visits if v.timepoint and v.timepoint.code == "m3")
    baseline = mine.visits[0]
    with capture.reason(db, "typo"):
        baseline.visit_date, baseline.status = date(2025, 12, 20), "done"
    db.commit()
    page = client.get(f"/audit/visits/{m3.id}/history")
    assert page.status_code == 200
    shown = {int(number) for number in _history_rows(page)}
    capture.flush_to_chain(db)
    rows = list(db.scalars(select(AuditEvent).where(AuditEvent.id.in_(shown))))
    assert {row.entity_type for row in rows} == {
        "visit", "instrument_response", "contact_attempt", "self_report", "self_report_link"}
    response_ids = {str(r.id) for r in m3.responses}
    for row in rows:
        if row.entity_type == "visit":
            assert row.entity_id == str(m3.id)
        if row.entity_type == "instrument_response":
            assert row.entity_id in response_ids
    text = html.unescape(page.get_data(as_text=True))
    assert f"History of {mine.study_id}, 3 months visit" in text


def test_times_are_in_the_sites_time_zone(auth, client, db, site_a, two_patients):
    mine, _other = two_patients
    auth.login("clinician", sites=[site_a])
    text = client.get(f"/audit/patients/{mine.id}/history").get_data(as_text=True)
    capture.flush_to_chain(db)
    newest = db.scalar(select(AuditEvent).where(
        AuditEvent.entity_type == "adverse_event", AuditEvent.action == "update")
        .order_by(AuditEvent.id.desc()).limit(1))
    local = newest.occurred_at.astimezone(ZoneInfo("America/New_York"))
    assert local.strftime("%Y-%m-%d %H:%M %Z") in text
    assert "(America/New_York)" in text


@pytest.mark.parametrize("role", ["clinician", "coordinator", "admin"])
def test_staff_of_another_site_and_researchers_are_refused(auth, client, site_a, site_b,
                                                            two_patients, role):
    mine, _other = two_patients
    auth.login(role, sites=[site_b])
    assert client.get(f"/audit/patients/{mine.id}/history").status_code == 403
    assert client.get(f"/audit/visits/{mine.visits[1].id}/history").status_code == 403


def test_researchers_and_anonymous_are_refused(auth, client, two_patients):
    mine, _other = two_patients
    assert client.get(f"/audit/patients/{mine.id}/history").status_code == 302  # sign in
    auth.login("researcher")
    assert client.get(f"/audit/patients/{mine.id}/history").status_code == 403


def test_a_closed_sites_auditor_reads_the_history_without_identity(auth, client, db, site_a,
                                                                   two_patients):
    mine, _other = two_patients
    admin = auth.login("admin", sites=[site_a])
    with capture.reason(db, "clinic closed"):
        site_a.active = False
    db.commit()
    page = client.get(f"/audit/patients/{mine.id}/history")
    assert page.status_code == 200, admin.email
    text = html.unescape(page.get_data(as_text=True))
    assert "identifying details" in text
    assert "Núñez" not in text
    assert mine.identity.medical_record_number not in text
    assert "[identifying value withheld]" in text
    assert "KOOS P5" in text


def test_audit_page_names_records_with_links(auth, client, db, site_a, two_patients):
    mine, _other = two_patients
    auth.login("admin", sites=[site_a])
    text = html.unescape(client.get("/admin/audit/?entity_type=instrument_response")
                         .get_data(as_text=True))
    assert f"{mine.study_id}, 3 months visit, KOOS P5" in text
    assert f'href="/patients/{mine.id}/visits/' in text
    koos = db.scalar(select(InstrumentResponse).where(
        InstrumentResponse.visit_id.in_([v.id for v in mine.visits]),
        InstrumentResponse.instrument == "koos"))
    assert f"instrument_response {koos.id}" in text  # the filterable raw name, beside it

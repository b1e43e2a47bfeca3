"""Trace and recall: who received a lot, limited to the viewer's sites; a recall flags
each patient until a review is recorded; the CLI prints the same; lot safety rates."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from registry.lots.flags import recall_flags
from registry.lots.services import apply_lot, change_status, lot_problems
from registry.lots.trace import lot_safety, serious_alerts, trace
from registry.models import (
    AdverseEvent,
    AuditEvent,
    LotRecallReview,
    Patient,
    Treatment,
)
from registry.services import ValidationFailed
from tests.fixtures.webtest import sign_in, submit
from tests.lots.conftest import TODAY


@pytest.fixture
def cohort(db, make_patient, make_lot, treat, site_a, site_b):
    """Lot L-1 used at two sites (3 + 2 patients), lot L-2 at site A (1 patient)."""
    shared, other = make_lot("L-1"), make_lot("L-2", site=site_a)
    at_a = [treat(make_patient(site_a), shared, events=events, serious=serious)
            for events, serious in ((2, 1), (1, 1), (0, 0))]
    at_b = [treat(make_patient(site_b), shared, events=1) for _ in range(2)]
    treat(make_patient(site_a), other)
    return {"lot": shared, "other": other, "a": at_a, "b": at_b}


def test_the_trace_equals_a_direct_query(db, cohort, site_a):
    lot = cohort["lot"]
    for sites in (None, frozenset({site_a.id})):
        rows = trace(db, lot, sites)
        statement = (select(Patient.study_id, func.count(AdverseEvent.id))
                     .join(Treatment, Treatment.patient_id == Patient.id)
                     .outerjoin(AdverseEvent, AdverseEvent.patient_id == Patient.id)
                     .where(Treatment.lot_id == lot.id).group_by(Patient.study_id)
                     .order_by(Patient.study_id))
        if sites is not None:
            statement = statement.where(Patient.site_id.in_(sites))
        assert [(row.study_id, row.event_count) for row in rows] == \
            list(db.execute(statement).all())
    assert len(trace(db, lot, None)) == 5
    assert len(trace(db, lot, frozenset({site_a.id}))) == 3


def test_the_lot_page_shows_only_the_viewers_sites(browser, db, cohort, make_user, make_lot,
                                                   site_a, site_b):
    clinician = make_user("clinician", sites=[site_a])
    sign_in(browser, clinician.email)
    page = browser.get(f"/lots/{cohort['lot'].id}")
    for patient in cohort["a"]:
        assert patient.study_id in page.text
    for patient in cohort["b"]:
        assert patient.study_id not in page.text
    rows = list(csv.reader(io.StringIO(
        browser.get(f"/lots/{cohort['lot'].id}/trace.csv").text.lstrip("\ufeff"))))
    assert [row[2] for row in rows[1:]] == sorted(p.study_id for p in cohort["a"])
    db.expire_all()
    actions = db.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "product_lot")).all()
    assert "trace_viewed" in actions
    assert "export" in actions
    # Site B's own lot, used on none of site A's patients, is not visible to them.
    b_only = make_lot("B-1", site=site_b)
    assert browser.get(f"/lots/{b_only.id}", expect_errors=True).status_int == 404
    assert browser.get(f"/lots/{b_only.id}/trace.csv", expect_errors=True).status_int == 404
    assert "B-1" not in browser.get("/lots/").text


def test_an_admin_traces_every_site(browser, cohort, make_user, site_a):
    admin = make_user("admin", sites=[site_a])
    sign_in(browser, admin.email)
    page = browser.get(f"/lots/{cohort['lot'].id}")
    for patient in cohort["a"] + cohort["b"]:
        assert patient.study_id in page.text


def test_a_recall_flags_patients_until_a_review_is_recorded(browser, db, cohort, make_user,
                                                            site_a):
    lot, patient = cohort["lot"], cohort["a"][0]
    everyone = [p.id for p in cohort["a"] + cohort["b"]]
    assert recall_flags(db, everyone) == {}
    admin = make_user("admin", sites=[site_a])
    sign_in(browser, admin.email)
    page = browser.get(f"/lots/{lot.id}")
    form = next(f for f in page.forms.values() if "reason" in f.fields and "status" in f.fields)
    form["status"], form["reason"] = "recalled", "Sterility failure reported by the lab"
    assert submit(form).status_int == 302
    db.expire_all()
    assert set(recall_flags(db, everyone)) == set(everyone)

    clinician = make_user("clinician", sites=[site_a])
    browser.reset()
    sign_in(browser, clinician.email)
    review = browser.get(f"/lots/reviews/{patient.id}")
    form = next(f for f in review.forms.values() if "note" in f.fields)
    assert submit(form).status_int == 422  # an empty review does not clear the flag
    db.expire_all()
    assert patient.id in recall_flags(db, everyone)
    form = next(f for f in browser.get(f"/lots/reviews/{patient.id}").forms.values()
                if "note" in f.fields)
    form["note"] = "Called; no symptoms; knee examined, no effusion."
    assert submit(form).status_int == 302
    db.expire_all()
    assert set(recall_flags(db, everyone)) == set(everyone) - {patient.id}
    # Another site's patient cannot be reviewed from site A.
    other = cohort["b"][0]
    assert browser.get(f"/lots/reviews/{other.id}", expect_errors=True).status_int == 403


def test_a_new_recall_flags_again_after_a_release(db, cohort):
    lot, patient = cohort["lot"], cohort["a"][0]
    change_status(db, lot, "recalled", "first recall", TODAY)
    db.add(LotRecallReview(lot_id=lot.id, patient_id=patient.id, note="fine",
                           reviewed_at=lot.recalled_at))
    db.flush()
    assert patient.id not in recall_flags(db, [patient.id])
    change_status(db, lot, "released", "investigated, cleared", TODAY)
    assert recall_flags(db, [patient.id]) == {}
    change_status(db, lot, "recalled", "second recall", TODAY)
    assert patient.id in recall_flags(db, [patient.id])


def test_unusual_lots_need_a_justification(db, make_patient, make_lot, site_a, site_b):
    patient = make_patient(site_a)
    quarantined = make_lot("Q-1", status="quarantined")
    expired = make_lot("E-1", expiry=TODAY.replace(year=2025))
    elsewhere = make_lot("S-1", site=site_b)
    fine = make_lot("F-1", site=site_a)
    on = patient.treatment.treatment_date
    assert lot_problems(fine, site_a.id, patient.id, on) == []
    for lot, words in ((quarantined, "quarantined"), (expired, "expired"),
                       (elsewhere, "another site")):
        problems = lot_problems(lot, site_a.id, patient.id, on)
        assert problems
        assert words in problems[0]
        with pytest.raises(ValidationFailed) as refused:
            apply_lot(patient.treatment, lot, "", site_id=site_a.id, on=on)
        assert "lot_id" in refused.value.errors
    apply_lot(patient.treatment, expired, "Only lot available; expiry checked with the "
              "manufacturer", site_id=site_a.id, on=on)
    assert patient.treatment.lot_id == expired.id
    assert patient.treatment.lot_justification.startswith("Only lot")
    apply_lot(patient.treatment, fine, "ignored", site_id=site_a.id, on=on)
    assert patient.treatment.lot_justification is None


def test_safety_rates_and_the_serious_event_alert(db, cohort, site_a):
    rows = {row.name.split(" · ")[1]: row for row in lot_safety(db, None)}
    shared = rows["L-1"]
    assert (shared.patients, shared.events, shared.serious) == (5, 5, 2)
    assert shared.event_rate.rate == 1.0
    assert shared.serious_rate.low < 0.4 < shared.serious_rate.high
    assert [row.key for row in serious_alerts(db, None, 2)] == [cohort["lot"].id]
    assert serious_alerts(db, None, 3) == []
    # Counted among the viewer's sites: site A has 2 serious events too.
    assert [row.key for row in serious_alerts(db, frozenset({site_a.id}), 2)] == \
        [cohort["lot"].id]


def test_the_cli_prints_the_trace(runner, db, cohort):
    result = runner.invoke(args=["lot", "trace", "L-1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("BMAC kit lot L-1: released, 5 patient(s)")
    for patient in cohort["a"] + cohort["b"]:
        assert any(line.split()[0] == patient.study_id for line in lines[1:])
    assert "2 adverse event(s), 1 serious" in result.output
    missing = runner.invoke(args=["lot", "trace", "NOPE", "--product", "BMAC kit"])
    assert missing.exit_code == 1
    assert "No lot NOPE of BMAC kit is registered." in missing.output


def test_traceability_records_are_never_deleted(db, cohort):
    from registry import audit_capture as capture
    from registry.models.products import TraceabilityRetained

    lot = cohort["lot"]
    for record in (lot, lot.product):
        savepoint = db.begin_nested()
        db.delete(record)
        with pytest.raises(TraceabilityRetained), capture.reason(db, "tidying up"):
            db.flush()
        savepoint.rollback()

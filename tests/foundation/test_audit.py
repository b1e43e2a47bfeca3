"""The audit trail: every change recorded, reasons required, tampering detected."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from registry import audit_capture as capture
from registry import audit_chain as chain
from registry.models import AuditEvent

KEY = b"test-audit-key"


def _events(db, entity_type, entity_id):
    return list(db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
        .order_by(AuditEvent.id)))


def _drop_guards(db):
    """What an attacker with database rights would do first."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        db.execute(text("DROP TRIGGER audit_event_no_update"))
        db.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_create_update_delete_are_recorded_with_values(db, site_a, make_patient):
    patient = make_patient(site_a)
    knee = patient.index_knee
    created = _events(db, "index_knee", knee.id)
    assert [event.action for event in created] == ["create"]
    assert json.loads(created[0].new_value)["kl_grade"] == 2
    with capture.reason(db, "re-read radiograph"):
        knee.kl_grade = 3
    updated = _events(db, "index_knee", knee.id)[-1]
    assert (updated.action, updated.field) == ("update", "kl_grade")
    assert (updated.old_value, updated.new_value, updated.reason) == ("2", "3",
                                                                      "re-read radiograph")
    assert updated.site_id == site_a.id
    with capture.reason(db, "entered on the wrong patient"):
        db.delete(knee)
    deleted = _events(db, "index_knee", knee.id)[-1]
    assert deleted.action == "delete"
    assert json.loads(deleted.old_value)["kl_grade"] == 3


def test_json_answers_are_audited_item_by_item(db, site_a, make_patient, record_visit):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 10))
    visit = patient.visits[0]
    record_visit(visit, date(2026, 1, 5), {"vas": {"VAS": 60}})
    response = visit.responses[0]
    with capture.reason(db, "transcription error"):
        response.answers = {"VAS": 55}
    event = _events(db, "instrument_response", response.id)[-1]
    assert (event.field, event.old_value, event.new_value) == ("answers.VAS", "60", "55")


def test_changing_a_recorded_value_requires_a_reason(db, site_a, make_patient):
    knee = make_patient(site_a).index_knee
    knee.kl_grade = 3
    with pytest.raises(capture.ReasonRequired, match="kl_grade"):
        db.flush()
    db.rollback()


def test_deleting_clinical_data_requires_a_reason(db, site_a, make_patient):
    patient = make_patient(site_a)
    db.delete(patient.index_knee)
    with pytest.raises(capture.ReasonRequired):
        db.flush()
    db.rollback()


def test_passwords_and_tokens_are_never_in_the_trail(db, make_user):
    user = make_user("clinician")
    values = " ".join(f"{e.old_value} {e.new_value}" for e in _events(db, "app_user", user.id))
    assert user.password_hash not in values
    assert user.session_token not in values


def test_chain_verifies(db, site_a, make_patient):
    make_patient(site_a)
    db.commit()  # audit rows join the chain when their transaction commits
    result = chain.verify(db.connection(), KEY)
    assert result.ok
    assert result.rows_checked >= 4


def test_database_refuses_update_and_delete_of_audit_rows(db, site_a, make_patient):
    make_patient(site_a)
    first = db.scalar(select(AuditEvent.id).order_by(AuditEvent.id))
    with pytest.raises(DatabaseError, match="append-only"), db.begin_nested():
        db.execute(update(AuditEvent).where(AuditEvent.id == first).values(reason="x"))
    with pytest.raises(DatabaseError, match="append-only"), db.begin_nested():
        db.execute(delete(AuditEvent).where(AuditEvent.id == first))


def _ids(db):
    return list(db.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def test_edited_field_is_detected(db, site_a, make_patient):
    make_patient(site_a)
    ids = _ids(db)
    _drop_guards(db)
    db.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(new_value='"forged"'))
    result = chain.verify(db.connection(), KEY)
    assert (result.first_broken_id, result.problem) == (
        ids[2], "the row's content does not match its hash")


def test_deleted_row_is_detected(db, site_a, make_patient):
    make_patient(site_a)
    ids = _ids(db)
    _drop_guards(db)
    db.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
    assert chain.verify(db.connection(), KEY).first_broken_id == ids[2]


def test_swapped_rows_are_detected(db, site_a, make_patient):
    make_patient(site_a)
    ids = _ids(db)
    rows = {row.id: row for row in db.scalars(select(AuditEvent).where(
        AuditEvent.id.in_(ids[1:3])))}
    columns = [c.key for c in AuditEvent.__table__.columns if c.key != "id"]
    first = {c: getattr(rows[ids[1]], c) for c in columns}
    second = {c: getattr(rows[ids[2]], c) for c in columns}
    db.expunge_all()
    _drop_guards(db)
    db.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(
        **{**second, "row_hash": "tmp"}))
    db.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(**first))
    db.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(
        row_hash=second["row_hash"]))
    assert chain.verify(db.connection(), KEY).first_broken_id == ids[1]


def test_forged_row_without_the_key_is_detected(db, site_a, make_patient):
    make_patient(site_a)
    last = db.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    forged = {"occurred_at": last.occurred_at, "action": "update", "entity_type": "patient",
              "entity_id": "1", "field": "sex", "old_value": '"male"', "new_value": '"female"'}
    chain.append(db.connection(), b"a guessed key", [forged])
    result = chain.verify(db.connection(), KEY)
    assert result.first_broken_id == db.scalar(select(AuditEvent.id).order_by(
        AuditEvent.id.desc()).limit(1))


def test_cli_verify_reports_intact_and_broken(runner, db, site_a, make_patient):
    make_patient(site_a)
    db.commit()  # a savepoint: visible to the command's session, rolled back after the test
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    _drop_guards(db)
    target = _ids(db)[0]
    db.execute(update(AuditEvent).where(AuditEvent.id == target).values(reason="edited"))
    db.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"row id {target}" in broken.output


# --- Reading the trail: an admin's sites, checked filters, the CSV --------------------


def _trail_ids(client, query: str = "") -> set[str]:
    response = client.get(f"/admin/audit/?{query}")
    assert response.status_code == 200
    return {row["id"] for row in _csv(client)}, response.get_data(as_text=True)


def _csv(client, **form) -> list[dict[str, str]]:
    import csv
    import io

    response = client.post("/admin/audit/export.csv", data=form)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    response.close()
    return list(csv.DictReader(io.StringIO(text)))


def _events_about(db, patient):
    """Ids (text) of every audit row about the patient's records."""
    from registry.models import InstrumentResponse, Visit

    visits = [str(v.id) for v in patient.visits]
    responses = [str(r.id) for r in db.scalars(select(InstrumentResponse).join(Visit).where(
        Visit.patient_id == patient.id))]
    keys = {("patient", str(patient.id)), ("patient_identity", str(patient.id)),
            ("index_knee", str(patient.index_knee.id)),
            ("treatment", str(patient.treatment.id))}
    keys |= {("visit", v) for v in visits} | {("instrument_response", r) for r in responses}
    return {str(event.id) for event in db.scalars(select(AuditEvent))
            if (event.entity_type, event.entity_id) in keys}


def test_admin_of_one_site_reads_only_that_sites_patients(auth, client, db, site_a, site_b,
                                                          make_patient, record_visit):
    mine = make_patient(site_a, family_name="Ownsite")
    theirs = make_patient(site_b, family_name="Othersite")
    record_visit(theirs.visits[0], date(2025, 12, 20), {"vas": {"VAS": 40}})
    record_visit(mine.visits[0], date(2025, 12, 20), {"vas": {"VAS": 50}})
    db.expire_all()
    # The audit hook may leave the site empty (it does for questionnaire answers): the
    # view then finds the record's site in SQL.
    assert db.scalar(select(AuditEvent.id).where(
        AuditEvent.entity_type == "instrument_response", AuditEvent.site_id.is_(None)))
    foreign = _events_about(db, db.merge(theirs))
    own = _events_about(db, db.merge(mine))
    assert foreign
    assert own
    admin = auth.login("admin", sites=[site_a])
    shown, page = _trail_ids(client)
    assert own <= shown
    assert not foreign & shown
    values = " ".join(f"{row['old_value']} {row['new_value']}" for row in _csv(client))
    assert "Ownsite" in values
    assert "Othersite" not in values
    assert "Othersite" not in page
    # Events about no patient (sign-ins, accounts, sites) are every admin's business.
    logins = {str(e.id) for e in db.scalars(select(AuditEvent).where(
        AuditEvent.action == "login", AuditEvent.actor_id == admin.id))}
    assert logins <= shown
    sites = {str(e.id) for e in db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "site"))}
    assert sites <= shown
    # Filters cannot widen it.
    shown_by_id, _page = _trail_ids(client, f"entity_type=patient&entity_id={theirs.id}")
    assert not foreign & shown_by_id


def test_admin_of_both_sites_reads_both(auth, client, db, site_a, site_b, make_patient):
    theirs = make_patient(site_b)
    foreign = _events_about(db, theirs)
    auth.login("admin", sites=[site_a, site_b])
    shown, _page = _trail_ids(client)
    assert foreign <= shown


def test_a_deactivated_sites_history_stays_readable_by_its_admin(auth, client, db, site_a,
                                                                 site_b, make_patient):
    """Closing a site closes its patients' pages, not the record of what happened there."""
    closed = make_patient(site_b)
    history = _events_about(db, closed)
    with capture.reason(db, "clinic closed"):
        site_b.active = False
        db.flush()
    auth.login("admin", sites=[site_a, site_b])
    shown, _page = _trail_ids(client)
    assert history <= shown


def test_a_call_list_over_two_sites_is_recorded_per_site(auth, client, db, site_a, site_b,
                                                         make_patient):
    """Each site's admin reads the export of its own patients, never the other's."""
    for site in (site_a, site_a, site_b):
        make_patient(site)
    auth.login("coordinator", sites=[site_a, site_b])
    assert client.post("/followup/call-list.csv", data={}).status_code == 200
    db.expire_all()
    events = db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "worklist_call_list")).all()
    assert sorted(event.site_id for event in events) == sorted([site_a.id, site_b.id])
    auth.logout()
    auth.login("admin", sites=[site_a])
    shown = {row["id"] for row in _csv(client, entity_type="worklist_call_list")}
    assert shown == {str(event.id) for event in events if event.site_id == site_a.id}


@pytest.mark.parametrize(("query", "field", "words"), [
    ("date_to=9999-12-31", "To", "must be between 2000-01-01 and 2099-12-31"),
    ("date_from=0001-01-01", "From", "must be between"),
    ("date_to=2025-02-30", "To", "is not a date (YYYY-MM-DD)"),
    ("date_from=%C2%B2025-01-01", "From", "is not a date"),
    ("date_from=2025-03-01&date_to=2025-02-01", "To", "must not be before From"),
    ("entity_id=" + "9" * 41, "Record id", "at most 40 characters"),
    ("page=1e20", "Page", "is not a page number"),
    ("page=" + "9" * 400, "Page", "is not a page number"),
    ("page=%C2%B2", "Page", "is not a page number"),
])
def test_bad_filters_get_a_message_naming_the_field(auth, client, site_a, query, field,
                                                    words):
    auth.login("admin", sites=[site_a])
    response = client.get(f"/admin/audit/?{query}")
    assert response.status_code == 422
    text = response.get_data(as_text=True).replace("&#39;", "'")
    assert f"{field}: " in text
    assert words in text
    if not query.startswith("page"):
        form = dict(pair.split("=", 1) for pair in query.split("&"))
        form = {key: value.replace("%C2%B2", "²") for key, value in form.items()}
        refused = client.post("/admin/audit/export.csv", data=form)
        refused.close()
        assert refused.status_code == 422


def test_whole_last_day_and_far_pages(auth, client, db, site_a):
    admin = auth.login("admin", sites=[site_a])
    today = db.scalar(select(AuditEvent.occurred_at).where(
        AuditEvent.actor_id == admin.id)).date().isoformat()
    shown, _page = _trail_ids(client, f"date_from={today}&date_to={today}&action=login")
    assert shown
    assert client.get("/admin/audit/?date_to=2099-12-31").status_code == 200
    assert client.get("/admin/audit/?page=99999").status_code == 200  # the last page
    assert client.get("/admin/audit/?page=999999999").status_code == 422  # past MAX_PAGE


def test_audit_csv_escapes_formulas_and_keeps_numbers(auth, client, db, site_a,
                                                      make_patient):
    patient = make_patient(site_a, family_name='=HYPERLINK("http://x","y")')
    with capture.reason(db, "@SUM(A1)"):
        patient.index_knee.kl_grade = 3
    db.commit()  # audit rows join the chain when their transaction commits
    auth.login("admin", sites=[site_a])
    rows = _csv(client)
    cells = [value for row in rows for value in row.values()]
    assert not [cell for cell in cells if cell and cell[0] in "=+-@\t\r"]
    assert any(row["reason"] == "'@SUM(A1)" for row in rows)
    assert any('\\"=HYPERLINK' in row["new_value"] or '"=HYPERLINK' in row["new_value"]
               for row in rows)
    assert all(row["id"].isdigit() for row in rows)

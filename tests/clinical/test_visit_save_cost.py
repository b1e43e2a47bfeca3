"""Saving a visit: a bounded number of SQL statements, whatever the number of answers.

One flush writes the visit and its responses, their audit rows go into the chain in one
executemany, and the scores of every instrument in one more; a save that went back to
one INSERT per audit row or per score would fail here.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import audit_chain as chain
from registry.clinical.services.visits import save_visit
from registry.models import AuditEvent, InstrumentResponse, ScoreValue, Visit
from registry.scores import InvalidAnswers, compute_scores, save_response
from registry.services import ValidationFailed
from tests.clinical.browser import fill, form_for, open_form, submit
from tests.clinical.helpers import all_items, answer_fields
from tests.fixtures.database import recorded_statements

KEY = b"test-audit-key"
VISIT_DATE = date(2025, 12, 20)  # in the baseline window of a patient treated 2026-01-01
# The whole request, from the user's session to the redirect (about 17 on SQLite today;
# one INSERT per audit row and per score would be over 50 for a full visit).
STATEMENT_BOUND = 26

ANSWER_SETS: dict[str, dict[str, dict[str, int | None]]] = {
    "vas only": {"vas": {"VAS": 40}},
    "full visit": {"vas": {"VAS": 60}, "pga": {"PGA": 50}, "womac": all_items("womac", 2),
                   "koos": all_items("koos", 1)},
    # Partly answered: some scores are null with a reason, others computed.
    "partial visit": {"vas": {"VAS": 60}, "pga": {"PGA": None},
                      "womac": {**all_items("womac", None), "P1": 1, "P2": 2},
                      "koos": {**all_items("koos", None), "P1": 2, "S1": 1, "S2": 1}},
}


def baseline_of(db: Session, patient: Any) -> Visit:
    db.expire_all()
    return next(visit for visit in db.scalars(select(Visit).where(Visit.patient_id == patient.id))
                if visit.timepoint is not None and visit.timepoint.is_baseline)


def inserts_by_table(seen: list[str]) -> Counter[str]:
    return Counter(match.group(1) for statement in seen
                   if (match := re.match(r"\s*INSERT INTO (\w+)", statement)))


@pytest.mark.parametrize("answer_set", sorted(ANSWER_SETS))
def test_visit_save_writes_audit_rows_and_scores_in_one_statement_each(
        browser, db, treated, clinician, answer_set):
    answers = ANSWER_SETS[answer_set]
    visit = baseline_of(db, treated)
    audit_before = db.scalar(select(func.count(AuditEvent.id)))
    form = fill(open_form(browser, f"/patients/{treated.id}/visits/{visit.id}",
                          field="visit_date"),
                {"visit_date": str(VISIT_DATE), **answer_fields(answers)})
    if answer_set == "partial visit":  # most of WOMAC and KOOS unanswered: confirmed first
        refused = submit(form)
        assert refused.status_int == 422
        form = fill(form_for(refused, field="visit_date"), {"confirm_incomplete": True})
    with recorded_statements(db.get_bind()) as seen:
        response = submit(form)  # the form as rendered: the save request alone is counted
    assert response.status_int == 302
    inserts = inserts_by_table(seen)
    assert inserts["audit_event"] == 1
    assert inserts["score_value"] == 1
    assert inserts["instrument_response"] <= len(answers)  # one each on SQLite, else one
    assert len(seen) <= STATEMENT_BOUND, seen

    db.expire_all()
    responses = {r.instrument: r for r in db.scalars(
        select(InstrumentResponse).where(InstrumentResponse.visit_id == visit.id))}
    answered = {code for code, items in answers.items()
                if any(value is not None for value in items.values())}
    assert set(responses) == answered
    for code, response_row in responses.items():
        expected = compute_scores(code, response_row.answers)
        stored = {s.score_code: (s.value, s.reason) for s in response_row.scores}
        assert stored == expected
    # Every created response and changed visit field is in the trail, with its actor.
    events = list(db.scalars(select(AuditEvent).order_by(AuditEvent.id).offset(audit_before)))
    created = {e.entity_id for e in events if e.action == "create"
               and e.entity_type == "instrument_response"}
    assert created == {str(r.id) for r in responses.values()}
    changed = {e.field for e in events if e.entity_type == "visit"}
    assert {"visit_date", "status", "clinician_id"} <= changed
    assert {e.actor_email for e in events} == {clinician.email}
    assert chain.verify(db.connection(), KEY).ok


def test_save_response_leaves_the_scores_on_the_response(db, treated, record_visit):
    visit = baseline_of(db, treated)
    record_visit(visit, VISIT_DATE)
    response = save_response(db, visit, "womac", all_items("womac", 3))
    expected = compute_scores("womac", all_items("womac", 3))
    assert {s.score_code: (s.value, s.reason) for s in response.scores} == expected
    assert db.scalar(select(func.count(ScoreValue.id))
                     .where(ScoreValue.response_id == response.id)) == len(expected)


def test_invalid_answer_saves_nothing_and_names_the_form_field(db, treated):
    visit = baseline_of(db, treated)
    version = visit.version
    with pytest.raises(ValidationFailed) as raised:
        save_visit(db, visit, visit_date=VISIT_DATE, version=str(version), reason=None,
                   clinician_id=None,
                   answers={"vas": {"VAS": 40}, "womac": {**all_items("womac", 1), "P1": 9}})
    assert isinstance(raised.value.__cause__, InvalidAnswers)
    assert set(raised.value.errors) == {"womac-P1"}
    db.expire_all()
    assert db.get(Visit, visit.id).status == "scheduled"
    assert db.get(Visit, visit.id).version == version
    assert db.scalar(select(func.count(InstrumentResponse.id))
                     .where(InstrumentResponse.visit_id == visit.id)) == 0

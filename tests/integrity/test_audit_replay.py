"""Random create/update/delete sequences: one audit row per change, and the trail replays.

A hypothesis state machine edits patients, index knees, visits, adverse events and
questionnaire answers (through ``registry.scores.save_response``) in a real session on
the real database.  After every step it checks that the step produced exactly the
expected audit rows (one per created or deleted record and per changed field or answer
item, with the right old and new values) and that replaying the whole trail — create
snapshots, then field updates, then deletes — rebuilds exactly the stored values of every
audited record.  Each example runs in a savepoint that is rolled back afterwards.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from typing import Any, ClassVar

from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import DateTime, func, select
from sqlalchemy.orm import Session

import scoring
from registry import audit_capture as capture
from registry.models import (
    AdverseEvent,
    AuditEvent,
    Base,
    IndexKnee,
    InstrumentResponse,
    Patient,
    Site,
    Visit,
)
from registry.scheduling import default_protocol
from registry.scores import save_response
from registry.vocabularies import AE_OUTCOMES, AE_RELATEDNESS, LATERALITY, SEX
from tests.integrity.helpers import add_adverse_event, add_patient

MODELS: dict[str, type[Base]] = {model.__tablename__: model for model in (
    Patient, IndexKnee, Visit, InstrumentResponse, AdverseEvent)}
# Bookkeeping the database layer maintains itself (version counter, onupdate timestamp).
NOT_REPLAYED = frozenset({"version", "updated_at"})
REASON = "property-test correction"
EXAMPLES, STEPS = 25, 25  # a few seconds per backend
MAX_RECORDS = 3  # few records, many edits: edits are where audit trails go wrong

plain_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
PATIENT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "sex": st.sampled_from(list(SEX)),
    "height_cm": st.integers(500, 2500).map(lambda tenths: tenths / 10),
    "weight_kg": st.integers(200, 3500).map(lambda tenths: tenths / 10),
    "withdrawal_note": st.none() | plain_text,
    "outside_indication_justification": st.none() | plain_text,
}
KNEE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "kl_grade": st.integers(0, 4), "laterality": st.sampled_from(list(LATERALITY))}
AE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "severity_grade": st.integers(1, 5),
    "description": plain_text.filter(lambda text: text.strip() != ""),
    "outcome": st.sampled_from(list(AE_OUTCOMES)),
    "relatedness": st.sampled_from(list(AE_RELATEDNESS)),
}
VISIT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "visit_date": st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    "not_applicable_reason": st.none() | plain_text,
}


def _answers(instrument: str) -> st.SearchStrategy[dict[str, int | None]]:
    items = scoring.INSTRUMENTS[instrument].items
    return st.fixed_dictionaries({
        item.code: st.none() | st.integers(item.minimum, item.maximum) for item in items})


ANSWERS = {code: _answers(code) for code in ("vas", "womac")}
EDITABLE: dict[type[Base], dict[str, st.SearchStrategy[Any]]] = {
    Patient: PATIENT_FIELDS, IndexKnee: KNEE_FIELDS, Visit: VISIT_FIELDS, AdverseEvent: AE_FIELDS}
Expected = tuple[str, str, str, str | None, Any, Any]


def _normalised(column_type: Any, value: Any) -> Any:
    """A stored or replayed value in one comparable form (JSON types, datetimes parsed)."""
    if value is None:
        return None
    if isinstance(getattr(column_type, "impl", column_type), DateTime):
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return json.loads(json.dumps(value, default=str))


class AuditedRecords(RuleBasedStateMachine):
    app: ClassVar[Flask]
    site_id: ClassVar[int]

    def __init__(self) -> None:
        super().__init__()
        self.session: Session = self.app.extensions["registry.sessionmaker"]()
        self.session.info[capture.ACTOR] = (None, "property-test@example.org")
        self.seen_audit_id = self.session.scalar(select(func.max(AuditEvent.id))) or 0
        self.first_audit_id = self.seen_audit_id
        self.numbers = iter(range(1, 10_000))

    def teardown(self) -> None:
        self.session.rollback()
        self.session.close()

    # -- expectations -------------------------------------------------------------------
    def _new_rows(self) -> list[AuditEvent]:
        rows = list(self.session.scalars(select(AuditEvent).where(
            AuditEvent.id > self.seen_audit_id).order_by(AuditEvent.id)))
        if rows:
            self.seen_audit_id = rows[-1].id
        return rows

    def _expect(self, expected: list[Expected]) -> None:
        """The step's audit rows are exactly ``expected`` (snapshots: listed fields only)."""
        rows = self._new_rows()
        found = []
        for row in rows:
            if row.action == "update":
                found.append((row.action, row.entity_type, row.entity_id, row.field,
                              row.old_value, row.new_value))
            else:
                found.append((row.action, row.entity_type, row.entity_id, None, None, None))
        wanted = [(a, t, i, f, o, n) if a == "update" else (a, t, i, None, None, None)
                  for a, t, i, f, o, n in expected]
        assert Counter(found) == Counter(wanted), (found, wanted)
        snapshots = {(row.action, row.entity_type, row.entity_id):
                     json.loads(row.old_value if row.action == "delete" else row.new_value)
                     for row in rows if row.action != "update"}
        for action, entity_type, entity_id, _field, old, new in expected:
            if action == "update":
                continue
            snapshot = snapshots[(action, entity_type, entity_id)]
            for name, value in (new if action == "create" else old).items():
                assert snapshot[name] == value, (action, entity_type, entity_id, name)

    def _update(self, record: Base, changes: dict[str, Any]) -> list[Expected]:
        expected: list[Expected] = []
        for name, value in changes.items():
            old = getattr(record, name)
            if old != value:
                expected.append(("update", record.__tablename__, str(record.id), name,
                                 capture.encode(old), capture.encode(value)))
        with capture.reason(self.session, REASON):
            for name, value in changes.items():
                setattr(record, name, value)
        return expected

    def _pick(self, data: st.DataObject, model: type[Base]) -> Any:
        ids = sorted(self.session.scalars(select(model.id)))
        return self.session.get(model, data.draw(st.sampled_from(ids)))

    def _count(self, model: type[Base]) -> int:
        return int(self.session.scalar(select(func.count()).select_from(model)) or 0)

    def _has(self, model: type[Base]) -> bool:
        return self._count(model) > 0

    # -- rules ----------------------------------------------------------------------------
    @initialize()
    def enrol_first_patient(self) -> None:
        self.enrol_patient(kl_grade=2)
        patient = self.session.scalar(select(Patient))
        self._report(patient, grade=1)

    @precondition(lambda self: self._count(Patient) < MAX_RECORDS)
    @rule(kl_grade=st.integers(0, 4))
    def enrol_patient(self, kl_grade: int) -> None:
        site = self.session.get(Site, self.site_id)
        patient = add_patient(self.session, site, next(self.numbers), kl_grade=kl_grade)
        visit = Visit(patient_id=patient.id, status="scheduled")
        self.session.add(visit)
        self.session.flush()
        self._expect([
            ("create", "patient", str(patient.id), None, None,
             {"study_id": patient.study_id, "sex": "female", "height_cm": 170.0}),
            ("create", "index_knee", str(patient.index_knee.id), None, None,
             {"kl_grade": kl_grade, "patient_id": patient.id}),
            ("create", "visit", str(visit.id), None, None,
             {"patient_id": patient.id, "status": "scheduled", "visit_date": None}),
        ])

    @precondition(lambda self: self._has(Patient))
    @rule(data=st.data(), model=st.sampled_from(sorted(EDITABLE, key=lambda m: m.__name__)))
    def edit_record(self, data: st.DataObject, model: type[Base]) -> None:
        """Change one or two fields of a patient, knee, visit or adverse event."""
        if not self._has(model):
            return
        record = self._pick(data, model)
        fields = EDITABLE[model]
        chosen = data.draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=2,
                                    unique=True))
        self._expect(self._update(record, {name: data.draw(fields[name]) for name in chosen}))

    @precondition(lambda self: self._count(AdverseEvent) < MAX_RECORDS)
    @rule(data=st.data(), grade=st.integers(1, 5))
    def report_adverse_event(self, data: st.DataObject, grade: int) -> None:
        self._report(self._pick(data, Patient), grade)

    def _report(self, patient: Patient, grade: int) -> None:
        event = add_adverse_event(self.session, patient, grade=grade)
        self._expect([("create", "adverse_event", str(event.id), None, None,
                       {"severity_grade": grade, "patient_id": patient.id,
                        "onset_date": "2026-01-03"})])

    @precondition(lambda self: self._has(AdverseEvent))
    @rule(data=st.data())
    def delete_adverse_event(self, data: st.DataObject) -> None:
        event = self._pick(data, AdverseEvent)
        before = {"severity_grade": event.severity_grade, "description": event.description}
        with capture.reason(self.session, "entered in error"):
            self.session.delete(event)
        self._expect([("delete", "adverse_event", str(event.id), None, before, None)])

    @precondition(lambda self: self._has(Visit))
    @rule(data=st.data(), instrument=st.sampled_from(sorted(ANSWERS)))
    def record_answers(self, data: st.DataObject, instrument: str) -> None:
        visit = self._pick(data, Visit)
        answers = data.draw(ANSWERS[instrument])
        response = next((r for r in visit.responses if r.instrument == instrument), None)
        if response is None:
            saved = save_response(self.session, visit, instrument, answers)
            self._expect([("create", "instrument_response", str(saved.id), None, None,
                           {"answers": answers, "visit_id": visit.id})])
            return
        old = dict(response.answers)
        with capture.reason(self.session, REASON):
            save_response(self.session, visit, instrument, answers)
        self._expect([("update", "instrument_response", str(response.id), f"answers.{item}",
                       capture.encode(old.get(item)), capture.encode(answers.get(item)))
                      for item in sorted(answers) if old.get(item) != answers.get(item)])

    @precondition(lambda self: self._count(Patient) > 1)
    @rule(data=st.data())
    def delete_patient(self, data: st.DataObject) -> None:
        """Deleting a patient deletes (and audits) its knee, visits, answers and events."""
        patient = self._pick(data, Patient)
        expected: list[Expected] = [("delete", "patient", str(patient.id), None, {}, None)]
        if patient.index_knee is not None:
            expected.append(("delete", "index_knee", str(patient.index_knee.id), None, {}, None))
        for visit in patient.visits:
            expected.append(("delete", "visit", str(visit.id), None, {}, None))
            expected += [("delete", "instrument_response", str(r.id), None, {}, None)
                         for r in visit.responses]
        expected += [("delete", "adverse_event", str(e.id), None, {}, None)
                     for e in patient.adverse_events]
        with capture.reason(self.session, "withdrew consent for data use"):
            self.session.delete(patient)
        self._expect(expected)

    # -- the trail rebuilds the data --------------------------------------------------------
    @invariant()
    def trail_replays_to_current_values(self) -> None:
        replayed: dict[tuple[str, str], dict[str, Any]] = {}
        for row in self.session.scalars(select(AuditEvent).where(
                AuditEvent.id > self.first_audit_id,
                AuditEvent.entity_type.in_(MODELS)).order_by(AuditEvent.id)):
            key = (row.entity_type, row.entity_id)
            if row.action == "create":
                assert key not in replayed, f"{key} created twice"
                replayed[key] = json.loads(row.new_value)
            elif row.action == "update":
                name, _, item = row.field.partition(".")
                value = None if row.new_value is None else json.loads(row.new_value)
                if item:
                    replayed[key][name] = {**replayed[key][name], item: value}
                else:
                    replayed[key][name] = value
            else:
                self._same_values(key, json.loads(row.old_value), replayed.pop(key))
        self.session.expire_all()
        stored: dict[tuple[str, str], dict[str, Any]] = {}
        for name, model in MODELS.items():
            for record in self.session.scalars(select(model)):
                stored[(name, str(record.id))] = {
                    column.key: getattr(record, column.key)
                    for column in model.__mapper__.column_attrs}
        assert sorted(replayed) == sorted(stored)
        for key, values in stored.items():
            self._same_values(key, replayed[key], values)

    @staticmethod
    def _same_values(key: tuple[str, str], expected: dict[str, Any],
                     actual: dict[str, Any]) -> None:
        table = MODELS[key[0]].__table__
        for column in table.columns:
            if column.key in NOT_REPLAYED:
                continue
            assert _normalised(column.type, expected.get(column.key)) == _normalised(
                column.type, actual.get(column.key)), (key, column.key)


def test_random_edits_are_audited_once_each_and_the_trail_replays(app: Flask, db: Session,
                                                                   site_a: Site) -> None:
    default_protocol(db, site_a.id)
    db.commit()  # site and protocol: a savepoint every example's session can see
    machine = type("Machine", (AuditedRecords,), {"app": app, "site_id": site_a.id})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        # Shrinking a failing run takes minutes; the unshrunk steps are printed instead.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


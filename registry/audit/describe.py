"""Audit rows named as a person would: "OSL-0005, 3 months visit, KOOS P5", with links.

The one describer of the audit page and the History views.  The trail stores table names
and ids; for a page of rows this collects the record ids of each type and loads each type
at once (one query per record type on the page, then the visits, patients, sites and
users they lead to: a bounded number of queries, whatever the number of rows).  A record
that no longer exists is named from the values its create or delete row kept.

Names come from their one place: study IDs from the patient, timepoint names through
``registry.i18n.timepoint_name``, instrument short names and item codes from the scoring
catalogue, coded values from the vocabularies (``registry.audit.labels``).  Identifying
values (the ``patient_identity`` record) are shown only where ``show_identity`` says so
for the record's site; values the capture redacted stay redacted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

import scoring
from registry.audit import labels
from registry.audit.labels import tr
from registry.i18n import day, moment, timepoint_name
from registry.models import (
    AdverseEvent,
    AuditEvent,
    Cohort,
    ContactAttempt,
    IndexKnee,
    InstrumentResponse,
    Patient,
    Protocol,
    ScoreValue,
    SelfReport,
    SelfReportLink,
    Site,
    TextPack,
    Timepoint,
    Treatment,
    User,
    Visit,
)
from registry.vocabularies import N_

IDENTITY = "patient_identity"
MAX_ID = 2**31 - 1  # the id columns' range
Row = dict[str, Any]
# Record type -> the columns that name it (the id first).  A page loads, per type, the
# rows of its ids with these columns.
COLUMNS: dict[str, tuple[Any, ...]] = {
    "index_knee": (IndexKnee.id, IndexKnee.patient_id),
    "treatment": (Treatment.id, Treatment.patient_id),
    "adverse_event": (AdverseEvent.id, AdverseEvent.patient_id, AdverseEvent.onset_date,
                      AdverseEvent.category),
    "contact_attempt": (ContactAttempt.id, ContactAttempt.patient_id, ContactAttempt.visit_id,
                        ContactAttempt.attempted_on),
    "instrument_response": (InstrumentResponse.id, InstrumentResponse.visit_id,
                            InstrumentResponse.instrument),
    "score_value": (ScoreValue.id, ScoreValue.visit_id, ScoreValue.score_code),
    "self_report": (SelfReport.id, SelfReport.patient_id, SelfReport.visit_id),
    "self_report_link": (SelfReportLink.id, SelfReportLink.self_report_id,
                         SelfReportLink.channel),
    "protocol": (Protocol.id, Protocol.name),
    "timepoint": (Timepoint.id, Timepoint.name),
    "cohort": (Cohort.id, Cohort.name),
    "text_pack": (TextPack.id, TextPack.instrument, TextPack.language),
}
VISIT_COLUMNS = (Visit.id, Visit.patient_id, Visit.visit_date, Visit.target_date,
                 Timepoint.name.label("timepoint_name"))


@dataclass(frozen=True)
class Described:
    """One audit row in words.  ``record`` names the record in full; ``detail`` without
    its patient ("3 months visit, KOOS P5"; empty for the patient record itself)."""

    event: AuditEvent
    action: str
    record: str
    detail: str
    url: str | None
    field: str
    old: str
    new: str
    values: tuple[tuple[str, str], ...]
    when: str
    who: str
    withheld: bool  # identifying values not shown to this reader


@dataclass
class _Loaded:
    """What a page of rows refers to, by record type and id."""

    rows: dict[str, dict[int, Row]]
    visits: dict[int, Row]
    patients: dict[int, Row]
    sites: dict[int, Row]
    users: dict[int, Row]


def _day(value: Any) -> str:
    """A date as the reader's locale writes it (a kept snapshot's ISO text parsed first)."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return day(value) if isinstance(value, date) else str(value)


def _int(text: str | None) -> int | None:
    """A record id from the row's text (None for keys that are not ids in range)."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def _snapshots(events: Iterable[AuditEvent]) -> dict[tuple[str, int], Row]:
    """The values kept by create and delete rows, for records no longer in their table."""
    kept: dict[tuple[str, int], Row] = {}
    for event in events:
        number = _int(event.entity_id)
        if event.action not in ("create", "delete") or event.entity_type is None \
                or number is None:
            continue
        value = labels.decode(event.new_value if event.action == "create"
                              else event.old_value)
        if isinstance(value, dict):
            kept.setdefault((event.entity_type, number), value)
    return kept


def _load_rows(session: Session, columns: tuple[Any, ...], ids: set[int]) -> dict[int, Row]:
    """The rows of ``ids`` (one query; none without ids), keyed by id."""
    if not ids:
        return {}
    stmt = select(*columns)
    if columns is VISIT_COLUMNS:  # the timepoint's name with the visit
        stmt = stmt.select_from(Visit).outerjoin(Timepoint, Visit.timepoint_id == Timepoint.id)
    result = session.execute(stmt.where(columns[0].in_(sorted(ids))))
    return {row["id"]: dict(row) for row in result.mappings()}


def _fill(found: dict[int, Row], ids: set[int], kind: str,
          kept: Mapping[tuple[str, int], Row]) -> dict[int, Row]:
    """Rows not found (deleted records) from their kept values, marked ``deleted``."""
    for number in ids - set(found):
        snapshot = kept.get((kind, number))
        found[number] = {**(snapshot or {}), "id": number, "deleted": True}
    return found


def load(session: Session, events: list[AuditEvent]) -> _Loaded:
    """Every record the rows name, loaded type by type (bounded number of queries)."""
    kept = _snapshots(events)
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in events:
        number = _int(event.entity_id)
        if event.entity_type and number is not None:
            wanted[event.entity_type].add(number)
    rows = {kind: _fill(_load_rows(session, columns, wanted[kind]), wanted[kind], kind, kept)
            for kind, columns in COLUMNS.items() if wanted.get(kind)}
    # A link names its self-report's visit: load those self-reports too.
    links = rows.get("self_report_link", {})
    report_ids = {row["self_report_id"] for row in links.values()
                  if row.get("self_report_id") is not None}
    if report_ids - wanted["self_report"]:
        wanted["self_report"] |= report_ids
        rows["self_report"] = _fill(_load_rows(session, COLUMNS["self_report"],
                                               wanted["self_report"]),
                                    wanted["self_report"], "self_report", kept)
    visit_ids = set(wanted["visit"]) | {
        row["visit_id"] for kind in ("contact_attempt", "instrument_response", "score_value",
                                     "self_report")
        for row in rows.get(kind, {}).values() if row.get("visit_id") is not None}
    visits = _fill(_load_rows(session, VISIT_COLUMNS, visit_ids), visit_ids,
                   "visit", kept)
    patient_ids = wanted["patient"] | wanted[IDENTITY] | {
        row["patient_id"] for source in (*rows.values(), visits)
        for row in source.values() if row.get("patient_id") is not None}
    patients = _fill(_load_rows(session, (Patient.id, Patient.study_id, Patient.site_id),
                                patient_ids), patient_ids, "patient", kept)
    site_ids = wanted["site"] | {event.site_id for event in events if event.site_id} | {
        row["site_id"] for row in patients.values() if row.get("site_id") is not None}
    sites = _load_rows(session, (Site.id, Site.code, Site.name, Site.timezone), site_ids)
    user_ids = wanted["app_user"] | {event.actor_id for event in events if event.actor_id}
    users = _load_rows(session, (User.id, User.email, User.full_name), user_ids)
    return _Loaded(rows, visits, patients, sites, users)


class Describer:
    """Names the rows of one page from what ``load`` found."""

    def __init__(self, loaded: _Loaded, show_identity: Callable[[int | None], bool]) -> None:
        self.loaded = loaded
        self.show_identity = show_identity
        self._zones: dict[int | None, ZoneInfo] = {}
        self._urls: dict[tuple[Any, ...], str] = {}

    # --- names of records -----------------------------------------------------------

    def patient_name(self, patient_id: int | None) -> str:
        row = self.loaded.patients.get(patient_id or 0)
        if row is None or not row.get("study_id"):
            return tr(N_("patient #%(id)s"), id=patient_id) if patient_id else tr(N_("patient"))
        return str(row["study_id"])

    def visit_name(self, visit_id: int | None) -> str:
        row = self.loaded.visits.get(visit_id or 0)
        if row is None or row.get("deleted") and not row.get("timepoint_name"):
            return tr(N_("visit #%(id)s (deleted)"), id=visit_id)
        if row.get("timepoint_name"):
            return tr(N_("%(timepoint)s visit"),
                      timepoint=timepoint_name(row["timepoint_name"]))
        day = row.get("visit_date") or row.get("target_date")
        return tr(N_("unscheduled visit of %(date)s"), date=_day(day)) if day \
            else tr(N_("unscheduled visit"))

    def _visit_patient(self, visit_id: int | None) -> int | None:
        row = self.loaded.visits.get(visit_id or 0)
        return row.get("patient_id") if row else None

    def name(self, event: AuditEvent) -> tuple[int | None, list[str], str | None]:
        """(patient id, parts of the name below the patient, link) of the row's record."""
        kind, number = event.entity_type or "", _int(event.entity_id) or 0
        row = self.loaded.rows.get(kind, {}).get(number, {})
        deleted = [tr(N_("(deleted)"))] if row.get("deleted") else []
        if kind in ("patient", IDENTITY):
            link = self._url("clinical.patient_page", patient_id=number)
            return number, ([] if kind == "patient" else [tr(N_("identifying details"))]), link
        if kind in ("index_knee", "treatment"):
            words = tr(N_("index knee")) if kind == "index_knee" else tr(N_("treatment"))
            return row.get("patient_id"), [words, *deleted], self._url(
                "clinical.patient_page", patient_id=row.get("patient_id"))
        if kind == "visit":
            patient_id = self._visit_patient(number)
            return patient_id, [self.visit_name(number)], self._url(
                "clinical.visit_entry", patient_id=patient_id, visit_id=number)
        if kind in ("instrument_response", "score_value", "self_report", "contact_attempt"):
            return self._visit_part(kind, row, deleted)
        if kind == "self_report_link":
            report = self.loaded.rows.get("self_report", {}).get(
                row.get("self_report_id") or 0, {})
            channel = labels.value_text("self_report_link", "channel", row.get("channel"))
            patient_id, parts, link = self._visit_part("self_report", report, [])
            return patient_id, [*parts[:-1], tr(N_("self-report link (%(channel)s)"),
                                               channel=channel), *deleted], link
        if kind == "adverse_event":
            category = labels.value_text(kind, "category", row.get("category"))
            words = tr(N_("adverse event of %(date)s (%(category)s)"),
                       date=_day(row.get("onset_date")), category=category) \
                if row.get("onset_date") else tr(N_("adverse event"))
            return row.get("patient_id"), [words, *deleted], self._url(
                "clinical.adverse_event_edit", patient_id=row.get("patient_id"),
                event_id=number)
        return None, [self._other(kind, number, row), *deleted], self._admin_url(kind, number)

    def _visit_part(self, kind: str, row: Row, deleted: list[str]
                    ) -> tuple[int | None, list[str], str | None]:
        """A record of a visit: the visit's name, then its own."""
        visit_id = row.get("visit_id")
        patient_id = row.get("patient_id") or self._visit_patient(visit_id)
        parts = [self.visit_name(visit_id)] if visit_id else []
        if kind == "instrument_response":
            instrument = scoring.INSTRUMENTS.get(row.get("instrument") or "")
            parts.append(instrument.short_name if instrument else str(row.get("instrument",
                                                                                 "")))
        elif kind == "score_value":
            score = scoring.SCORES.get(row.get("score_code") or "")
            parts.append(score.label if score else str(row.get("score_code", "")))
        elif kind == "self_report":
            parts.append(tr(N_("self-report")))
        else:
            parts.append(tr(N_("contact attempt of %(date)s"),
                            date=_day(row.get("attempted_on"))))
        link = self._url("clinical.visit_entry", patient_id=patient_id, visit_id=visit_id) \
            if visit_id else self._url("clinical.patient_page", patient_id=patient_id)
        return patient_id, [*parts, *deleted], link

    def _other(self, kind: str, number: int, row: Row) -> str:
        """A record about no patient (sites, accounts, protocols, cohorts, texts)."""
        if kind == "site":
            site = self.loaded.sites.get(number)
            return tr(N_("site %(code)s"), code=site["code"]) if site \
                else tr(N_("site #%(id)s"), id=number)
        if kind == "app_user":
            user = self.loaded.users.get(number)
            return tr(N_("account %(email)s"), email=user["email"]) if user \
                else tr(N_("account #%(id)s"), id=number)
        if kind == "text_pack" and row.get("instrument"):
            instrument = scoring.INSTRUMENTS.get(row["instrument"])
            return tr(N_("%(instrument)s texts (%(language)s)"), language=row.get("language"),
                     instrument=instrument.short_name if instrument else row["instrument"])
        named = {"protocol": N_("protocol"), "timepoint": N_("timepoint"),
                 "cohort": N_("cohort")}
        if kind in named and row.get("name"):
            name = timepoint_name(row["name"]) if kind == "timepoint" else row["name"]
            return f"{tr(named[kind])} {name}"
        if not kind:
            return ""
        return f"{labels.humanise(kind)} #{number}" if number else labels.humanise(kind)

    def _url(self, endpoint: str, **values: Any) -> str | None:
        """A link (built once per record: many rows name the same visit)."""
        if any(value is None for value in values.values()):
            return None
        key = (endpoint, *sorted(values.items()))
        if key not in self._urls:
            self._urls[key] = url_for(endpoint, **values)
        return self._urls[key]

    def _admin_url(self, kind: str, number: int) -> str | None:
        pages = {"site": ("admin.edit_site", "site_id"),
                 "app_user": ("admin.edit_user", "user_id"),
                 "protocol": ("admin.edit_protocol", "protocol_id")}
        if kind not in pages or not number:
            return None
        endpoint, key = pages[kind]
        values: dict[str, Any] = {key: number}
        return url_for(endpoint, **values)

    # --- one row --------------------------------------------------------------------

    def site_of(self, event: AuditEvent, patient_id: int | None) -> int | None:
        patient = self.loaded.patients.get(patient_id or 0)
        if patient and patient.get("site_id"):
            return int(patient["site_id"])
        return event.site_id

    def zone(self, site_id: int | None) -> ZoneInfo:
        """The site's time zone (UTC where it has none)."""
        zone = self._zones.get(site_id)
        if zone is None:
            name = (self.loaded.sites.get(site_id or 0) or {}).get("timezone") or "UTC"
            try:
                zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                zone = ZoneInfo("UTC")
            self._zones[site_id] = zone
        return zone

    def when(self, at: datetime, site_id: int | None) -> str:
        """The moment in the site's time zone, with the zone."""
        local = at.astimezone(self.zone(site_id))
        return f"{moment(local)} {local.strftime('%Z')}"

    def who(self, event: AuditEvent) -> str:
        user = self.loaded.users.get(event.actor_id or 0)
        if user:
            return f"{user['full_name']} ({user['email']})"
        return event.actor_email or tr(N_("the registry"))

    def describe(self, event: AuditEvent) -> Described:
        patient_id, parts, link = self.name(event)
        kind = event.entity_type
        site_id = self.site_of(event, patient_id)
        withheld = kind == IDENTITY and not self.show_identity(site_id)
        instrument = self.loaded.rows.get("instrument_response", {}).get(
            _int(event.entity_id) or 0, {}).get("instrument")
        field = event.field or ""
        if kind == "instrument_response" and field.startswith("answers."):
            parts = [*parts[:-1], f"{parts[-1]} {field.partition('.')[2]}"] if parts else parts
        detail = ", ".join(part for part in parts if part)
        whole = ", ".join(part for part in (
            self.patient_name(patient_id) if patient_id else "", detail) if part)
        values: tuple[tuple[str, str], ...] = ()
        old = new = ""
        if withheld:
            old = new = tr(N_("[identifying value withheld]")) if field else ""
        elif event.action in ("create", "delete") and not field:
            snapshot = labels.decode(event.new_value if event.action == "create"
                                     else event.old_value)
            if isinstance(snapshot, dict):
                values = tuple(labels.record_values(kind, snapshot, instrument,
                                                    self.zone(site_id)))
        else:
            old, new = (labels.value_text(kind, field, labels.decode(raw), instrument,
                                          self.zone(site_id))
                        for raw in (event.old_value, event.new_value))
        return Described(
            event=event, action=labels.action_label(event.action), record=whole,
            detail=detail, url=link,
            field=labels.field_label(kind, field, instrument) if field else "",
            old=old, new=new, values=values, when=self.when(event.occurred_at, site_id),
            who=self.who(event), withheld=withheld)


def describe(session: Session, events: list[AuditEvent], *,
             show_identity: Callable[[int | None], bool]) -> list[Described]:
    """The rows in words, in their order; ``show_identity(site_id)``: whether the reader
    may see identifying values of a record at that site."""
    describer = Describer(load(session, events), show_identity)
    return [describer.describe(event) for event in events]

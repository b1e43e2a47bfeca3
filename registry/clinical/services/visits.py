"""Visit entry: the visit date and every instrument's answers, saved in one transaction.

Answers arrive as form fields named ``<instrument>-<item code>`` (``koos-S1``,
``vas-VAS``); an empty field is a missing answer.  Scores are computed only by
``registry.scores.save_response`` (i.e. by ``scoring/``).  A visit is optimistically
locked: the form carries the version it was opened with, and every save bumps it even
when only answers change, so two people editing the same visit cannot overwrite each
other silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

import scoring
from registry import audit_capture as capture
from registry.clock import today
from registry.i18n import day, label
from registry.limits import problems
from registry.models import InstrumentResponse, Patient, Visit, utcnow
from registry.scheduling import is_in_window, timepoint_instruments
from registry.scores import InvalidAnswers, save_responses
from registry.services import ValidationFailed, check_version
from registry.vocabularies import COLLECTION_MODES

Answers = dict[str, dict[str, int | None]]
# What a form field may hold: a whole number in ASCII digits (``int`` alone would also
# take "1_0" or other scripts' digits).
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,9}")


def field_name(instrument: str, item_code: str) -> str:
    return f"{instrument}-{item_code}"


def visit_instruments(visit: Visit) -> list[str]:
    """The form's instrument sections at this visit, in catalogue order: what its timepoint
    records, and any instrument already recorded at it (so answers saved before an admin
    changed the protocol stay on the form, to be read and corrected).

    ``scoring.entry_instruments`` leaves out an instrument scored from another one that
    is entered too (KOOS-PS when KOOS is on the form).
    """
    # A code no longer in the catalogue is left out rather than breaking the form.
    chosen = [code for code in timepoint_instruments(visit.timepoint)
              if code in scoring.INSTRUMENTS]
    shown = {instrument.code for instrument in scoring.entry_instruments(chosen)}
    shown.update(response.instrument for response in visit.responses)
    return [code for code in scoring.INSTRUMENTS if code in shown]


def is_followup(visit: Visit) -> bool:
    return visit.timepoint is None or not visit.timepoint.is_baseline


def parse_answers(form: Mapping[str, str],
                  instruments: Iterable[str]) -> tuple[Answers, dict[str, str]]:
    """Form text -> item answers, and field name -> message for unreadable ones.

    The text must be a whole number; whether it is a valid answer is ``Item.error_for``'s
    decision (the one check, which ``scoring`` applies again when scoring).
    """
    answers: Answers = {}
    errors: dict[str, str] = {}
    for code in instruments:
        instrument = scoring.INSTRUMENTS[code]
        answers[code] = {}
        for item in instrument.items:
            name = field_name(code, item.code)
            raw = (form.get(name) or "").strip()
            if raw == "":
                answers[code][item.code] = None
                continue
            value = int(raw) if WHOLE_NUMBER.fullmatch(raw) else None
            if value is None or item.error_for(value) is not None:
                errors[name] = not_allowed(instrument.name, item, raw)
                answers[code][item.code] = None
                continue
            answers[code][item.code] = value
    return answers, errors


def not_allowed(instrument: str, item: Any, raw: str) -> str:
    """Why ``raw`` is no answer to ``item``, naming the allowed answers (the wording of
    ``Item.allowed_text``, in the reader's language)."""
    if item.options:
        return _("%(instrument)s %(item)s: %(value)s is not one of %(codes)s.",
                 instrument=instrument, item=item.label, value=repr(raw),
                 codes=", ".join(str(option.code) for option in item.options))
    if item.unit:
        return _("%(instrument)s %(item)s: %(value)s is not a whole number from %(minimum)s "
                 "to %(maximum)s %(unit)s.", instrument=instrument, item=item.label,
                 value=repr(raw), minimum=item.minimum, maximum=item.maximum,
                 unit=label(item.unit))
    return _("%(instrument)s %(item)s: %(value)s is not a whole number from %(minimum)s "
             "to %(maximum)s.", instrument=instrument, item=item.label, value=repr(raw),
             minimum=item.minimum, maximum=item.maximum)


def stored_answers(visit: Visit) -> Answers:
    return {response.instrument: dict(response.answers) for response in visit.responses}


def form_values(answers: Answers) -> dict[str, str]:
    """Stored answers as the form's text values (for showing a saved visit)."""
    return {field_name(code, item): "" if value is None else str(value)
            for code, items in answers.items() for item, value in items.items()}


def changes_recorded_values(visit: Visit, visit_date: date, answers: Answers) -> bool:
    """Whether the save would change an already-recorded value (then a reason is needed)."""
    if visit.visit_date is not None and visit.visit_date != visit_date:
        return True
    for code, old in stored_answers(visit).items():
        new = answers.get(code, {})
        if any(value is not None and new.get(item) != value for item, value in old.items()):
            return True
    return False


def either(instruments: Iterable[str]) -> str:
    """The instruments' short names as "A, B or C"."""
    names = [scoring.INSTRUMENTS[code].short_name for code in instruments]
    if len(names) < 2:
        return "".join(names)
    return _("%(first)s or %(last)s", first=", ".join(names[:-1]), last=names[-1])


def _validate_date(visit: Visit, patient: Patient, visit_date: date) -> dict[str, str]:
    """The visit date's plausible range, then its side of day 0 (the treatment date).

    A follow-up visit is on or after day 0; a baseline on or before it, since it is the
    reference of every change score: a "baseline" after the treatment is a follow-up.
    """
    errors = problems({"visit_date": visit_date}, today(patient.site.timezone))
    treatment = patient.treatment
    if errors or treatment is None:
        return errors
    day0 = treatment.treatment_date
    if is_followup(visit) and visit_date < day0:
        return {"visit_date": _("A follow-up visit cannot be before the treatment date "
                                "(%(date)s).", date=day(day0))}
    if not is_followup(visit) and visit_date > day0:
        return {"visit_date": _("A baseline visit must be on or before the treatment date "
                                "(day 0, %(day0)s); %(date)s is after it. Record a later "
                                "visit as a follow-up or unscheduled visit.",
                                day0=day(day0), date=day(visit_date))}
    return {}


def mostly_unanswered(answers: Answers) -> list[tuple[str, int, int]]:
    """(instrument, unanswered, items) of each instrument begun (at least one answer) with
    more than half of its catalogue items unanswered, in catalogue order: most of its
    scores would not be computable (e.g. a KOOS subscale needs half its items).  An
    instrument left wholly blank was not collected at this visit (a partial save)."""
    found = []
    for code in scoring.INSTRUMENTS:
        if code not in answers:
            continue
        items = scoring.INSTRUMENTS[code].item_codes
        unanswered = sum(1 for item in items if answers[code].get(item) is None)
        if unanswered < len(items) and unanswered * 2 > len(items):
            found.append((code, unanswered, len(items)))
    return found


def incomplete_message(found: list[tuple[str, int, int]]) -> str:
    """What the confirmation says: each instrument and how many items are unanswered."""
    parts = [ngettext("%(instrument)s: %(num)d of %(items)d item unanswered",
                      "%(instrument)s: %(num)d of %(items)d items unanswered", unanswered,
                      instrument=scoring.INSTRUMENTS[code].short_name, items=items)
             for code, unanswered, items in found]
    return _("More than half of the items are unanswered (%(list)s). Answer them, or tick "
             "the box to save the visit as it is.", list="; ".join(parts))


def _needs_confirmation(visit: Visit, answers: Answers) -> list[tuple[str, int, int]]:
    """The mostly unanswered instruments this save would store that the saved visit did
    not already hold so (a visit saved after confirming is corrected without asking
    again)."""
    found = mostly_unanswered(answers)
    if visit.status == "done":
        stored = stored_answers(visit)
        before = {code for code, _n, _t in mostly_unanswered(
            {code: stored.get(code, {}) for code in answers})}
        found = [entry for entry in found if entry[0] not in before]
    return found


def save_visit(session: Session, visit: Visit, *, visit_date: date, answers: Answers,
               version: str | None, reason: str | None, clinician_id: int | None,
               parse_errors: Mapping[str, str] | None = None,
               collection_mode: str | None = None,
               incomplete_confirmed: bool = True) -> Visit:
    """Validate and save the visit with all its answers; all or nothing.

    ``collection_mode``: how the answers were collected (``vocabularies.COLLECTION_MODES``;
    None keeps the visit's).  ``incomplete_confirmed``: staff entry passes its form's
    confirmation box; False refuses (field ``confirm_incomplete``) a save leaving more
    than half of an instrument's items unanswered.  A patient's own submission skips
    items on purpose and is not asked.  Raises ConflictError (stale version),
    ValidationFailed (field -> message).
    """
    check_version(visit, version)
    errors = dict(parse_errors or {})
    errors.update(_validate_date(visit, visit.patient, visit_date))
    answered = {code: items for code, items in answers.items()
                if any(value is not None for value in items.values())}
    existing = {response.instrument for response in visit.responses}
    to_save = {code: items for code, items in answers.items()
               if code in answered or code in existing}
    if not answered:
        errors.setdefault("answers", _("Record at least one answer (%(instruments)s).",
                                       instruments=either(answers)))
    editing = changes_recorded_values(visit, visit_date, answers)
    if editing and not (reason or "").strip():
        errors["reason"] = _("You are changing answers or a date already saved: give a "
                             "reason (it is kept in the audit trail).")
    if collection_mode is not None and collection_mode not in COLLECTION_MODES:
        errors["collection_mode"] = _("Choose how the answers were collected.")
    incomplete = [] if incomplete_confirmed or not answered else \
        _needs_confirmation(visit, answers)
    if incomplete:
        errors["confirm_incomplete"] = incomplete_message(incomplete)
    if errors:
        raise ValidationFailed(errors)
    savepoint = session.begin_nested()
    try:
        with capture.reason(session, (reason or "").strip() or None):
            visit.visit_date = visit_date
            visit.status = "done"
            visit.out_of_window = not is_in_window(visit, visit_date)
            visit.clinician_id = clinician_id
            if collection_mode is not None:
                visit.collection_mode = collection_mode
            visit.updated_at = utcnow()  # bumps the version even when only answers change
            # One flush for the visit and all responses (one audit batch), one INSERT
            # for all new scores.
            try:
                save_responses(session, visit, to_save)
            except InvalidAnswers as error:
                raise ValidationFailed({field_name(error.instrument, item): message for item,
                                        message in error.errors.items()}) from error
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return visit


def add_unscheduled_visit(session: Session, patient: Patient,
                          creation_token: str | None = None) -> Visit:
    """An extra visit outside the protocol (no timepoint, no window)."""
    visit = Visit(patient_id=patient.id, timepoint_id=None, status="scheduled",
                  creation_token=creation_token)
    session.add(visit)
    session.flush()
    return visit


def _visit_of_token(session: Session, patient: Patient, token: str) -> Visit | None:
    return session.scalar(select(Visit).where(Visit.patient_id == patient.id,
                                              Visit.creation_token == token))


def add_unscheduled_visit_once(session: Session, patient: Patient,
                               token: str) -> tuple[Visit, bool]:
    """The unscheduled visit created by the button form carrying ``token``: made now on the
    first submission (True), found on any later one (False) — a double click, a resubmit.

    The database decides (unique patient + token): on PostgreSQL a concurrent second
    submission waits on the first's insert and then meets the constraint, on SQLite
    writers queue (BEGIN IMMEDIATE) and the second finds the visit; either way it gets
    the first one's visit, never a second visit.
    """
    existing = _visit_of_token(session, patient, token)
    if existing is not None:
        return existing, False
    savepoint = session.begin_nested()
    try:
        visit = add_unscheduled_visit(session, patient, creation_token=token)
    except IntegrityError:
        savepoint.rollback()
        existing = _visit_of_token(session, patient, token)
        if existing is None:
            raise
        return existing, False
    savepoint.commit()
    return visit, True


def load_visit(session: Session, patient: Patient, visit_id: int) -> Visit | None:
    """The patient's visit with its timepoint, responses, scores and the treatment.

    One joined query (plus one for the scores when there are responses): everything
    the form and ``save_visit`` read, so a save triggers no lazy load.
    """
    return session.scalars(
        select(Visit).where(Visit.id == visit_id, Visit.patient_id == patient.id)
        .options(joinedload(Visit.timepoint),
                 joinedload(Visit.patient).joinedload(Patient.treatment),
                 joinedload(Visit.responses).selectinload(InstrumentResponse.scores))
    ).unique().one_or_none()


@dataclass
class ScoreLine:
    label: str
    value: str
    scorable: bool
    reason: str | None


@dataclass
class InstrumentSection:
    """One instrument on the visit form: its items grouped by subscale, with saved scores.

    ``counted``: the form shows how many of its items are unanswered (more than one item).
    """

    code: str
    name: str
    short_name: str
    citation: str
    description: str
    groups: list[tuple[str, list[Any]]] = field(default_factory=list)
    scores: list[ScoreLine] = field(default_factory=list)
    item_count: int = 0

    @property
    def counted(self) -> bool:
        return self.item_count > 1


def instrument_sections(instruments: Iterable[str], visit: Visit) -> list[InstrumentSection]:
    """The form's layout from the catalogue and the visit's stored scores: each section
    lists the scores of its instrument and of those scored from its answers."""
    stored = {score.score_code: score for response in visit.responses
              for score in response.scores}
    sections = []
    for code in instruments:
        instrument = scoring.INSTRUMENTS[code]
        section = InstrumentSection(code=code, name=instrument.name,
                                    short_name=instrument.short_name,
                                    citation=instrument.citation,
                                    description=instrument.description,
                                    item_count=len(instrument.items))
        for item in instrument.items:
            if not section.groups or section.groups[-1][0] != item.group:
                section.groups.append((item.group, []))
            section.groups[-1][1].append(item)
        for scored in scoring.scored_from(code):
            for definition in scored.scores:
                score = stored.get(definition.code)
                if score is None:
                    continue
                section.scores.append(ScoreLine(
                    label=label(definition.label), value=scoring.format_score(score.value),
                    scorable=score.value is not None, reason=score.reason))
        sections.append(section)
    return sections

"""Self-report rules: issuing links, the patient's draft, submission into the visit.

A link reaches one self-report (one visit of one patient) and works until the visit's
window (+ grace) closes, unless revoked.  The patient's answers are kept as a draft on
the server, validated item by item with the catalogue's ``Item.error_for``, and go into
the visit on submission through the same path as staff entry (``save_visit`` ->
``save_responses`` -> ``scoring``).  A submission never overwrites answers staff had
already recorded: it is then kept for review (``pending_review``), and a clinician
accepts it (replacing the visit's answers, with a reason) or dismisses it
(``registry.selfreport.review``).

Services flush, never commit; the request (or command) boundary commits.  The clinical
services are imported where used: importing ``registry.clinical`` loads its views, which
(through the follow-up worklist) import this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

import scoring
from registry import audit_capture as capture
from registry.clock import today
from registry.i18n import day
from registry.models import Patient, SelfReport, SelfReportLink, Visit, utcnow
from registry.selfreport import tokens
from registry.services import ValidationFailed
from registry.vocabularies import LINK_CHANNELS

if TYPE_CHECKING:
    from registry.clinical.services.visits import Answers

SELF_MODES = ("self_link", "self_kiosk")
# What a typed answer may be: a whole number in ASCII digits (as on the staff's form).
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,9}")
LINK_ACTOR = "self-report link {}"


class ReportClosed(ValidationFailed):
    """The self-report was already submitted: nothing more can be saved into it."""

    def __init__(self) -> None:
        super().__init__({"report": _("This questionnaire has already been sent. "
                                      "Thank you.")})


def language_of(patient: Patient) -> str:
    """The patient's language for pages and e-mails: their own, else their site's."""
    return patient.language or patient.site.language or "en"


def link_url(token: str, base_url: str) -> str:
    """The absolute address of a link's page."""
    return f"{base_url.rstrip('/')}/r/{token}"


def last_day(visit: Visit) -> date | None:
    """The last day a self-report can be given for a scheduled visit (site's calendar).

    The window's end: the visit is "missed" only after it (registry/followup/status.py),
    so an overdue visit (target + grace passed, window still open) can still be answered.
    ``grace_end`` is min(target + grace, window end), never later than the window's end.
    A baseline's window ends at day 0, since a baseline is on or before the treatment date.
    """
    return visit.window_end or visit.grace_end


def why_not_open(visit: Visit, site_today: date) -> str | None:
    """Why the visit cannot take a self-report now (in the reader's language), or None
    when it can."""
    patient = visit.patient
    if patient.status == "withdrawn":
        return _("The patient has withdrawn from follow-up: no self-report can be sent.")
    if visit.status == "done":
        return _("This visit is already recorded: a self-report can no longer be sent for "
                 "it.")
    if visit.status == "not_applicable":
        return _("This visit is marked not applicable: no self-report can be sent for it.")
    if patient.treatment is None:
        return _("Record the treatment before sending a self-report.")
    end = last_day(visit)
    if visit.timepoint is not None and end is not None and site_today > end:
        return _("The visit's window closed on %(date)s: a self-report can no longer be "
                 "sent for it.", date=day(end))
    report = _report_of(visit)
    if report is not None and report.state != "open":
        return _("The patient has already sent this visit's self-report.")
    return None


def _report_of(visit: Visit) -> SelfReport | None:
    session = Session.object_session(visit)
    if session is None:
        return None
    return session.scalar(select(SelfReport).where(SelfReport.visit_id == visit.id))


def _create_report(session: Session, visit: Visit) -> SelfReport:
    """The visit's self-report, made now if absent (a concurrent maker wins cleanly)."""
    existing = _report_of(visit)
    if existing is not None:
        return existing
    patient = visit.patient
    savepoint = session.begin_nested()
    try:
        report = SelfReport(visit_id=visit.id, patient_id=patient.id, site_id=patient.site_id,
                            language=language_of(patient), instruments=[], draft={},
                            skipped=[], state="open")
        session.add(report)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        existing = _report_of(visit)
        if existing is None:
            raise
        return existing
    savepoint.commit()
    return report


def issue_link(session: Session, visit: Visit, *, channel: str,
               created_by_id: int | None) -> tuple[SelfReportLink, str]:
    """A new link to the visit's self-report (made if absent): the link and its token.

    The token is returned once and never stored (only its hash).  Raises ValidationFailed
    for a visit that cannot take a self-report (done, not applicable, withdrawn patient,
    window closed, already submitted) or an unknown channel.
    """
    if channel not in LINK_CHANNELS:
        raise ValidationFailed({"channel": _("Unknown link channel %(channel)s.",
                                             channel=repr(channel))})
    site_today = today(visit.patient.site.timezone)
    problem = why_not_open(visit, site_today)
    if problem is not None:
        raise ValidationFailed({"visit": problem})
    report = _create_report(session, visit)
    end = last_day(visit) if visit.timepoint is not None else None
    if end is None:
        end = site_today + timedelta(days=int(current_app.config.get(
            "SELF_REPORT_UNSCHEDULED_DAYS", 14)))
    token, hashed = tokens.new_token()
    link = SelfReportLink(self_report_id=report.id, token_hash=hashed, channel=channel,
                          expires_on=end, created_by_id=created_by_id)
    session.add(link)
    session.flush()
    return link, token


def find_link(session: Session, token: str) -> SelfReportLink | None:
    """The working link of ``token``: None when malformed, unknown, revoked or expired.

    A link whose self-report was already submitted is returned (its page then shows
    only "thank you").  Expiry is at the end of ``expires_on`` in the site's time zone.
    """
    if not tokens.well_formed(token):
        return None
    link = session.scalars(
        select(SelfReportLink).where(SelfReportLink.token_hash == tokens.token_hash(token))
        .options(joinedload(SelfReportLink.self_report).joinedload(SelfReport.site))
    ).one_or_none()
    if link is None or link.revoked_at is not None:
        return None
    if today(link.self_report.site.timezone) > link.expires_on:
        return None
    return link


def act_as_link(session: Session, link: SelfReportLink) -> None:
    """Name the link (not a staff account) as the actor of the changes that follow."""
    capture.set_actor(session, None, LINK_ACTOR.format(link.id))


def open_report(session: Session, link: SelfReportLink) -> SelfReport:
    """Record the opening; on the first, fix the instruments offered to the patient.

    Offered: the visit's instruments that have a text in the report's language
    (``registry.textpacks.self_reportable``); the others stay for staff entry.
    """
    from registry.clinical.services.visits import visit_instruments
    from registry.textpacks import self_reportable

    act_as_link(session, link)
    now = utcnow()
    if link.first_opened_at is None:
        link.first_opened_at = now
    link.last_opened_at = now
    report = link.self_report
    if report.opened_at is None:
        report.opened_at = now
        if report.state == "open":
            report.instruments = list(self_reportable(
                session, visit_instruments(report.visit), report.language))
    session.flush()
    return report


def _item_message(number: int, item: scoring.Item) -> str:
    """A plain-language message for an unusable answer to question ``number``."""
    if item.kind == "choice":
        return _("Question %(number)s: choose one of the answers, or skip the question.",
                 number=number)
    return _("Question %(number)s: enter a whole number from %(minimum)s to %(maximum)s, "
             "or skip the question.", number=number, minimum=item.minimum,
             maximum=item.maximum)


def save_answers(session: Session, report: SelfReport, instrument: str,
                 form: Mapping[str, str]) -> dict[str, str]:
    """Keep one instrument's answers in the draft (even partial); field -> message.

    Fields are ``<instrument>.<item>``; a ticked ``skip.<instrument>.<item>`` records a
    deliberate skip.  An unusable answer is not stored (the item keeps what it had) and
    gets a message in the page's language naming the question.  Raises ReportClosed
    after submission, ValidationFailed for an instrument not offered.
    """
    if report.state != "open":
        raise ReportClosed
    if instrument not in report.instruments:
        raise ValidationFailed({"instrument": _("This questionnaire is not part of your "
                                                "form.")})
    definition = scoring.INSTRUMENTS[instrument]
    items: dict[str, int | None] = dict((report.draft or {}).get(instrument, {}))
    skipped = set(report.skipped or [])
    errors: dict[str, str] = {}
    for number, item in enumerate(definition.items, start=1):
        name = f"{instrument}.{item.code}"
        raw = (form.get(name) or "").strip()
        if form.get(f"skip.{name}"):
            items[item.code] = None
            skipped.add(name)
            continue
        skipped.discard(name)
        if raw == "":
            items[item.code] = None
            continue
        value = int(raw) if WHOLE_NUMBER.fullmatch(raw) else None
        if value is None or item.error_for(value) is not None:
            errors[name] = _item_message(number, item)
            items.setdefault(item.code, None)
            continue
        items[item.code] = value
    # New objects, so the JSON columns are seen as changed (and audited key by key).
    report.draft = {**(report.draft or {}), instrument: items}
    report.skipped = sorted(skipped)
    if report.started_at is None:
        report.started_at = utcnow()
    session.flush()
    return errors


def draft_answers(report: SelfReport) -> Answers:
    """The draft as visit answers: every offered instrument, every item (None = none)."""
    draft = report.draft or {}
    return {code: {item.code: draft.get(code, {}).get(item.code)
                   for item in scoring.INSTRUMENTS[code].items}
            for code in report.instruments}


def locked_report(session: Session, report_id: int) -> tuple[SelfReport, Visit]:
    """The report and its visit re-read under row locks, report first (FOR UPDATE on
    PostgreSQL; on SQLite the writing transaction already holds the database's write
    lock), so two submissions or reviews queue and the second sees the first's result."""
    session.flush()
    visit_id = session.scalars(select(SelfReport.visit_id).where(SelfReport.id == report_id)
                               .with_for_update()).one()
    session.execute(select(Visit.id).where(Visit.id == visit_id).with_for_update())
    session.expire_all()  # everything read before the locks may be stale
    from registry.clinical.services.visits import load_visit
    report = session.get(SelfReport, report_id)
    assert report is not None
    patient = session.get(Patient, report.patient_id)
    assert patient is not None
    visit = load_visit(session, patient, visit_id)
    assert visit is not None
    return report, visit


def _link_actor(session: Session, report: SelfReport) -> None:
    actor = session.info.get(capture.ACTOR, (None, None))[1] or ""
    if actor.startswith(LINK_ACTOR.format("")):
        return  # the route already named the link the patient came through
    links = sorted(report.links, key=lambda link: link.last_opened_at or datetime.min)
    if links:
        act_as_link(session, links[-1])


def submit(session: Session, report: SelfReport, *, mode: str) -> str:
    """Send the patient's answers into the visit, once; returns the report's state.

    Idempotent: a second submission (double click, two tabs, two processes) waits for
    the first (row lock) and returns its state without saving again.  When staff had
    already recorded the visit, nothing of theirs is overwritten: the answers are kept
    for review (``pending_review``).  Otherwise they are saved through staff entry's
    path (validation and scoring), with the submission date (site's time zone) as the
    visit date and ``mode`` as the visit's collection mode.  Raises ValidationFailed
    when no question was answered.
    """
    from registry.clinical.services.visits import save_visit

    if mode not in SELF_MODES:
        raise ValueError(f"not a self-report mode: {mode!r}")
    report, visit = locked_report(session, report.id)
    if report.state != "open":
        return report.state
    _link_actor(session, report)
    answers = draft_answers(report)
    if not any(value is not None for items in answers.values() for value in items.values()):
        raise ValidationFailed({"answers": _("Please answer at least one question before "
                                             "you send the form.")})
    now = utcnow()
    report.mode = mode
    report.submitted_at = now
    if visit.status != "scheduled" or visit.responses:
        report.state = "pending_review"
        session.flush()
        return report.state
    save_visit(session, visit, visit_date=today(visit.patient.site.timezone),
               answers=answers, version=str(visit.version), reason=None, clinician_id=None,
               collection_mode=mode)
    report.state = "submitted"
    session.flush()
    return report.state


def revoke(session: Session, link: SelfReportLink, *, user_id: int) -> bool:
    """Stop a link from working (False when it already was revoked)."""
    if link.revoked_at is not None:
        return False
    link.revoked_at = utcnow()
    link.revoked_by_id = user_id
    session.flush()
    return True


def link_state(report: SelfReport | None) -> str | None:
    """For lists: None (no self-report), sent, opened, started, submitted, pending_review."""
    if report is None:
        return None
    if report.state == "pending_review":
        return "pending_review"
    if report.state != "open":
        return "submitted"
    if report.started_at is not None:
        return "started"
    if report.opened_at is not None:
        return "opened"
    return "sent"


def report_for_visit(session: Session, visit_id: int) -> SelfReport | None:
    """The visit's self-report with its links (for the staff panel)."""
    return session.scalars(select(SelfReport).where(SelfReport.visit_id == visit_id)
                           .options(joinedload(SelfReport.links))).unique().one_or_none()


__all__ = ["SELF_MODES", "ReportClosed", "act_as_link", "draft_answers", "find_link",
           "issue_link", "language_of", "last_day", "link_state", "link_url",
           "locked_report", "open_report", "report_for_visit", "revoke", "save_answers",
           "submit", "why_not_open"]

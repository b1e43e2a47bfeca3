"""A clinician's review of a self-report that arrived after staff had recorded the visit.

The submission was kept (``pending_review``) rather than overwrite the staff's answers;
the clinician accepts it (the patient's answers replace the visit's, with a reason) or
dismisses it (the staff's stay; the patient's stay on record).  Both are audited with
the reason.
"""

from __future__ import annotations

from datetime import UTC, date
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.clock import today
from registry.models import SelfReport, utcnow
from registry.selfreport.service import draft_answers, locked_report
from registry.services import ValidationFailed, check_version


def _review_checks(report: SelfReport, reason: str | None,
                   version: int | str | None) -> str:
    """The checks before a review decision; returns the reason's text."""
    if version is not None:
        check_version(report, version)
    if report.state != "pending_review":
        raise ValidationFailed({"decision": _("This self-report is not awaiting review "
                                              "(someone may have reviewed it already).")})
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed({"reason": _("Give a reason for the decision (it is kept in "
                                            "the audit trail).")})
    return text


def submission_date(report: SelfReport) -> date:
    """The day the patient submitted, in the site's time zone (the pinned ``TODAY`` when
    the clock is pinned, as every date rule of the registry does)."""
    zone = report.site.timezone
    if current_app.config.get("TODAY") or report.submitted_at is None:
        return today(zone)
    moment = report.submitted_at
    return (moment.astimezone(ZoneInfo(zone)) if zone else moment.astimezone(UTC)).date()


def accept(session: Session, report: SelfReport, *, user_id: int, reason: str | None,
           version: int | str | None = None) -> SelfReport:
    """Replace the visit's answers with the patient's (their instruments), with a reason.

    The visit date becomes the submission date and the mode the patient's.  Audited
    with the staff user as actor and the reason.  Raises ConflictError (stale version),
    ValidationFailed (not pending, no reason, answers the visit refuses).
    """
    from registry.clinical.services.visits import save_visit

    report, visit = locked_report(session, report.id)
    text = _review_checks(report, reason, version)
    save_visit(session, visit, visit_date=submission_date(report),
               answers=draft_answers(report), version=str(visit.version), reason=text,
               clinician_id=user_id, collection_mode=report.mode)
    with capture.reason(session, text):
        report.state = "accepted"
        report.reviewed_by_id = user_id
        report.reviewed_at = utcnow()
    return report


def dismiss(session: Session, report: SelfReport, *, user_id: int, reason: str | None,
            version: int | str | None = None) -> SelfReport:
    """Keep the staff's answers; the patient's stay on record with the reason."""
    report, _visit = locked_report(session, report.id)
    text = _review_checks(report, reason, version)
    with capture.reason(session, text):
        report.state = "dismissed"
        report.reviewed_by_id = user_id
        report.reviewed_at = utcnow()
    return report


__all__ = ["accept", "dismiss", "submission_date"]

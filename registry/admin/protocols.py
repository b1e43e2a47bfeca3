"""Protocol editing: which instruments each timepoint records, and the study's thresholds.

Both are data (``Timepoint.instruments``, ``Protocol.threshold_set``) chosen from the
catalogue in ``scoring/``, so a new instrument or threshold set needs no migration: an
admin ticks it here.  Every save is audited with its reason and optimistically locked on
the protocol's version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

import scoring
from registry import audit_capture as capture
from registry.i18n import timepoint_name
from registry.models import Protocol, Timepoint
from registry.services import ValidationFailed, check_version


def timepoint_field(timepoint: Timepoint) -> str:
    """The form field (a group of checkboxes) of a timepoint's instruments."""
    return f"timepoint_{timepoint.id}"


def offered_instruments(timepoint: Timepoint) -> list[scoring.Instrument]:
    """The instruments an admin may choose at a timepoint, in catalogue order: every
    recordable one, except at a baseline those asked at follow-ups only (a rating of
    change since the treatment)."""
    return [instrument for instrument in scoring.recordable_instruments()
            if not (timepoint.is_baseline and instrument.timepoints == "followup")]


def list_protocols(session: Session) -> list[Protocol]:
    """Every protocol with its timepoints, the default first, then by name."""
    return list(session.scalars(
        select(Protocol).options(selectinload(Protocol.timepoints))
        .order_by(Protocol.is_default.desc(), Protocol.name)))


def update_protocol(session: Session, protocol: Protocol, *,
                    instruments: Mapping[int, Sequence[str]], threshold_set: str,
                    version: int | str | None, reason: str | None) -> None:
    """Set each timepoint's instruments (timepoint id -> codes) and the threshold set.

    All or nothing: raises ConflictError for a stale form, ValidationFailed (field ->
    message) for a timepoint with no or an unknown instrument, an unknown threshold set
    or a missing reason.  The protocol's version moves on every save, so two admins
    editing different timepoints of one protocol still meet the conflict.
    """
    check_version(protocol, version)
    errors: dict[str, str] = {}
    if not (reason or "").strip():
        errors["reason"] = _("Give a reason for the change (it is kept in the audit trail).")
    if threshold_set not in scoring.THRESHOLD_SETS:
        errors["threshold_set"] = _("Threshold set: %(value)s is not a known set.",
                                    value=repr(threshold_set))
    wanted: dict[int, list[str]] = {}
    for timepoint in protocol.timepoints:
        codes = set(instruments.get(timepoint.id, ()))
        offered = [instrument.code for instrument in offered_instruments(timepoint)]
        unknown = sorted(codes - set(offered))
        name = timepoint_field(timepoint)
        if unknown:
            errors[name] = _("%(timepoint)s: %(codes)s cannot be recorded at this timepoint.",
                             timepoint=timepoint_name(timepoint.name), codes=", ".join(unknown))
        elif not codes:
            errors[name] = _("%(timepoint)s: choose at least one instrument.",
                             timepoint=timepoint_name(timepoint.name))
        wanted[timepoint.id] = [code for code in offered if code in codes]
    if errors:
        raise ValidationFailed(errors)
    savepoint = session.begin_nested()  # a lost race (StaleDataError) leaves nothing behind
    try:
        with capture.reason(session, (reason or "").strip()):
            for timepoint in protocol.timepoints:
                if list(timepoint.instruments or []) != wanted[timepoint.id]:
                    timepoint.instruments = wanted[timepoint.id]
            protocol.threshold_set = threshold_set
            # A new version even when only timepoints change (SQLAlchemy's version counter
            # writes old + 1 where the row still has the old version, as on any update).
            protocol.version = protocol.version + 1
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()

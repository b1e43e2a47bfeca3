"""Rules shared by every area's services: optimistic locking and input errors."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from registry.vocabularies import N_

# What a conflict message calls a record, by table (a table not listed: its name in words).
ENTITY_NAMES = {
    "adverse_event": N_("adverse event"), "cohort": N_("cohort"),
    "contact_attempt": N_("contact attempt"), "index_knee": N_("index knee"),
    "instrument_response": N_("instrument response"), "patient": N_("patient"),
    "patient_identity": N_("patient identity"), "protocol": N_("protocol"),
    "self_report": N_("self report"), "site": N_("site"), "timepoint": N_("timepoint"),
    "treatment": N_("treatment"), "visit": N_("visit"),
}


class ConflictError(RuntimeError):
    """Someone else saved this record since it was opened (HTTP 409).

    The message is shown to the user: built in the request's language when raised, with
    ``entity`` already in words (``check_version`` translates the table's name)."""

    def __init__(self, entity: str, current_version: int) -> None:
        super().__init__(gettext(
            "This %(entity)s was changed by someone else since you opened it. Your changes "
            "were not saved; the current values are shown.", entity=entity))
        self.current_version = current_version


class ValidationFailed(ValueError):
    """Input that breaks a rule; ``errors`` maps each form field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


def optional_text(value: Any) -> Any:
    """Typed text with its surrounding blanks removed, None for blank (an optional field
    left empty); anything that is not text passes through."""
    text = value.strip() if isinstance(value, str) else value
    return text or None


def check_version(record: Any, submitted: int | str | None) -> None:
    """Refuse a write based on a stale copy of ``record`` (optimistic locking)."""
    try:
        submitted_version = int(submitted) if submitted not in (None, "") else None
    except (TypeError, ValueError):
        submitted_version = None
    if submitted_version is None or submitted_version != record.version:
        table = type(record).__tablename__
        name = ENTITY_NAMES.get(table)
        raise ConflictError(gettext(name) if name else table.replace("_", " "),
                            record.version)

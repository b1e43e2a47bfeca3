"""Rules shared by every area's services: optimistic locking and input errors."""

from __future__ import annotations

from typing import Any


class ConflictError(RuntimeError):
    """Someone else saved this record since it was opened (HTTP 409)."""

    def __init__(self, entity: str, current_version: int) -> None:
        super().__init__(
            f"This {entity} was changed by someone else since you opened it. "
            "Your changes were not saved; the current values are shown."
        )
        self.current_version = current_version


class ValidationFailed(ValueError):
    """Input that breaks a rule; ``errors`` maps each form field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


def check_version(record: Any, submitted: int | str | None) -> None:
    """Refuse a write based on a stale copy of ``record`` (optimistic locking)."""
    try:
        submitted_version = int(submitted) if submitted not in (None, "") else None
    except (TypeError, ValueError):
        submitted_version = None
    if submitted_version is None or submitted_version != record.version:
        name = type(record).__tablename__.replace("_", " ")
        raise ConflictError(name, record.version)

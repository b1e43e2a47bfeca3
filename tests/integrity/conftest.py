"""A committed database shared by a module's tests (cheaper than one per test)."""

from __future__ import annotations

import pytest

from registry import migrate


@pytest.fixture(scope="module")
def shared_database_url(backend: str, empty_database_factory: object) -> str:
    """A migrated database of this module's own, whose commits are real."""
    url = str(empty_database_factory(backend))  # type: ignore[operator]
    migrate.upgrade(url)
    return url

"""Fixtures for the scoring tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo_root() -> Path:
    """The repository root (where ``python -m scoring`` must be run from)."""
    return REPO

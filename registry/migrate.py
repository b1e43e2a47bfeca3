"""Alembic from Python: upgrade, downgrade and revision checks for the app and tests.

Upgrading and downgrading run Alembic, imported when they run. The two revision checks that a
web worker makes (is the database at the head revision?) read the migration files' revision
identifiers and the ``alembic_version`` table directly: importing Alembic (with Mako) costs a
worker about 11 MB for those two answers. ``tests/foundation/test_migrations.py`` proves both
equal Alembic's own answers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from registry.db import normalise_url
from registry.paths import resource_dir

if TYPE_CHECKING:
    from alembic.config import Config

# ``revision = "0007"`` / ``down_revision: str | None = "0006"`` at the top of a migration file.
REVISION_LINE = re.compile(
    r"""^(down_revision|revision)\s*(?::[^=\n]*)?=\s*(?:["']([\w-]+)["']|None)""", re.MULTILINE)


def alembic_config(database_url: str | None = None) -> Config:
    from alembic.config import Config  # only where migrations run: see the module docstring

    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    if database_url:
        # Alembic's ini interpolation treats % specially.
        config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The one revision no other migration revises (None if there are none or several)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted((resource_dir("migrations") / "versions").glob("*.py")):
        for key, value in REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if key == "revision" else revised).add(value)
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The database's revision from ``alembic_version`` (None before the first upgrade)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if value is None else str(value)

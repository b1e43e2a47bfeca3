"""Migrations: head matches the models exactly, and downgrade to base works."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from registry import migrate
from registry.db import make_engine
from registry.models import Base


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "target_metadata": Base.metadata}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_to_head_gives_the_models_schema(fresh_database_url):
    migrate.upgrade(fresh_database_url)
    assert _diff(fresh_database_url) == []
    engine = make_engine(fresh_database_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_downgrade_to_base_removes_everything_and_upgrade_again(fresh_database_url):
    migrate.upgrade(fresh_database_url)
    migrate.downgrade(fresh_database_url, "base")
    engine = make_engine(fresh_database_url)
    remaining = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert remaining == set()
    migrate.upgrade(fresh_database_url)
    assert _diff(fresh_database_url) == []


def test_revision_checks_equal_alembics_own_answers(fresh_database_url):
    """The worker's light revision checks (no Alembic import) agree with Alembic itself."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.head_revision() == script.get_current_head()
    engine = make_engine(fresh_database_url)
    try:
        def alembic_current() -> str | None:
            with engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()

        assert migrate.current_revision(engine) is None
        assert alembic_current() is None
        for revision in [*reversed([r.revision for r in script.walk_revisions()]), "head"]:
            migrate.upgrade(fresh_database_url, revision)
            assert migrate.current_revision(engine) == alembic_current()
    finally:
        engine.dispose()

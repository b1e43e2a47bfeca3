"""accent-insensitive patient search, the duplicate check's key, and the demo marker

New columns on ``patient_identity``, derived from the name and record number by
``registry.textsearch`` (a mapper hook keeps them in step from now on):
- ``search_text``: normalised family name, given name and record number;
- ``name_key``: the normalised name's words, sorted (indexed with the site: the
  duplicate check at enrolment).
Existing rows are backfilled here with a frozen copy of the normalisation.

New table ``registry_setting`` (key/value facts about the database).  A database that holds
the demo cohort's sites (codes OSL, BGN and TRD, loaded by ``registry demo``) is marked as a
demo database, so that ``make demo`` can serve it again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:30:00
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NON_WORD = re.compile(r"[\W_]+")  # any run of non-letters and non-digits (all scripts)
_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "ð": "d", "þ": "th", "ł": "l",
                          "đ": "d", "ı": "i", "ħ": "h", "ŧ": "t", "ŋ": "n"})


def _normalise(text: str | None) -> str:
    """registry.textsearch.normalise as of this revision."""
    if not text:
        return ""
    stripped = "".join(ch for ch in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(ch))
    folded = stripped.casefold().translate(_LETTERS)
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", folded)
                     if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", folded).strip()


def _backfill() -> None:
    bind = op.get_bind()
    identity = sa.table('patient_identity', sa.column('patient_id', sa.Integer),
                        sa.column('family_name', sa.String), sa.column('given_name', sa.String),
                        sa.column('medical_record_number', sa.String),
                        sa.column('search_text', sa.String), sa.column('name_key', sa.String))
    rows = bind.execute(sa.select(identity.c.patient_id, identity.c.family_name,
                                  identity.c.given_name,
                                  identity.c.medical_record_number)).all()
    values = []
    for patient_id, family, given, record in rows:
        text = " ".join(p for p in (_normalise(family), _normalise(given), _normalise(record))
                        if p)
        key = " ".join(sorted(f"{_normalise(family)} {_normalise(given)}".split()))
        values.append({"pid": patient_id, "text": text, "key": key})
    if values:
        bind.execute(sa.update(identity)
                     .where(identity.c.patient_id == sa.bindparam("pid"))
                     .values(search_text=sa.bindparam("text"), name_key=sa.bindparam("key")),
                     values)


def upgrade() -> None:
    op.add_column('patient_identity', sa.Column('search_text', sa.String(length=400),
                                                server_default='', nullable=False))
    op.add_column('patient_identity', sa.Column('name_key', sa.String(length=250),
                                                server_default='', nullable=False))
    op.create_index('ix_patient_identity_site_name_key', 'patient_identity',
                    ['site_id', 'name_key'], unique=False)
    _backfill()
    setting = op.create_table(
        'registry_setting',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.Text(), server_default='', nullable=False),
        sa.Column('set_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_registry_setting')),
    )
    bind = op.get_bind()
    demo_sites = bind.scalar(
        sa.text("SELECT count(*) FROM site WHERE code IN ('OSL', 'BGN', 'TRD')"))
    if demo_sites == 3:
        op.bulk_insert(setting, [{"key": "demo", "value": "loaded before revision 0009"}])


def downgrade() -> None:
    op.drop_table('registry_setting')
    op.drop_index('ix_patient_identity_site_name_key', table_name='patient_identity')
    if op.get_bind().dialect.name == 'sqlite':
        for column in ('name_key', 'search_text'):
            op.execute(f'ALTER TABLE patient_identity DROP COLUMN {column}')
        return
    op.drop_column('patient_identity', 'name_key')
    op.drop_column('patient_identity', 'search_text')

"""plausible ranges of clinical numbers and dates; one unscheduled visit per button press

The ranges of ``registry/limits.py`` that a database can hold (constant bounds: the
earliest plausible date, the cell dose's range; "not after today" stays with the
services) are added as CHECK constraints on PostgreSQL.  SQLite can add a CHECK only by
rebuilding the table, and dropping the old table with foreign keys on would
cascade-delete its children (a visit's scores), so there the same conditions become
BEFORE INSERT / UPDATE triggers that abort like a failed CHECK.

Rows already breaking a range stop the upgrade with a list of them (correct them with an
audited correction first): a constraint that existing data breaks would be a promise the
database does not keep.

``visit.creation_token`` holds the one-time key of the "Add an unscheduled visit" button
that created the visit; unique per patient, so a second press of the same page's button
(a double click, two tabs, a retry) finds that visit instead of adding another.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint name, condition) as of this revision (registry/limits.py).
CHECKS: tuple[tuple[str, str, str], ...] = (
    ('patient', 'birth_date_range', "birth_date >= '1900-01-01'"),
    ('patient', 'consent_date_range', "consent_date >= '2000-01-01'"),
    ('patient', 'consent_after_birth', 'consent_date >= birth_date'),
    ('patient', 'withdrawn_on_range', "withdrawn_on is null or withdrawn_on >= '2000-01-01'"),
    ('treatment', 'dose_range',
     'cell_dose_million is null or cell_dose_million between 0.01 and 10000'),
    ('treatment', 'treatment_date_range', "treatment_date >= '2000-01-01'"),
    ('visit', 'visit_date_range', "visit_date is null or visit_date >= '2000-01-01'"),
    ('visit', 'appointment_date_range',
     "appointment_date is null or appointment_date >= '2000-01-01'"),
    ('adverse_event', 'onset_date_range', "onset_date >= '2000-01-01'"),
    ('contact_attempt', 'attempted_on_range', "attempted_on >= '2000-01-01'"),
    ('contact_attempt', 'appointment_date_range',
     "appointment_date is null or appointment_date >= '2000-01-01'"),
)
COLUMNS = (r'\b(cell_dose_million|treatment_date|birth_date|consent_date|withdrawn_on|'
           r'visit_date|appointment_date|onset_date|attempted_on)\b')
KEYS = {'patient': 'id', 'treatment': 'id', 'visit': 'id', 'adverse_event': 'id',
        'contact_attempt': 'id'}


def _tables() -> list[str]:
    return list(dict.fromkeys(table for table, _name, _condition in CHECKS))


def _conditions(table: str, row: str = '') -> list[str]:
    """The table's conditions; ``row`` prefixes the columns (``NEW.`` in a trigger)."""
    found = []
    for name_table, _name, condition in CHECKS:
        if name_table != table:
            continue
        if row:
            condition = re.sub(COLUMNS, lambda match: row + match.group(0), condition)
        found.append(f'({condition})')
    return found


def _refuse_rows_out_of_range() -> None:
    connection = op.get_bind()
    problems = []
    for table, name, condition in CHECKS:
        key = KEYS[table]
        # Constant names and conditions of this file, no input: nothing to inject.
        query = f'SELECT {key} FROM {table} WHERE NOT ({condition}) ORDER BY {key} LIMIT 20'  # noqa: S608
        ids = connection.execute(sa.text(query)).scalars().all()
        if ids:
            problems.append(f'{table} {name} ({condition}): ids {list(ids)}')
    if problems:
        raise RuntimeError(
            'Rows with implausible values stop this upgrade; correct them (an audited '
            'correction in the registry) and run it again:\n  ' + '\n  '.join(problems))


def upgrade() -> None:
    _refuse_rows_out_of_range()
    if op.get_bind().dialect.name == 'sqlite':
        for table in _tables():
            condition = ' AND '.join(_conditions(table, 'NEW.'))
            for event in ('INSERT', 'UPDATE'):
                op.execute(
                    f'CREATE TRIGGER ck_{table}_ranges_{event.lower()} BEFORE {event} ON '
                    f'{table} FOR EACH ROW WHEN NOT ({condition}) BEGIN SELECT RAISE(ABORT, '
                    f"'CHECK constraint failed: {table} plausible ranges'); END")
    else:
        for table, name, condition in CHECKS:
            op.create_check_constraint(op.f(f'ck_{table}_{name}'), table, condition)
    op.add_column('visit', sa.Column('creation_token', sa.String(length=64), nullable=True))
    op.create_index('ix_visit_creation_token', 'visit', ['patient_id', 'creation_token'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('ix_visit_creation_token', table_name='visit')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite 3.35+ drops a column without rebuilding the table.
        op.execute('ALTER TABLE visit DROP COLUMN creation_token')
        for table in _tables():
            for event in ('insert', 'update'):
                op.execute(f'DROP TRIGGER ck_{table}_ranges_{event}')
    else:
        op.drop_column('visit', 'creation_token')
        for table, name, _condition in CHECKS:
            op.drop_constraint(op.f(f'ck_{table}_{name}'), table, type_='check')

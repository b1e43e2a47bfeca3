"""a study's threshold set: which cited MCII / MIC / PASS thresholds its pages use

``protocol.threshold_set`` holds the code of one of ``scoring.THRESHOLD_SETS`` (a
versioned, cited set of thresholds).  Existing protocols get the default set, which is
the set the registry used before this revision, so no flag changes on upgrade.  An
admin changes it in the protocol editor (audited).

The column is added in batch mode, which on SQLite is a plain ``ALTER TABLE ADD
COLUMN`` (a constant server default needs no table rebuild).  The downgrade drops the
column with SQLite's own ``DROP COLUMN`` (3.35+) rather than a batch rebuild, because
rebuilding ``protocol`` with foreign keys on would cascade-delete its timepoints.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The default threshold set's code as of this revision (scoring.DEFAULT_THRESHOLD_SET).
DEFAULT_SET = 'tubach2005-monticone2013'


def upgrade() -> None:
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.add_column(sa.Column('threshold_set', sa.String(length=60), nullable=False,
                                      server_default=DEFAULT_SET))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE protocol DROP COLUMN threshold_set')
        return
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.drop_column('threshold_set')

"""follow-up worklist indexes

Covering indexes for the follow-up status of a site's visits (worklist counts and
ranking, reminders): patient (site_id, status, id) and visit (patient_id, status,
window_start, window_end, grace_end, timepoint_id, id).  Measured with
benchmarks/bench_worklist.py (100,000 patients).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index('ix_patient_site_status', ['site_id', 'status', 'id'],
                              unique=False)
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index('ix_visit_followup',
                              ['patient_id', 'status', 'window_start', 'window_end',
                               'grace_end', 'timepoint_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_followup')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_site_status')

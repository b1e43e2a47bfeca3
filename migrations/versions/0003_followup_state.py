"""follow-up status table for the worklist

``followup_state`` holds each scheduled visit's follow-up status as computed by
``registry.followup.status.status_expression`` (kept current by
``registry.followup.state``), and ``followup_refresh`` the day each site's rows were
computed for.  The worklist reads them for sites refreshed today instead of evaluating
the status of every visit of the site on every page (``benchmarks/bench_load.py``).
Both start empty: until ``registry refresh-followup`` has run, the worklist computes
the status live, as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'followup_state',
        sa.Column('visit_id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('urgency', sa.SmallInteger(), nullable=False),
        sa.Column('grace_end', sa.Date(), nullable=True),
        sa.Column('window_start', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'],
                                name=op.f('fk_followup_state_site_id_site'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['visit_id'], ['visit.id'],
                                name=op.f('fk_followup_state_visit_id_visit'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('visit_id', name=op.f('pk_followup_state')),
    )
    with op.batch_alter_table('followup_state', schema=None) as batch_op:
        batch_op.create_index('ix_followup_state_rank',
                              ['site_id', 'urgency', 'grace_end', 'window_start', 'visit_id'],
                              unique=False)
    op.create_table(
        'followup_refresh',
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'],
                                name=op.f('fk_followup_refresh_site_id_site'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('site_id', name=op.f('pk_followup_refresh')),
    )


def downgrade() -> None:
    op.drop_table('followup_refresh')
    with op.batch_alter_table('followup_state', schema=None) as batch_op:
        batch_op.drop_index('ix_followup_state_rank')
    op.drop_table('followup_state')

"""follow-up counts per site and status for the worklist

``followup_count`` holds, per site and urgency (the worklist's order of statuses), how
many ``followup_state`` rows there are; ``registry.followup.state`` keeps it equal to
that count on every write and recounts a site when it refreshes it.  The worklist's
counts without filters then read a few rows instead of counting every visit of the
site on every page.  Filled here from the rows already in ``followup_state``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'followup_count',
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('urgency', sa.SmallInteger(), nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'],
                                name=op.f('fk_followup_count_site_id_site'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('site_id', 'urgency', name=op.f('pk_followup_count')),
    )
    op.execute(
        "INSERT INTO followup_count (site_id, urgency, visits) "
        "SELECT site_id, urgency, count(*) FROM followup_state GROUP BY site_id, urgency"
    )


def downgrade() -> None:
    op.drop_table('followup_count')

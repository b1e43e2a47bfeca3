"""forms kept over an expired session

``pending_submission`` keeps the fields of a form whose save arrived after the session
had expired, so that the same user gets them back, pre-filled, after signing in again
(``registry.auth.pending``).  Found by the SHA-256 of a random token that only the
browser holds, bound to the user, deleted when used and after 24 hours.  Starts empty.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'pending_submission',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('page', sa.String(length=2048), nullable=False),
        sa.Column('action', sa.String(length=2048), nullable=False),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'],
                                name=op.f('fk_pending_submission_user_id_app_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_submission')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_pending_submission_token_hash')),
    )
    with op.batch_alter_table('pending_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_submission_user_id'), ['user_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_pending_submission_expires_at'), ['expires_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pending_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_submission_expires_at'))
        batch_op.drop_index(batch_op.f('ix_pending_submission_user_id'))
    op.drop_table('pending_submission')

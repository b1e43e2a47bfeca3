"""each person's interface language

``app_user.language``: the language a member of staff chose for the interface (a code of
``registry.vocabularies.LANGUAGES``); NULL (every existing account) means "the browser's
Accept-Language, then the language of the person's sites", as ``registry.i18n`` decides.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 16:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('app_user', sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE app_user DROP COLUMN language')
        return
    op.drop_column('app_user', 'language')

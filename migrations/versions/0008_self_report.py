"""patients report their own outcomes: self-reports, their links, text packs, languages

New tables:
- ``self_report``: one per visit, the patient's draft and submitted answers;
- ``self_report_link``: the hashed tokens that reach a self-report (link, e-mail, tablet);
- ``text_pack``: site-loaded instrument texts (licensed questionnaires are never shipped);
- ``request_throttle``: fixed-window counters shared by all workers (rate limits).

New columns: ``visit.collection_mode`` (mode of administration, null for visits recorded
before this revision: unknown), ``patient.language`` (null: the site's language) and
``site.language`` (existing sites: English, the only language before this revision).

On SQLite the columns are added with ``ALTER TABLE ADD COLUMN`` and a column CHECK
constraint (no table rebuild, which would cascade-delete a visit's scores with foreign
keys on); the downgrade drops them with SQLite's own ``DROP COLUMN`` (3.35+).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The vocabularies as of this revision (registry.vocabularies).
COLLECTION_MODES = "'self_link', 'self_kiosk', 'staff_interview', 'paper'"
STATES = "'open', 'submitted', 'pending_review', 'accepted', 'dismissed'"
CHANNELS = "'link', 'email', 'kiosk'"
VISIT_MODE_CHECK = f"collection_mode is null or collection_mode in ({COLLECTION_MODES})"


def _add_columns_sqlite() -> None:
    op.execute("ALTER TABLE visit ADD COLUMN collection_mode VARCHAR(16) "
               f"CONSTRAINT ck_visit_collection_mode_known CHECK ({VISIT_MODE_CHECK})")
    op.execute("ALTER TABLE patient ADD COLUMN language VARCHAR(8)")
    op.execute("ALTER TABLE site ADD COLUMN language VARCHAR(8) DEFAULT 'en' NOT NULL")


def _add_columns_postgresql() -> None:
    op.add_column('visit', sa.Column('collection_mode', sa.String(length=16), nullable=True))
    op.create_check_constraint('ck_visit_collection_mode_known', 'visit', VISIT_MODE_CHECK)
    op.add_column('patient', sa.Column('language', sa.String(length=8), nullable=True))
    op.add_column('site', sa.Column('language', sa.String(length=8), nullable=False,
                                    server_default='en'))


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _add_columns_sqlite()
    else:
        _add_columns_postgresql()
    op.create_table(
        'self_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('visit_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('instruments', sa.JSON(), nullable=False),
        sa.Column('draft', sa.JSON(), nullable=False),
        sa.Column('skipped', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='open', nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=True),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.CheckConstraint(f"state in ({STATES})", name=op.f('ck_self_report_state_known')),
        sa.CheckConstraint(f"mode is null or mode in ({COLLECTION_MODES})",
                           name=op.f('ck_self_report_mode_known')),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ondelete='CASCADE',
                                name=op.f('fk_self_report_patient_id_patient')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['app_user.id'],
                                name=op.f('fk_self_report_reviewed_by_id_app_user')),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'],
                                name=op.f('fk_self_report_site_id_site')),
        sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], ondelete='CASCADE',
                                name=op.f('fk_self_report_visit_id_visit')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_self_report')),
        sa.UniqueConstraint('visit_id', name=op.f('uq_self_report_visit_id')),
    )
    op.create_index(op.f('ix_self_report_patient_id'), 'self_report', ['patient_id'])
    op.create_table(
        'self_report_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('self_report_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.Column('first_opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"channel in ({CHANNELS})",
                           name=op.f('ck_self_report_link_channel_known')),
        sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'],
                                name=op.f('fk_self_report_link_created_by_id_app_user')),
        sa.ForeignKeyConstraint(['revoked_by_id'], ['app_user.id'],
                                name=op.f('fk_self_report_link_revoked_by_id_app_user')),
        sa.ForeignKeyConstraint(['self_report_id'], ['self_report.id'], ondelete='CASCADE',
                                name=op.f('fk_self_report_link_self_report_id_self_report')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_self_report_link')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_self_report_link_token_hash')),
    )
    op.create_index(op.f('ix_self_report_link_self_report_id'), 'self_report_link',
                    ['self_report_id'])
    op.create_table(
        'text_pack',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instrument', sa.String(length=16), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('source_name', sa.String(length=200), nullable=False),
        sa.Column('demo', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('loaded_by_id', sa.Integer(), nullable=True),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['loaded_by_id'], ['app_user.id'],
                                name=op.f('fk_text_pack_loaded_by_id_app_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_text_pack')),
        sa.UniqueConstraint('instrument', 'language',
                            name=op.f('uq_text_pack_instrument_language')),
    )
    op.create_table(
        'request_throttle',
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('hits', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_request_throttle')),
    )


def downgrade() -> None:
    op.drop_table('request_throttle')
    op.drop_table('text_pack')
    op.drop_index(op.f('ix_self_report_link_self_report_id'), table_name='self_report_link')
    op.drop_table('self_report_link')
    op.drop_index(op.f('ix_self_report_patient_id'), table_name='self_report')
    op.drop_table('self_report')
    if op.get_bind().dialect.name == 'sqlite':
        for table, column in (('site', 'language'), ('patient', 'language'),
                              ('visit', 'collection_mode')):
            op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
        return
    op.drop_column('site', 'language')
    op.drop_column('patient', 'language')
    op.drop_constraint('ck_visit_collection_mode_known', 'visit', type_='check')
    op.drop_column('visit', 'collection_mode')

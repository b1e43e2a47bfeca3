"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 16:26:11.966909
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('session_token', sa.String(length=64), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('totp_last_step', sa.Integer(), nullable=True),
    sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("role in ('clinician', 'coordinator', 'researcher', 'admin')", name=op.f('ck_app_user_role_known')),
    sa.CheckConstraint('failed_logins >= 0', name=op.f('ck_app_user_failed_logins_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('email', name=op.f('uq_app_user_email'))
    )
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_email', sa.String(length=254), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=True),
    sa.Column('entity_id', sa.String(length=40), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('field', sa.String(length=80), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
    sa.UniqueConstraint('row_hash', name=op.f('uq_audit_event_row_hash'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_entity', ['entity_type', 'entity_id'], unique=False)
        batch_op.create_index('ix_audit_event_occurred_at', ['occurred_at'], unique=False)

    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('length(code) between 2 and 8', name=op.f('ck_site_code_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('code', name=op.f('uq_site_code'))
    )
    op.create_table('cohort',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_cohort_created_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cohort')),
    sa.UniqueConstraint('name', name=op.f('uq_cohort_name'))
    )
    op.create_table('protocol',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_default', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_protocol_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol')),
    sa.UniqueConstraint('name', name=op.f('uq_protocol_name'))
    )
    op.create_table('user_site',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_user_site_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_site_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'site_id', name=op.f('pk_user_site'))
    )
    op.create_table('patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.String(length=20), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('site_sequence', sa.Integer(), nullable=False),
    sa.Column('protocol_id', sa.Integer(), nullable=False),
    sa.Column('sex', sa.String(length=10), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('height_cm', sa.Float(), nullable=True),
    sa.Column('weight_kg', sa.Float(), nullable=True),
    sa.Column('bmi', sa.Float(), nullable=True),
    sa.Column('consent_date', sa.Date(), nullable=False),
    sa.Column('outside_indication_justification', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=12), server_default='active', nullable=False),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('withdrawal_reason', sa.String(length=24), nullable=True),
    sa.Column('withdrawal_note', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("sex in ('female', 'male', 'other')", name=op.f('ck_patient_sex_known')),
    sa.CheckConstraint("status in ('active', 'withdrawn')", name=op.f('ck_patient_status_known')),
    sa.CheckConstraint("withdrawal_reason is null or withdrawal_reason in ('lost_to_follow_up', 'consent_withdrawn', 'died', 'other')", name=op.f('ck_patient_withdrawal_reason_known')),
    sa.CheckConstraint('bmi is null or bmi between 10 and 80', name=op.f('ck_patient_bmi_range')),
    sa.CheckConstraint('height_cm is null or height_cm between 50 and 250', name=op.f('ck_patient_height_range')),
    sa.CheckConstraint('weight_kg is null or weight_kg between 20 and 350', name=op.f('ck_patient_weight_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_patient_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], name=op.f('fk_patient_protocol_id_protocol')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_patient_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient')),
    sa.UniqueConstraint('site_id', 'site_sequence', name=op.f('uq_patient_site_id_site_sequence')),
    sa.UniqueConstraint('study_id', name=op.f('uq_patient_study_id'))
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_site_id'), ['site_id'], unique=False)

    op.create_table('timepoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('protocol_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('target_day', sa.Integer(), nullable=False),
    sa.Column('window_start_day', sa.Integer(), nullable=False),
    sa.Column('window_end_day', sa.Integer(), nullable=False),
    sa.Column('grace_days', sa.Integer(), server_default='14', nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('is_baseline', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('instruments', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('grace_days >= 0', name=op.f('ck_timepoint_grace_nonnegative')),
    sa.CheckConstraint('target_day <= window_end_day', name=op.f('ck_timepoint_target_before_end')),
    sa.CheckConstraint('window_start_day <= target_day', name=op.f('ck_timepoint_target_after_start')),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], name=op.f('fk_timepoint_protocol_id_protocol'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timepoint')),
    sa.UniqueConstraint('protocol_id', 'code', name=op.f('uq_timepoint_protocol_id_code'))
    )
    op.create_table('index_knee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('laterality', sa.String(length=5), nullable=False),
    sa.Column('kl_grade', sa.Integer(), nullable=False),
    sa.Column('eligibility', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("laterality in ('left', 'right')", name=op.f('ck_index_knee_laterality_known')),
    sa.CheckConstraint('kl_grade between 0 and 4', name=op.f('ck_index_knee_kl_grade_range')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_index_knee_patient_id_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_index_knee')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_index_knee_patient_id'))
    )
    op.create_table('patient_identity',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('family_name', sa.String(length=120), nullable=False),
    sa.Column('given_name', sa.String(length=120), nullable=False),
    sa.Column('medical_record_number', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('preferred_contact', sa.String(length=10), server_default='phone', nullable=False),
    sa.Column('email_reminders', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("preferred_contact in ('phone', 'email', 'sms', 'letter')", name=op.f('ck_patient_identity_contact_known')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_patient_identity_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_patient_identity_site_id_site')),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_patient_identity')),
    sa.UniqueConstraint('site_id', 'medical_record_number', name=op.f('uq_patient_identity_site_id_medical_record_number'))
    )
    op.create_table('treatment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('treatment_date', sa.Date(), nullable=False),
    sa.Column('cell_source', sa.String(length=16), nullable=False),
    sa.Column('product_name', sa.String(length=200), nullable=False),
    sa.Column('lot_number', sa.String(length=80), nullable=False),
    sa.Column('cell_dose_million', sa.Float(), nullable=True),
    sa.Column('injections', sa.Integer(), server_default='1', nullable=False),
    sa.Column('co_interventions', sa.JSON(), nullable=False),
    sa.Column('operator', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("cell_source in ('bmac', 'adipose', 'allogeneic', 'other')", name=op.f('ck_treatment_cell_source_known')),
    sa.CheckConstraint('cell_dose_million is null or cell_dose_million > 0', name=op.f('ck_treatment_dose_positive')),
    sa.CheckConstraint('injections between 1 and 10', name=op.f('ck_treatment_injections_range')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_treatment_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id'], name=op.f('fk_treatment_recorded_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_treatment_patient_id'))
    )
    with op.batch_alter_table('treatment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_treatment_treatment_date'), ['treatment_date'], unique=False)

    op.create_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('timepoint_id', sa.Integer(), nullable=True),
    sa.Column('target_date', sa.Date(), nullable=True),
    sa.Column('window_start', sa.Date(), nullable=True),
    sa.Column('window_end', sa.Date(), nullable=True),
    sa.Column('grace_end', sa.Date(), nullable=True),
    sa.Column('visit_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='scheduled', nullable=False),
    sa.Column('out_of_window', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('not_applicable_reason', sa.Text(), nullable=True),
    sa.Column('appointment_date', sa.Date(), nullable=True),
    sa.Column('clinician_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("status != 'done' or visit_date is not null", name=op.f('ck_visit_done_has_date')),
    sa.CheckConstraint("status in ('scheduled', 'done', 'not_applicable')", name=op.f('ck_visit_status_known')),
    sa.ForeignKeyConstraint(['clinician_id'], ['app_user.id'], name=op.f('fk_visit_clinician_id_app_user')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_visit_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoint.id'], name=op.f('fk_visit_timepoint_id_timepoint')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit')),
    sa.UniqueConstraint('patient_id', 'timepoint_id', name=op.f('uq_visit_patient_id_timepoint_id'))
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index('ix_visit_status_window', ['status', 'window_start', 'window_end'], unique=False)

    op.create_table('adverse_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('onset_date', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('severity_grade', sa.Integer(), nullable=False),
    sa.Column('serious', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('serious_criterion', sa.String(length=24), nullable=True),
    sa.Column('relatedness', sa.String(length=12), nullable=False),
    sa.Column('action_taken', sa.String(length=16), nullable=True),
    sa.Column('outcome', sa.String(length=20), server_default='ongoing', nullable=False),
    sa.Column('resolution_date', sa.Date(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("action_taken is null or action_taken in ('none', 'medication', 'aspiration', 'hospitalisation', 'surgery', 'other')", name=op.f('ck_adverse_event_action_known')),
    sa.CheckConstraint("category in ('local_pain', 'swelling', 'stiffness', 'flu_like', 'fever', 'infection', 'other')", name=op.f('ck_adverse_event_category_known')),
    sa.CheckConstraint("outcome in ('ongoing', 'resolved', 'resolved_sequelae', 'fatal', 'unknown')", name=op.f('ck_adverse_event_outcome_known')),
    sa.CheckConstraint("relatedness in ('unrelated', 'unlikely', 'possibly', 'probably', 'definitely')", name=op.f('ck_adverse_event_relatedness_known')),
    sa.CheckConstraint("serious_criterion is null or serious_criterion in ('death', 'life_threatening', 'hospitalisation', 'disability', 'other_important')", name=op.f('ck_adverse_event_serious_criterion_known')),
    sa.CheckConstraint('(serious and serious_criterion is not null) or (not serious and serious_criterion is null)', name=op.f('ck_adverse_event_serious_has_criterion')),
    sa.CheckConstraint('resolution_date is null or resolution_date >= onset_date', name=op.f('ck_adverse_event_resolved_after_onset')),
    sa.CheckConstraint('severity_grade between 1 and 5', name=op.f('ck_adverse_event_grade_range')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_adverse_event_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['app_user.id'], name=op.f('fk_adverse_event_reported_by_id_app_user')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['app_user.id'], name=op.f('fk_adverse_event_reviewed_by_id_app_user')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_adverse_event_visit_id_visit'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adverse_event'))
    )
    op.create_table('contact_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('attempted_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('appointment_date', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("method in ('phone', 'email', 'sms', 'letter')", name=op.f('ck_contact_attempt_method_known')),
    sa.CheckConstraint("outcome != 'appointment_booked' or appointment_date is not null", name=op.f('ck_contact_attempt_booking_has_date')),
    sa.CheckConstraint("outcome in ('reached', 'no_answer', 'wrong_number', 'declined', 'appointment_booked')", name=op.f('ck_contact_attempt_outcome_known')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_contact_attempt_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_contact_attempt_user_id_app_user')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_contact_attempt_visit_id_visit'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_attempt'))
    )
    with op.batch_alter_table('contact_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_attempt_patient_id'), ['patient_id'], unique=False)

    op.create_table('instrument_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('instrument', sa.String(length=16), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('scoring_version', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_instrument_response_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_response')),
    sa.UniqueConstraint('visit_id', 'instrument', name=op.f('uq_instrument_response_visit_id_instrument'))
    )
    op.create_table('reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('digest_date', sa.Date(), nullable=True),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='claimed', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind in ('window_open', 'overdue', 'coordinator_digest')", name=op.f('ck_reminder_kind_known')),
    sa.CheckConstraint("status in ('claimed', 'sent', 'failed')", name=op.f('ck_reminder_status_known')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_reminder_user_id_app_user')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_reminder_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder')),
    sa.UniqueConstraint('user_id', 'kind', 'digest_date', name=op.f('uq_reminder_user_id_kind_digest_date')),
    sa.UniqueConstraint('visit_id', 'kind', name=op.f('uq_reminder_visit_id_kind'))
    )
    op.create_table('score_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('score_code', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_score_value_patient_id_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['instrument_response.id'], name=op.f('fk_score_value_response_id_instrument_response'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_score_value_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_value')),
    sa.UniqueConstraint('response_id', 'score_code', name=op.f('uq_score_value_response_id_score_code'))
    )
    with op.batch_alter_table('score_value', schema=None) as batch_op:
        batch_op.create_index('ix_score_value_patient_score', ['patient_id', 'score_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_score_value_visit_id'), ['visit_id'], unique=False)

    create_audit_guards()


# The audit table is append-only in the database itself: UPDATE and DELETE are refused
# by triggers (21 CFR 11.10(e): audit trails must not obscure previously recorded data).
SQLITE_GUARDS = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END",
)
POSTGRES_GUARDS = (
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit trail is append-only'; END $$",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
)


def create_audit_guards() -> None:
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES_GUARDS if dialect == "postgresql" else SQLITE_GUARDS:
        op.execute(statement)


def drop_audit_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")


def downgrade() -> None:
    drop_audit_guards()
    with op.batch_alter_table('score_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_value_visit_id'))
        batch_op.drop_index('ix_score_value_patient_score')

    op.drop_table('score_value')
    op.drop_table('reminder')
    op.drop_table('instrument_response')
    with op.batch_alter_table('contact_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_attempt_patient_id'))

    op.drop_table('contact_attempt')
    op.drop_table('adverse_event')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_status_window')

    op.drop_table('visit')
    with op.batch_alter_table('treatment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatment_treatment_date'))

    op.drop_table('treatment')
    op.drop_table('patient_identity')
    op.drop_table('index_knee')
    op.drop_table('timepoint')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_site_id'))

    op.drop_table('patient')
    op.drop_table('user_site')
    op.drop_table('protocol')
    op.drop_table('cohort')
    op.drop_table('site')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_occurred_at')
        batch_op.drop_index('ix_audit_event_entity')

    op.drop_table('audit_event')
    op.drop_table('app_user')

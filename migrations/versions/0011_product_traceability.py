"""cell-product traceability: product catalogue, lots, recall reviews, comparators

New tables ``cell_product``, ``product_lot`` and ``lot_recall_review``.  ``treatment``
gains its type (cell therapy or a comparator: hyaluronic acid, PRP, corticosteroid,
exercise only), the lot it used, the justification of an unusual lot, and the delivery
fields of the DOSES/MIBO checklists; product name, lot number and cell source become
optional (comparators have none; cell therapy keeps requiring them by a CHECK).

Data: every existing treatment's free-text product becomes a catalogue entry (one per
distinct name; origin, tissue and preparation inferred from its cell source), each distinct
(product, lot number) a released lot (the site's own when only one site used it), and the
treatment is linked to it.  The free text stays on the treatment, so nothing is lost.
Downgrade drops the new tables and columns; a comparator treatment, which the old schema
cannot hold, gets cell source "other", its type's name as product and "-" as lot number.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cell_product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('manufacturer', sa.String(length=200), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('tissue_source', sa.String(length=24), nullable=False),
    sa.Column('preparation', sa.String(length=32), nullable=False),
    sa.Column('minimally_manipulated', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('regulatory_status', sa.String(length=200), nullable=True),
    sa.Column('authorisation_reference', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("origin in ('autologous', 'allogeneic')", name=op.f('ck_cell_product_origin_known')),
    sa.CheckConstraint("preparation in ('bmac', 'svf', 'microfragmented_adipose', 'culture_expanded_msc', 'other')", name=op.f('ck_cell_product_preparation_known')),
    sa.CheckConstraint("tissue_source in ('bone_marrow', 'adipose', 'umbilical_cord', 'placenta', 'synovium', 'peripheral_blood', 'other')", name=op.f('ck_cell_product_tissue_source_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cell_product')),
    sa.UniqueConstraint('name', name=op.f('uq_cell_product_name'))
    )
    op.create_table('product_lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('lot_number', sa.String(length=80), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('donor_code', sa.String(length=40), nullable=True),
    sa.Column('collection_date', sa.Date(), nullable=True),
    sa.Column('processing_date', sa.Date(), nullable=True),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('cell_count_million', sa.Float(), nullable=True),
    sa.Column('viability_percent', sa.Float(), nullable=True),
    sa.Column('cfu_f', sa.Float(), nullable=True),
    sa.Column('cd73_percent', sa.Float(), nullable=True),
    sa.Column('cd90_percent', sa.Float(), nullable=True),
    sa.Column('cd105_percent', sa.Float(), nullable=True),
    sa.Column('cd45_percent', sa.Float(), nullable=True),
    sa.Column('cd34_percent', sa.Float(), nullable=True),
    sa.Column('cd14_cd11b_percent', sa.Float(), nullable=True),
    sa.Column('cd79a_cd19_percent', sa.Float(), nullable=True),
    sa.Column('hla_dr_percent', sa.Float(), nullable=True),
    sa.Column('sterility_passed', sa.Boolean(), nullable=True),
    sa.Column('release_status', sa.String(length=16), server_default='quarantined', nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('status_date', sa.Date(), nullable=True),
    sa.Column('recalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("release_status in ('released', 'quarantined', 'recalled')", name=op.f('ck_product_lot_release_status_known')),
    sa.CheckConstraint('cd105_percent is null or cd105_percent between 0 and 100', name=op.f('ck_product_lot_cd105_percent_range')),
    sa.CheckConstraint('cd14_cd11b_percent is null or cd14_cd11b_percent between 0 and 100', name=op.f('ck_product_lot_cd14_cd11b_percent_range')),
    sa.CheckConstraint('cd34_percent is null or cd34_percent between 0 and 100', name=op.f('ck_product_lot_cd34_percent_range')),
    sa.CheckConstraint('cd45_percent is null or cd45_percent between 0 and 100', name=op.f('ck_product_lot_cd45_percent_range')),
    sa.CheckConstraint('cd73_percent is null or cd73_percent between 0 and 100', name=op.f('ck_product_lot_cd73_percent_range')),
    sa.CheckConstraint('cd79a_cd19_percent is null or cd79a_cd19_percent between 0 and 100', name=op.f('ck_product_lot_cd79a_cd19_percent_range')),
    sa.CheckConstraint('cd90_percent is null or cd90_percent between 0 and 100', name=op.f('ck_product_lot_cd90_percent_range')),
    sa.CheckConstraint('cell_count_million is null or cell_count_million between 0.01 and 1e+06', name=op.f('ck_product_lot_cell_count_range')),
    sa.CheckConstraint('cfu_f is null or cfu_f between 0 and 1e+06', name=op.f('ck_product_lot_cfu_f_range')),
    sa.CheckConstraint('hla_dr_percent is null or hla_dr_percent between 0 and 100', name=op.f('ck_product_lot_hla_dr_percent_range')),
    sa.CheckConstraint('viability_percent is null or viability_percent between 0 and 100', name=op.f('ck_product_lot_viability_range')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_product_lot_patient_id_patient'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['product_id'], ['cell_product.id'], name=op.f('fk_product_lot_product_id_cell_product'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_product_lot_site_id_site'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_lot')),
    sa.UniqueConstraint('product_id', 'lot_number', name='uq_product_lot_number')
    )
    with op.batch_alter_table('product_lot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_lot_lot_number'), ['lot_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_lot_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_lot_site_id'), ['site_id'], unique=False)

    op.create_table('lot_recall_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lot_id'], ['product_lot.id'], name=op.f('fk_lot_recall_review_lot_id_product_lot'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_lot_recall_review_patient_id_patient'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['app_user.id'], name=op.f('fk_lot_recall_review_reviewed_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot_recall_review'))
    )
    with op.batch_alter_table('lot_recall_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_recall_review_patient_id'), ['patient_id'], unique=False)

    with op.batch_alter_table('treatment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('treatment_type', sa.String(length=24), server_default='cell_therapy', nullable=False))
        batch_op.add_column(sa.Column('lot_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lot_justification', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('injection_interval_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('delivery_site', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('image_guidance', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('volume_ml', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('anaesthesia', sa.String(length=16), nullable=True))
        batch_op.alter_column('cell_source',
               existing_type=sa.VARCHAR(length=16),
               nullable=True)
        batch_op.alter_column('product_name',
               existing_type=sa.VARCHAR(length=200),
               nullable=True)
        batch_op.alter_column('lot_number',
               existing_type=sa.VARCHAR(length=80),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_treatment_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatment_treatment_type'), ['treatment_type'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_treatment_lot_id_product_lot'), 'product_lot', ['lot_id'], ['id'], ondelete='RESTRICT')
        batch_op.drop_constraint(op.f('ck_treatment_cell_source_known'), type_='check')
        for name, condition in TREATMENT_CHECKS.items():
            batch_op.create_check_constraint(name, condition)
    _restore_sqlite_range_triggers()
    # A lot's trace reads its patients' adverse events.
    op.create_index('ix_adverse_event_patient_id', 'adverse_event', ['patient_id'])
    _catalogue_existing_products()


def _restore_sqlite_range_triggers() -> None:
    """SQLite rebuilt the treatment table (batch mode), which dropped the range triggers
    that revision 0006 put on it; they are made again, as 0006 made them."""
    if op.get_bind().dialect.name != 'sqlite':
        return
    condition = ("(NEW.cell_dose_million is null or NEW.cell_dose_million between 0.01 and "
                 "10000) AND (NEW.treatment_date >= '2000-01-01')")
    for event in ('INSERT', 'UPDATE'):
        op.execute(f'DROP TRIGGER IF EXISTS ck_treatment_ranges_{event.lower()}')
        op.execute(
            f'CREATE TRIGGER ck_treatment_ranges_{event.lower()} BEFORE {event} ON treatment '
            f'FOR EACH ROW WHEN NOT ({condition}) BEGIN SELECT RAISE(ABORT, '
            "'CHECK constraint failed: treatment plausible ranges'); END")


# The CHECK constraints of the treatment table (registry.models.patients, frozen here).
TREATMENT_CHECKS = {
    'treatment_type_known': "treatment_type in ('cell_therapy', 'hyaluronic_acid', 'prp', "
                            "'corticosteroid', 'exercise')",
    'cell_source_known': "cell_source is null or cell_source in ('bmac', 'adipose', "
                         "'allogeneic', 'other')",
    'cell_therapy_product': "treatment_type != 'cell_therapy' or (cell_source is not null "
                            "and product_name is not null and lot_number is not null)",
    'delivery_site_known': "delivery_site is null or delivery_site in ('intra_articular', "
                           "'subchondral', 'intra_articular_subchondral', 'other')",
    'image_guidance_known': "image_guidance is null or image_guidance in ('none', "
                            "'ultrasound', 'fluoroscopy')",
    'anaesthesia_known': "anaesthesia is null or anaesthesia in ('none', 'local', 'regional', "
                         "'sedation', 'general')",
    'volume_range': "volume_ml is null or volume_ml between 0.1 and 100",
    'injection_interval_range': "injection_interval_days is null or injection_interval_days "
                                "between 1 and 365",
}
# What a treatment's cell source says about its product: origin, tissue, preparation.
SOURCE_FACTS = {
    'bmac': ('autologous', 'bone_marrow', 'bmac'),
    'adipose': ('autologous', 'adipose', 'svf'),
    'allogeneic': ('allogeneic', 'other', 'other'),
    'other': ('autologous', 'other', 'other'),
}
MIGRATED_REASON = ('Registered from the treatment records when the product catalogue was '
                   'introduced (revision 0011).')


def _catalogue_existing_products() -> None:
    """Products and lots from the treatments' free text; each treatment linked to its lot."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT t.id, t.product_name, t.lot_number, t.cell_source, t.treatment_date, "
        "p.site_id FROM treatment t JOIN patient p ON p.id = t.patient_id "
        "ORDER BY t.id")).all()
    products: dict[str, int] = {}
    lots: dict[tuple[int, str], list[tuple[int, object, int]]] = {}
    for treatment_id, product_name, lot_number, cell_source, treated, site_id in rows:
        name = (product_name or '').strip() or 'Product not recorded'
        if name not in products:
            origin, tissue, preparation = SOURCE_FACTS.get(cell_source, SOURCE_FACTS['other'])
            products[name] = bind.execute(sa.text(
                "INSERT INTO cell_product (name, origin, tissue_source, preparation, "
                "minimally_manipulated, version) VALUES (:name, :origin, :tissue, "
                ":preparation, :manipulated, 1) RETURNING id"),
                {'name': name, 'origin': origin, 'tissue': tissue,
                 'preparation': preparation, 'manipulated': False}).scalar_one()
        key = (products[name], (lot_number or '').strip() or '-')
        lots.setdefault(key, []).append((treatment_id, treated, site_id))
    for (product_id, lot_number), used in lots.items():
        sites = {site_id for _treatment, _treated, site_id in used}
        lot_id = bind.execute(sa.text(
            "INSERT INTO product_lot (product_id, lot_number, site_id, release_status, "
            "status_reason, status_date, version) VALUES (:product, :lot, :site, "
            "'released', :reason, :day, 1) RETURNING id"),
            {'product': product_id, 'lot': lot_number,
             'site': sites.pop() if len(sites) == 1 else None, 'reason': MIGRATED_REASON,
             'day': min(treated for _treatment, treated, _site in used)}).scalar_one()
        bind.execute(sa.text("UPDATE treatment SET lot_id = :lot WHERE id = :id"),
                     [{'lot': lot_id, 'id': treatment_id} for treatment_id, _t, _s in used])


def downgrade() -> None:
    op.drop_index('ix_adverse_event_patient_id', table_name='adverse_event')
    bind = op.get_bind()
    bind.execute(sa.text(
        "UPDATE treatment SET cell_source = coalesce(cell_source, 'other'), "
        "product_name = coalesce(product_name, treatment_type), "
        "lot_number = coalesce(lot_number, '-')"))
    with op.batch_alter_table('treatment', schema=None) as batch_op:
        for name in TREATMENT_CHECKS:
            batch_op.drop_constraint(op.f(f'ck_treatment_{name}'), type_='check')
        batch_op.create_check_constraint(
            'cell_source_known', "cell_source in ('bmac', 'adipose', 'allogeneic', 'other')")
        batch_op.drop_constraint(batch_op.f('fk_treatment_lot_id_product_lot'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_treatment_treatment_type'))
        batch_op.drop_index(batch_op.f('ix_treatment_lot_id'))
        batch_op.alter_column('lot_number',
               existing_type=sa.VARCHAR(length=80),
               nullable=False)
        batch_op.alter_column('product_name',
               existing_type=sa.VARCHAR(length=200),
               nullable=False)
        batch_op.alter_column('cell_source',
               existing_type=sa.VARCHAR(length=16),
               nullable=False)
        batch_op.drop_column('anaesthesia')
        batch_op.drop_column('volume_ml')
        batch_op.drop_column('image_guidance')
        batch_op.drop_column('delivery_site')
        batch_op.drop_column('injection_interval_days')
        batch_op.drop_column('lot_justification')
        batch_op.drop_column('lot_id')
        batch_op.drop_column('treatment_type')
    _restore_sqlite_range_triggers()

    with op.batch_alter_table('lot_recall_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_recall_review_patient_id'))

    op.drop_table('lot_recall_review')
    with op.batch_alter_table('product_lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_lot_site_id'))
        batch_op.drop_index(batch_op.f('ix_product_lot_product_id'))
        batch_op.drop_index(batch_op.f('ix_product_lot_lot_number'))

    op.drop_table('product_lot')
    op.drop_table('cell_product')

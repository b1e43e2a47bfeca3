"""Revision 0011 turns the treatments' free-text products and lots into catalogue entries,
with data, up and down, on SQLite and PostgreSQL: nothing is lost, every treatment is
linked to its lot, and SQLite's range triggers on the rebuilt treatment table still hold."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from registry import migrate
from registry.db import make_engine

TREATMENTS = (  # (site, product name, lot, cell source)
    ("ONE", "BMAC kit", "L1", "bmac"),
    ("ONE", "BMAC kit", "L1", "bmac"),
    ("TWO", "BMAC kit", "L1", "bmac"),   # the same lot at two sites: no site of its own
    ("TWO", "Lipo-SVF", "A-7", "adipose"),
    ("TWO", "  Lipo-SVF ", "A-8", "adipose"),
)


def _tables(engine: sa.Engine, *names: str) -> dict[str, sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(engine, only=list(names))
    return {name: metadata.tables[name] for name in names}


def _seed_at_0010(url: str) -> dict[int, tuple[str, str, str, str]]:
    migrate.upgrade(url, "0010")
    engine = make_engine(url)
    try:
        t = _tables(engine, "site", "protocol", "patient", "treatment")
        made = {}
        with engine.begin() as connection:
            sites = {code: connection.execute(sa.insert(t["site"]).values(
                code=code, name=f"Clinic {code}").returning(t["site"].c.id)).scalar_one()
                for code in ("ONE", "TWO")}
            protocol_id = connection.execute(sa.insert(t["protocol"]).values(
                name="Old protocol").returning(t["protocol"].c.id)).scalar_one()
            for number, (site, product, lot, source) in enumerate(TREATMENTS, start=1):
                patient_id = connection.execute(sa.insert(t["patient"]).values(
                    study_id=f"{site}-{number:04d}", site_id=sites[site],
                    site_sequence=number, protocol_id=protocol_id, sex="female",
                    birth_date=date(1950, 2, 3), consent_date=date(2025, 5, 1),
                ).returning(t["patient"].c.id)).scalar_one()
                treatment_id = connection.execute(sa.insert(t["treatment"]).values(
                    patient_id=patient_id, treatment_date=date(2025, 5, number),
                    cell_source=source, product_name=product, lot_number=lot,
                    cell_dose_million=40.0, injections=1, co_interventions=[],
                    operator="Dr Old").returning(t["treatment"].c.id)).scalar_one()
                made[treatment_id] = (site, product, lot, source)
        return made
    finally:
        engine.dispose()


def test_upgrade_catalogues_every_product_and_lot(fresh_database_url):
    made = _seed_at_0010(fresh_database_url)
    migrate.upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT t.id, t.product_name, t.lot_number, t.cell_source, t.treatment_type, "
                "l.lot_number, l.release_status, l.site_id, s.code, c.name, c.origin, "
                "c.tissue_source, c.preparation FROM treatment t "
                "JOIN product_lot l ON l.id = t.lot_id JOIN cell_product c ON "
                "c.id = l.product_id LEFT JOIN site s ON s.id = l.site_id")).all()
            products = connection.execute(sa.text(
                "SELECT name FROM cell_product ORDER BY name")).scalars().all()
            lots = connection.execute(sa.text("SELECT count(*) FROM product_lot")).scalar()
    finally:
        engine.dispose()
    assert len(rows) == len(made)  # every treatment is linked to a lot
    assert products == ["BMAC kit", "Lipo-SVF"]
    assert lots == 3
    for (treatment_id, product_text, lot_text, source, kind, lot_number, status, _site_id,
         site_code, product, origin, tissue, preparation) in rows:
        site, old_product, old_lot, old_source = made[treatment_id]
        assert (product_text, lot_text, source) == (old_product, old_lot, old_source)
        assert kind == "cell_therapy"
        assert status == "released"
        assert product == old_product.strip()
        assert lot_number == old_lot
        if old_product == "BMAC kit":
            assert site_code is None  # used at two sites
            assert (origin, tissue, preparation) == ("autologous", "bone_marrow", "bmac")
        else:
            assert site_code == "TWO"
            assert (origin, tissue, preparation) == ("autologous", "adipose", "svf")


def test_the_rebuilt_treatment_table_keeps_its_range_checks(fresh_database_url):
    made = _seed_at_0010(fresh_database_url)
    migrate.upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        for change in ({"cell_dose_million": 1e9}, {"treatment_date": date(1999, 1, 1)},
                       {"volume_ml": 5000.0}, {"treatment_type": "homeopathy"},
                       {"cell_source": None}):
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
                connection.execute(sa.text(
                    "UPDATE treatment SET " + ", ".join(f"{k} = :{k}" for k in change)
                    + " WHERE id = :id"), {**change, "id": next(iter(made))})
    finally:
        engine.dispose()


def test_downgrade_keeps_the_treatments_and_a_comparator(fresh_database_url):
    made = _seed_at_0010(fresh_database_url)
    migrate.upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    comparator = next(iter(made))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "UPDATE treatment SET treatment_type = 'hyaluronic_acid', lot_id = NULL, "
                "cell_source = NULL, product_name = NULL, lot_number = NULL WHERE id = :id"),
                {"id": comparator})
    finally:
        engine.dispose()
    migrate.downgrade(fresh_database_url, "0010")
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            rows = dict(connection.execute(sa.text(
                "SELECT id, product_name FROM treatment")).all())
            tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert "product_lot" not in tables
    assert "cell_product" not in tables
    assert set(rows) == set(made)
    assert rows[comparator] == "hyaluronic_acid"
    assert all(rows[key] == made[key][1] for key in made if key != comparator)
    migrate.upgrade(fresh_database_url)  # and up again

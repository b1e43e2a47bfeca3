"""An admin keeps the product catalogue and registers lots through the pages, as rendered;
bad input is refused naming the field, and nothing is half-saved."""

from __future__ import annotations

from sqlalchemy import func, select

from registry.models import AuditEvent, CellProduct, ProductLot
from tests.fixtures.webtest import sign_in, submit


def form_with(page, field: str):
    return next(form for form in page.forms.values() if field in form.fields)


def count(db, model) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(model)))


def test_admin_registers_a_product_and_a_lot(browser, db, make_user, site_a):
    admin = make_user("admin", sites=[site_a])
    sign_in(browser, admin.email)
    form = form_with(browser.get("/lots/products/new"), "tissue_source")
    form["name"], form["manufacturer"] = "AlloCell-K", "Cell Factory Ltd"
    form["origin"], form["tissue_source"] = "allogeneic", "umbilical_cord"
    form["preparation"], form["minimally_manipulated"] = "culture_expanded_msc", False
    form["regulatory_status"] = "Clinical trial (EudraCT)"
    assert submit(form).status_int == 302
    product = db.scalar(select(CellProduct).where(CellProduct.name == "AlloCell-K"))
    assert product is not None
    assert product.origin == "allogeneic"

    form = form_with(browser.get("/lots/new"), "lot_number")
    form["product_id"], form["lot_number"] = str(product.id), "AC-2026-01"
    form["site_id"], form["donor_code"] = str(site_a.id), "DNR-0042"
    form["collection_date"], form["expiry_date"] = "2026-01-10", "2027-01-10"
    form["viability_percent"], form["cell_count_million"] = "93.5", "50"
    for name, value in (("cd73_percent", "99"), ("cd90_percent", "98"),
                        ("cd105_percent", "97"), ("cd45_percent", "0.5"),
                        ("cd34_percent", "0.4"), ("cd14_cd11b_percent", "1"),
                        ("cd79a_cd19_percent", "0.2"), ("hla_dr_percent", "1.5")):
        form[name] = value
    form["status"] = "released"
    saved = submit(form)
    assert saved.status_int == 302, saved.text[:800]
    page = saved.follow()
    assert "AC-2026-01" in page.text
    assert "DNR-0042" not in page.text
    lot = db.scalar(select(ProductLot).where(ProductLot.lot_number == "AC-2026-01"))
    assert lot.isct_criteria_met is True
    assert lot.donor_code == "DNR-0042"
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "product_lot")) > 0


def test_bad_lot_input_is_refused_naming_the_field(browser, db, make_user, site_a):
    admin = make_user("admin", sites=[site_a])
    sign_in(browser, admin.email)
    form = form_with(browser.get("/lots/products/new"), "tissue_source")
    form["name"], form["origin"] = "BMAC kit", "autologous"
    form["tissue_source"], form["preparation"] = "bone_marrow", "bmac"
    assert submit(form).status_int == 302
    product = db.scalar(select(CellProduct).where(CellProduct.name == "BMAC kit"))
    before = count(db, ProductLot)
    cases = (
        ({"viability_percent": "140"}, "Viability must be between 0 and 100"),
        ({"donor_code": "D-1"}, "A donor code belongs only to a lot of an allogeneic product."),
        ({"status": "quarantined"}, "Say why the lot is not released."),
        ({"collection_date": "2026-03-01", "processing_date": "2026-02-01"},
         "The processing date is before the collection date."),
        ({"patient_study_id": "NOPE-1"}, "No patient has the study ID NOPE-1."),
        ({"cd73_percent": "nan"}, "must be between 0 and 100"),
    )
    for values, message in cases:
        form = form_with(browser.get("/lots/new"), "lot_number")
        form["product_id"], form["lot_number"], form["status"] = str(product.id), "B-1", \
            "released"
        for name, value in values.items():
            form[name] = value
        response = submit(form)
        assert response.status_int == 422, (values, response.status_int)
        assert message in response.text, (values, message)
        assert count(db, ProductLot) == before  # nothing half-saved
    form = form_with(browser.get("/lots/new"), "lot_number")
    form["product_id"], form["lot_number"], form["status"] = str(product.id), "B-1", "released"
    assert submit(form).status_int == 302
    form = form_with(browser.get("/lots/new"), "lot_number")
    form["product_id"], form["lot_number"], form["status"] = str(product.id), "B-1", "released"
    duplicate = submit(form)
    assert duplicate.status_int == 422
    assert "Lot B-1 of BMAC kit is already registered." in duplicate.text


def test_a_product_change_needs_a_reason_and_keeps_the_version(browser, db, make_user,
                                                               site_a):
    admin = make_user("admin", sites=[site_a])
    sign_in(browser, admin.email)
    form = form_with(browser.get("/lots/products/new"), "tissue_source")
    form["name"], form["origin"] = "Lipo-SVF", "autologous"
    form["tissue_source"], form["preparation"] = "adipose", "svf"
    assert submit(form).status_int == 302
    product = db.scalar(select(CellProduct).where(CellProduct.name == "Lipo-SVF"))
    page = browser.get(f"/lots/products/{product.id}")
    form = form_with(page, "tissue_source")
    form["manufacturer"] = "Own lab"
    refused = submit(form)
    assert refused.status_int == 422
    assert "Say why the product" in refused.text
    form = form_with(browser.get(f"/lots/products/{product.id}"), "tissue_source")
    stale = form_with(browser.get(f"/lots/products/{product.id}"), "tissue_source")
    form["manufacturer"], form["reason"] = "Own lab", "manufacturer was missing"
    assert submit(form).status_int == 302
    stale["manufacturer"], stale["reason"] = "Someone else", "late edit"
    assert submit(stale).status_int == 409
    db.expire_all()
    assert db.get(CellProduct, product.id).manufacturer == "Own lab"


def test_only_admins_keep_the_catalogue(browser, make_user, site_a):
    clinician = make_user("clinician", sites=[site_a])
    sign_in(browser, clinician.email)
    assert browser.get("/lots/").status_int == 200
    for path in ("/lots/products/new", "/lots/new"):
        assert browser.get(path, expect_errors=True).status_int == 403

"""Text packs in the registry: which instruments a patient can answer in a language, the
admin page (upload as rendered, CSRF on), the ``registry text-pack`` commands, and the
languages of patients and sites.  Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from datetime import date
from html import unescape
from typing import Any

import pytest
from sqlalchemy import func, select

from registry import textpacks
from registry.models import AuditEvent, Patient, Site
from registry.models import TextPack as TextPackRow
from registry.services import ValidationFailed
from scoring.textpacks import PackError, demo_pack, pack_data
from tests.clinical.browser import fill, open_form
from tests.clinical.helpers import enrol_data
from tests.fixtures.webtest import sign_in, submit, webtest

VISIT = ["vas", "pga", "womac", "koos", "koos_ps", "grc"]


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": True, "TODAY": "2026-06-01"}


def koos_es() -> dict[str, Any]:
    return copy.deepcopy(pack_data(demo_pack("koos", "es")))


def licensed_koos_es() -> dict[str, Any]:
    """A pack as a licensee would load it (not demo; the words here are placeholders)."""
    data = koos_es()
    data.update(demo=False, title="KOOS (versión de prueba)", source="Licence 2026-17, v2.0")
    return data


def pack_count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(TextPackRow)) or 0


# --- the registry's view of packs -----------------------------------------------------


def test_own_wording_is_offered_without_any_loaded_pack(db):
    assert textpacks.self_reportable(db, VISIT, "es") == ["vas", "pga", "grc"]
    assert textpacks.pack_for(db, "vas", "es").items["VAS"].anchors[0] == "Sin dolor"
    assert textpacks.pack_for(db, "koos", "es") is None
    missing = textpacks.missing_packs(db)
    assert ("koos", "es") in missing
    assert ("womac", "en") in missing
    assert not {pair for pair in missing if pair[0] in {"vas", "pga", "nrs", "grc"}}


def test_a_loaded_pack_makes_its_instrument_self_reportable(db, make_user):
    admin = make_user("admin")
    row = textpacks.load_pack(db, licensed_koos_es(), source_name="koos.es.json",
                              user_id=admin.id)
    # KOOS-PS is scored from the KOOS answers when KOOS is recorded: never asked twice.
    assert textpacks.self_reportable(db, VISIT, "es") == ["vas", "pga", "koos", "grc"]
    assert textpacks.self_reportable(db, VISIT, "en") == ["vas", "pga", "grc"]
    assert textpacks.self_reportable(db, ["koos_ps"], "es") == []
    pack = textpacks.pack_for(db, "koos", "es")
    assert pack is not None
    assert pack.source == "Licence 2026-17, v2.0"
    assert not pack.demo
    statuses = {(s.instrument, s.language): s for s in textpacks.pack_statuses(db)}
    assert statuses["koos", "es"].state == "loaded"
    assert statuses["koos", "es"].loaded_by == admin.email
    assert statuses["vas", "en"].state == "shipped"
    assert ("koos", "es") not in textpacks.missing_packs(db)
    created = db.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "text_pack", AuditEvent.entity_id == str(row.id)))
    assert "create" in set(created)


def test_loading_again_replaces_the_pack_and_the_audit_trail_keeps_the_old(db):
    first = textpacks.load_pack(db, koos_es(), source_name="demo", user_id=None)
    second = textpacks.load_pack(db, licensed_koos_es(), source_name="licensed.json",
                                 user_id=None)
    assert first.id == second.id
    assert pack_count(db) == 1
    assert not textpacks.pack_for(db, "koos", "es").demo
    changed = set(db.scalars(select(AuditEvent.field).where(
        AuditEvent.entity_type == "text_pack", AuditEvent.action == "update")))
    assert {"content.title", "content.source", "source_name", "demo"} <= changed


def test_a_stored_pack_that_no_longer_fits_the_catalogue_is_not_offered(db):
    row = textpacks.load_pack(db, koos_es(), source_name="demo", user_id=None)
    broken = copy.deepcopy(row.content)
    del broken["items"]["P5"]  # as if the catalogue had gained an item since
    row.content = broken
    db.flush()
    assert textpacks.pack_for(db, "koos", "es") is None
    assert textpacks.self_reportable(db, ["koos"], "es") == []
    state = {(s.instrument, s.language): s.state for s in textpacks.pack_statuses(db)}
    assert state["koos", "es"] == "invalid"
    assert ("koos", "es") in textpacks.missing_packs(db)


def test_an_invalid_pack_is_refused_and_nothing_is_saved(db):
    data = koos_es()
    data["items"]["P1"]["choices"].pop("4")
    with pytest.raises(PackError) as caught:
        textpacks.load_pack(db, data, source_name="bad.json", user_id=None)
    assert caught.value.problems == ["items.P1.choices: codes 0..4 expected, got 0..3"]
    assert pack_count(db) == 0


def test_a_pack_for_shipped_wording_is_refused(db):
    data = pack_data(demo_pack("vas", "es"))
    with pytest.raises(ValidationFailed, match="ships its own wording of vas in es"):
        textpacks.load_pack(db, data, source_name="vas.json", user_id=None)
    assert pack_count(db) == 0


def test_demo_packs_cover_every_instrument_without_own_wording(db):
    rows = textpacks.load_demo_packs(db)
    assert sorted((row.instrument, row.language) for row in rows) == sorted(
        (code, language) for code in ("womac", "koos", "koos_ps") for language in ("en", "es"))
    assert textpacks.missing_packs(db) == []
    assert textpacks.self_reportable(db, VISIT, "es") == ["vas", "pga", "womac", "koos", "grc"]
    assert all(s.state in {"shipped", "demo"} for s in textpacks.pack_statuses(db))


# --- the admin page, as rendered ------------------------------------------------------


@pytest.fixture
def admin_browser(browser, make_user):
    sign_in(browser, make_user("admin").email)
    return browser


def upload(browser, name: str, content: bytes) -> webtest.TestResponse:
    form = open_form(browser, "/admin/text-packs", field="pack_file")
    form["pack_file"] = webtest.Upload(name, content, "application/json")
    return submit(form)


def test_the_admin_page_lists_every_instrument_and_language(admin_browser):
    page = admin_browser.get("/admin/text-packs", status=200)
    text = unescape(page.text)
    assert "KOOS" in text
    assert "Español (es)" in text
    assert "shipped (registry wording)" in text
    assert "missing — not offered for self-report" in text
    assert 'enctype="multipart/form-data"' in page.text


def test_a_valid_pack_uploaded_as_rendered_is_loaded(admin_browser, db):
    response = upload(admin_browser, "koos.es.json", json.dumps(licensed_koos_es()).encode())
    assert response.status_int == 302, unescape(response.text)[:1500]
    page = response.follow()
    assert "Text pack koos (es) loaded from koos.es.json." in unescape(page.text)
    assert pack_count(db) == 1
    assert textpacks.pack_for(db, "koos", "es").source == "Licence 2026-17, v2.0"


@pytest.mark.parametrize(("content", "messages"), [
    (lambda: (lambda d: (d["items"].pop("P5"), d["items"]["P1"]["choices"].pop("4"),
                         d.update(language="fr"), d)[-1])(koos_es()),
     ["language: 'fr' is not one of en, es", "items.P1.choices: codes 0..4 expected, got 0..3",
      "items.P5: missing"]),
    (lambda: b"{not json", ["The file is not valid JSON (line 1, column 2"]),
    (lambda: "é".encode("latin-1"), ["The file is not UTF-8 text."]),
    (lambda: pack_data(demo_pack("vas", "en")), ["ships its own wording of vas in en"]),
], ids=["problems by place", "not JSON", "not UTF-8", "shipped wording"])
def test_a_bad_file_is_refused_with_its_problems_and_nothing_saved(admin_browser, db, content,
                                                                   messages):
    data = content()
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    response = upload(admin_browser, "pack.json", body)
    assert response.status_int == 422
    text = unescape(response.text)
    for message in messages:
        assert message in text
    assert pack_count(db) == 0


def test_no_file_chosen_is_refused(admin_browser, db):
    form = open_form(admin_browser, "/admin/text-packs", field="pack_file")
    response = submit(form)
    assert response.status_int == 422
    assert "Choose a text pack file." in response.text
    assert pack_count(db) == 0


def test_a_file_in_another_field_is_refused(admin_browser, db):
    form = open_form(admin_browser, "/admin/text-packs", field="pack_file")
    response = admin_browser.post(
        "/admin/text-packs", params={"csrf_token": form["csrf_token"].value},
        upload_files=[("pack_file", "koos.json", json.dumps(koos_es()).encode()),
                      ("submit", "x.json", b"{}")], expect_errors=True)
    assert response.status_int == 400
    assert pack_count(db) == 0


# --- commands ------------------------------------------------------------------------


def test_cli_loads_lists_and_loads_the_demo_packs(runner, db, tmp_path):
    good = tmp_path / "koos.es.json"
    good.write_text(json.dumps(licensed_koos_es()), encoding="utf-8")
    result = runner.invoke(args=["text-pack", "load", str(good)])
    assert result.exit_code == 0, result.output
    assert "Loaded koos (es) from koos.es.json." in result.output
    listing = runner.invoke(args=["text-pack", "list"]).output
    assert "koos     es  loaded — koos.es.json" in listing
    assert "vas      en  shipped (registry wording)" in listing
    assert "womac    es  missing — not offered for self-report" in listing
    demo = runner.invoke(args=["text-pack", "demo"])
    assert demo.exit_code == 0, demo.output
    assert "Loaded 6 demo packs" in demo.output
    assert "koos     es  demo wording" in runner.invoke(args=["text-pack", "list"]).output


def test_cli_refuses_a_bad_file_and_loads_none_of_the_batch(runner, db, tmp_path):
    good = tmp_path / "koos.es.json"
    good.write_text(json.dumps(koos_es()), encoding="utf-8")
    bad = tmp_path / "womac.en.json"
    data = pack_data(demo_pack("womac", "en"))
    data["items"]["F3"]["text"] = "<script>alert(1)</script>"
    bad.write_text(json.dumps(data), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("[1,", encoding="utf-8")
    result = runner.invoke(args=["text-pack", "load", str(good), str(bad)])
    assert result.exit_code == 1
    assert "womac.en.json: not loaded; nothing was saved." in result.output
    assert "items.F3.text: contains HTML markup; plain text only" in result.output
    result = runner.invoke(args=["text-pack", "load", str(broken)])
    assert result.exit_code == 1
    assert "broken.json: not valid JSON" in result.output
    assert pack_count(db) == 0


# --- languages of patients and sites ---------------------------------------------------


def enrol(browser, site_id: int, **values):
    form = open_form(browser, "/patients/new", field="family_name")
    return submit(fill(form, enrol_data(site_id, **values)))


def test_enrolment_records_the_patients_language(browser, db, make_user, site_a):
    sign_in(browser, make_user("clinician", sites=[site_a]).email)
    form = open_form(browser, "/patients/new", field="language")
    assert [value for value, _selected, _text in form["language"].options] == ["", "en", "es"]
    assert form["language"].value == ""  # the site's language unless chosen
    assert enrol(browser, site_a.id, language="es").status_int == 302
    assert enrol(browser, site_a.id, medical_record_number="MRN-2",
                 given_name="Another").status_int == 302  # another person: no duplicate
    db.expire_all()
    assert list(db.scalars(select(Patient.language).order_by(Patient.id))) == ["es", None]


def test_enrolment_refuses_an_unknown_language(browser, db, make_user, site_a):
    sign_in(browser, make_user("clinician", sites=[site_a]).email)
    response = enrol(browser, site_a.id, language="fr")
    assert response.status_int == 422
    assert db.scalar(select(func.count()).select_from(Patient)) == 0


def test_the_service_refuses_an_unknown_language(db, site_a):
    from registry.clinical.services.enrolment import EnrolmentData, enrol_patient

    data = EnrolmentData(
        site_id=site_a.id, family_name="A", given_name="B", medical_record_number="M1",
        phone=None, email=None, preferred_contact="phone", email_reminders=False,
        sex="female", birth_date=date(1960, 1, 1), height_cm=None, weight_kg=None,
        laterality="left", kl_grade=2, eligibility={}, outside_indication_justification=None,
        consent_date=date(2026, 1, 1), created_by_id=None, language="de")
    with pytest.raises(ValidationFailed) as caught:
        enrol_patient(db, data)
    assert "language" in caught.value.errors


def test_the_admin_sets_a_sites_language(admin_browser, db, site_a):
    form = open_form(admin_browser, f"/admin/sites/{site_a.id}", field="language")
    assert form["language"].value == "en"
    form["language"] = "es"
    response = submit(form)
    assert response.status_int == 302, unescape(response.text)[:1000]
    db.expire_all()
    assert db.get(Site, site_a.id).language == "es"
    form = open_form(admin_browser, "/admin/sites", field="code")
    fill(form, {"code": "MAD", "name": "Clínica Madrid", "language": "es"})
    assert submit(form).status_int == 302
    assert db.scalar(select(Site.language).where(Site.code == "MAD")) == "es"
    form = open_form(admin_browser, f"/admin/sites/{site_a.id}", field="language")
    fill(form, {"language": "xx"})
    assert submit(form).status_int == 422

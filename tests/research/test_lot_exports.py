"""Products, lots and comparator treatments in cohorts, exports, the dictionary and the
summary (issue 20): two catalogue products and a hyaluronic-acid comparator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import pytest

from registry import audit_capture as capture
from registry.lots.services import cell_source_of, change_status, register_lot, save_product
from registry.models import Patient
from registry.research import cohorts
from registry.research.summary import summarise
from registry.services import ValidationFailed
from registry.vocabularies import (
    ANAESTHESIA,
    DELIVERY_SITES,
    IMAGE_GUIDANCE,
    LOT_STATUSES,
    PREPARATIONS,
    PRODUCT_ORIGINS,
    TISSUE_SOURCES,
    TREATMENT_TYPES,
)
from tests.research.conftest import TREATED
from tests.research.helpers import export, open_export, read_stat

DONOR_CODE = "DNR-QX-40917"
LOT_A, LOT_B = "MCB-77341", "ALS-55802"
PRODUCT_A, PRODUCT_B = "Marrowcell BMAC", "Allostem MSC"
NEW_COLUMNS = ["treatment_type", "product", "product_origin", "tissue_source", "preparation",
               "minimally_manipulated", "lot_pid", "lot_release_status", "lot_expiry_day",
               "lot_viability_percent", "lot_cell_count_million", "lot_isct_criteria_met",
               "injection_interval_days", "delivery_site", "image_guidance", "volume_ml",
               "anaesthesia"]
CODED = {"treatment_type": TREATMENT_TYPES, "product_origin": PRODUCT_ORIGINS,
         "tissue_source": TISSUE_SOURCES, "preparation": PREPARATIONS,
         "lot_release_status": LOT_STATUSES, "delivery_site": DELIVERY_SITES,
         "image_guidance": IMAGE_GUIDANCE, "anaesthesia": ANAESTHESIA}
PASSING = {"cd73_percent": 98.0, "cd90_percent": 99.0, "cd105_percent": 97.5,
           "cd45_percent": 0.5, "cd34_percent": 1.0, "cd14_cd11b_percent": 0.4,
           "cd79a_cd19_percent": 0.2, "hla_dr_percent": 1.5}


@dataclass
class Treated:
    bmac: Patient  # product A, lot A (autologous, that patient's), ISCT criteria met
    allogeneic: Patient  # product B, lot B (donor code), recalled after use, CD73 too low
    hyaluronic: Patient  # the comparator: no product, no lot


@pytest.fixture
def treated(db, cohort_data) -> Treated:
    """The test cohort (conftest) treated with two products and a hyaluronic-acid
    comparator."""
    bmac, allogeneic, hyaluronic = cohort_data.patients
    today = TREATED - timedelta(days=3)  # the lots are registered before the treatments
    capture.set_actor(db, None, "test")
    product_a = save_product(db, {"name": PRODUCT_A, "manufacturer": "Clinic lab",
                                  "origin": "autologous", "tissue_source": "bone_marrow",
                                  "preparation": "bmac", "minimally_manipulated": True})
    product_b = save_product(db, {"name": PRODUCT_B, "manufacturer": "Cellfab",
                                  "origin": "allogeneic", "tissue_source": "umbilical_cord",
                                  "preparation": "culture_expanded_msc",
                                  "minimally_manipulated": False})
    lot_a = register_lot(db, {"product_id": product_a.id, "lot_number": LOT_A,
                              "patient_id": bmac.id, "status": "released",
                              "collection_date": today, "expiry_date": TREATED
                              + timedelta(days=30), "cell_count_million": 42.5,
                              "viability_percent": 93.5, **PASSING}, today)
    lot_b = register_lot(db, {"product_id": product_b.id, "lot_number": LOT_B,
                              "donor_code": DONOR_CODE, "status": "released",
                              "cell_count_million": 100.0, "viability_percent": 88.0,
                              **PASSING, "cd73_percent": 80.0}, today)
    with capture.reason(db, "test: treated with the lots and a comparator"):
        for patient, lot in ((bmac, lot_a), (allogeneic, lot_b)):
            treatment = patient.treatment
            treatment.lot_id = lot.id
            treatment.product_name = lot.product.name
            treatment.lot_number = lot.lot_number
            treatment.cell_source = cell_source_of(lot.product)
        bmac.treatment.delivery_site = "intra_articular"
        bmac.treatment.image_guidance = "ultrasound"
        bmac.treatment.volume_ml = 4.5
        bmac.treatment.anaesthesia = "local"
        allogeneic.treatment.injections = 2
        allogeneic.treatment.injection_interval_days = 14
        allogeneic.treatment.delivery_site = "intra_articular_subchondral"
        allogeneic.treatment.image_guidance = "fluoroscopy"
        comparator = hyaluronic.treatment
        comparator.treatment_type = "hyaluronic_acid"
        comparator.cell_source = comparator.product_name = comparator.lot_number = None
        comparator.cell_dose_million = None
        comparator.injections = 3
        comparator.injection_interval_days = 7
        comparator.delivery_site = "intra_articular"
        comparator.image_guidance = "none"
        comparator.volume_ml = 2.0
        comparator.anaesthesia = "none"
        db.flush()
    change_status(db, lot_b, "recalled", "Sterility failure reported by Cellfab", TREATED)
    return Treated(bmac, allogeneic, hyaluronic)


def _patients(response) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The table with one row per patient (long: ``patients``; wide: ``outcomes_wide``),
    the dictionary, and the table's name."""
    assert response.status_code == 200, response.data[:500]
    tables, _manifest, _raw = open_export(response.data, "csv")
    name = "patients" if "patients" in tables else "outcomes_wide"
    return tables[name], tables["data_dictionary"], name


@pytest.mark.parametrize("shape", ["long", "wide"])
def test_csv_export_has_product_lot_and_delivery_columns(auth, client, treated, shape):
    auth.login("researcher")
    patients, dictionary, table = _patients(export(client, format="csv", shape=shape))
    assert set(NEW_COLUMNS) <= set(patients.columns)
    assert {"cell_source", "product", "cell_dose_million", "injections"} <= set(patients.columns)
    rows = patients.set_index("treatment_type", drop=False)
    assert sorted(patients["treatment_type"]) == ["cell_therapy", "cell_therapy",
                                                 "hyaluronic_acid"]
    by_product = patients.set_index(patients["product"].fillna("(none)"))
    a, b, ha = (by_product.loc[PRODUCT_A], by_product.loc[PRODUCT_B],
                by_product.loc["(none)"])
    assert (a["product_origin"], a["tissue_source"], a["preparation"],
            a["minimally_manipulated"]) == ("autologous", "bone_marrow", "bmac", 1)
    assert (b["product_origin"], b["tissue_source"], b["preparation"],
            b["minimally_manipulated"]) == ("allogeneic", "umbilical_cord",
                                            "culture_expanded_msc", 0)
    assert (a["lot_release_status"], b["lot_release_status"]) == ("released", "recalled")
    assert a["lot_expiry_day"] == 30
    assert pd.isna(b["lot_expiry_day"])
    assert (a["lot_viability_percent"], a["lot_cell_count_million"]) == (93.5, 42.5)
    assert (b["lot_viability_percent"], b["lot_cell_count_million"]) == (88.0, 100.0)
    assert (a["lot_isct_criteria_met"], b["lot_isct_criteria_met"]) == (1, 0)
    assert a["cell_source"] == "bmac"
    assert b["cell_source"] == "allogeneic"
    assert (a["delivery_site"], a["image_guidance"], a["volume_ml"], a["anaesthesia"]) == (
        "intra_articular", "ultrasound", 4.5, "local")
    assert (b["injections"], b["injection_interval_days"], b["delivery_site"]) == (
        2, 14, "intra_articular_subchondral")
    # The comparator: its type and delivery, no product, no lot.
    assert rows.loc["hyaluronic_acid", "injections"] == 3
    assert (ha["injection_interval_days"], ha["image_guidance"], ha["anaesthesia"]) == (
        7, "none", "none")
    for column in ("product_origin", "tissue_source", "preparation", "minimally_manipulated",
                   "lot_pid", "lot_release_status", "lot_expiry_day", "lot_viability_percent",
                   "lot_cell_count_million", "lot_isct_criteria_met", "cell_source",
                   "cell_dose_million"):
        assert pd.isna(ha[column]), column
    # Lots as pseudonyms: one per lot, never the lot number.
    assert a["lot_pid"].startswith("L-")
    assert len(a["lot_pid"]) == 14
    assert a["lot_pid"] != b["lot_pid"]
    described = dictionary[dictionary["table"] == table].set_index("column")
    assert set(NEW_COLUMNS) <= set(described.index)
    assert "cell_therapy = Cell therapy" in described.loc["treatment_type", "values"]
    assert "recalled = Recalled" in described.loc["lot_release_status", "values"]
    assert described.loc["lot_expiry_day", "unit"] == "days"


@pytest.mark.parametrize("fmt", ["csv", "dta"])
def test_no_donor_code_lot_number_or_lot_patient_link_in_an_export(auth, client, treated,
                                                                   fmt):
    auth.login("admin")
    response = export(client, format=fmt, shape="long", adverse_events="1", items="1")
    assert response.status_code == 200
    tables, _manifest, raw = open_export(response.data, fmt)
    for name, content in raw.items():
        for value in (DONOR_CODE, LOT_A, LOT_B):
            assert value.encode() not in content, (name, value)
            assert value.encode("utf-16-le") not in content, (name, value)
    for name, frame in tables.items():
        for column in frame.columns:
            assert "donor" not in str(column).lower(), (name, column)
            cells = [str(cell) for cell in frame[column].tolist()]
            assert not any(DONOR_CODE in cell for cell in cells), (name, column)
    assert "lot_patient" not in tables["patients"].columns


def test_stata_export_has_the_columns_with_value_labels(auth, client, treated):
    auth.login("researcher")
    response = export(client, format="dta", shape="long")
    assert response.status_code == 200
    tables, _manifest, raw = open_export(response.data, "dta")
    patients = tables["patients"]
    assert set(NEW_COLUMNS) <= set(patients.columns)
    assert sorted(patients["treatment_type"]) == ["cell_therapy", "cell_therapy",
                                                 "hyaluronic_acid"]
    assert sorted(p for p in patients["product"] if isinstance(p, str) and p) == [
        PRODUCT_B, PRODUCT_A]
    frame, meta = read_stat(raw["patients.dta"], "dta")
    dictionary = tables["data_dictionary"]
    names = dict(zip(dictionary[dictionary["table"] == "patients"]["column"],
                     dictionary[dictionary["table"] == "patients"]["stata_name"], strict=True))
    for column, vocabulary in CODED.items():
        labels = meta.variable_value_labels[names[column]]
        assert set(labels.values()) == set(vocabulary.values()), column
    for column in ("minimally_manipulated", "lot_isct_criteria_met"):
        assert set(meta.variable_value_labels[names[column]].values()) == {"No", "Yes"}
    treatment_labels = meta.variable_value_labels[names["treatment_type"]]
    shown = sorted(treatment_labels[int(code)] for code in frame[names["treatment_type"]])
    assert shown == ["Cell therapy", "Cell therapy", "Hyaluronic acid injection"]
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels[names["lot_isct_criteria_met"]] == "Lot meets the ISCT minimal criteria"
    assert labels[names["delivery_site"]] == "Site of delivery"


def test_the_dictionary_lists_the_new_variables(runner, db, tmp_path):
    target = tmp_path / "dictionary.csv"
    result = runner.invoke(args=["dictionary", "--format", "csv", "-o", str(target)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(target)
    patients = frame[frame["table"] == "patients"].set_index("column")
    assert set(NEW_COLUMNS) <= set(patients.index)
    assert "hyaluronic_acid = Hyaluronic acid injection" in patients.loc["treatment_type",
                                                                        "values"]
    assert "ultrasound = Ultrasound" in patients.loc["image_guidance", "values"]
    assert patients.loc["volume_ml", "unit"] == "mL"
    assert "Dominici" in patients.loc["lot_isct_criteria_met", "source"]
    assert not any("donor" in str(value).lower() for value in patients.index)
    redcap = tmp_path / "redcap.csv"
    result = runner.invoke(args=["dictionary", "--format", "redcap", "-o", str(redcap)])
    assert result.exit_code == 0, result.output
    fields = pd.read_csv(redcap, dtype=str, keep_default_na=False).set_index(
        "Variable / Field Name")
    for column in NEW_COLUMNS:
        assert fields.loc[column, "Form Name"] == "treatment", column
    assert fields.loc["treatment_type", "Field Type"] == "dropdown"
    assert "hyaluronic_acid, Hyaluronic acid injection" in fields.loc[
        "treatment_type", "Choices, Calculations, OR Slider Labels"]
    assert fields.loc["lot_isct_criteria_met", "Field Type"] == "yesno"
    assert fields.loc["anaesthesia", "Field Type"] == "dropdown"


def _members(db, definition) -> set[int]:
    return set(db.scalars(cohorts.cohort_select(db, definition)))


def test_cohort_filters_by_treatment_type_and_product(app, db, treated, make_patient, site_b):
    recorded = make_patient(site_b, treatment_date=TREATED)  # "Demo BMAC", no lot
    a, b, ha = (treated.bmac.id, treated.allogeneic.id, treated.hyaluronic.id)
    with app.test_request_context():
        choices = cohorts.filter_choices(db)
        assert dict(choices["treatment_type"])["hyaluronic_acid"] == "Hyaluronic acid injection"
        assert [code for code, _label in choices["product"]] == [PRODUCT_B, "Demo BMAC",
                                                                 PRODUCT_A]
        definition = cohorts.parse_definition(db, {"treatment_type": ["hyaluronic_acid"]})
        assert _members(db, definition) == {ha}
        assert _members(db, {"treatment_type": ["cell_therapy"]}) == {a, b, recorded.id}
        assert _members(db, {"product": [PRODUCT_B]}) == {b}
        assert _members(db, {"product": [PRODUCT_A, PRODUCT_B]}) == {a, b}
        # A treatment recorded without a lot keeps its product name as recorded.
        assert _members(db, {"product": ["Demo BMAC"]}) == {recorded.id}
        assert _members(db, {"product": [PRODUCT_A], "treatment_type": ["hyaluronic_acid"]}) \
            == set()
        assert cohorts.describe({"treatment_type": ["hyaluronic_acid", "prp"]}) == [
            "Treatment type: Hyaluronic acid injection, Platelet-rich plasma injection"]
        with pytest.raises(ValidationFailed):
            cohorts.parse_definition(db, {"treatment_type": ["homeopathy"]})


def test_the_builder_counts_by_treatment_type_and_product(auth, client, treated):
    auth.login("admin")  # exact counts
    page = client.get("/research/")
    assert b'name="treatment_type"' in page.data
    assert PRODUCT_A.encode() in page.data
    counted = client.get("/research/count?treatment_type=hyaluronic_acid")
    assert counted.status_code == 200
    assert counted.json["count"] == 1
    counted = client.get("/research/count", query_string=[("product", PRODUCT_A),
                                                          ("product", PRODUCT_B)])
    assert counted.json["count"] == 2


def test_summary_grouped_by_treatment_type_and_by_product(app, db, treated):
    with app.test_request_context():
        by_type = summarise(db, {}, score="vas_pain", group_by="treatment_type")
        by_product = summarise(db, {}, score="vas_pain", group_by="product")
    assert by_type.groups == ["Cell therapy", "Hyaluronic acid injection"]
    assert by_type.group_sizes == {"Cell therapy": 2, "Hyaluronic acid injection": 1}
    baseline = {row.group: (row.value.n, row.value.mean) for row in by_type.scores
                if row.timepoint == "baseline"}
    assert baseline == {"Cell therapy": (2, 60), "Hyaluronic acid injection": (1, 80)}
    # Products are compared with each other and with the comparator.
    assert by_product.group_sizes == {PRODUCT_B: 1, "Hyaluronic acid injection": 1,
                                      PRODUCT_A: 1}
    events = {(row["group"], row["grade"]): row["events"] for row in by_product.adverse_events}
    assert events[(PRODUCT_A, "3 — severe")] == 1
    assert events[(PRODUCT_B, "1 — mild")] == 1


def test_summary_page_shows_the_groups_with_their_n(auth, client, treated):
    auth.login("admin")  # exact counts (a researcher's are suppressed below 5)
    page = client.get("/research/cohorts/all/summary?score=vas_pain&group=treatment_type")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'value="treatment_type" selected' in text
    assert "Patients per group" in text
    assert '<tr><td>Cell therapy</td><td class="num" data-group-size>2</td></tr>' in text
    assert ('<tr><td>Hyaluronic acid injection</td><td class="num" data-group-size>1</td>'
            '</tr>') in text
    by_product = client.get("/research/cohorts/all/summary?score=vas_pain&group=product")
    assert by_product.status_code == 200
    assert f'<tr><td>{PRODUCT_A}</td><td class="num" data-group-size>1</td></tr>' in \
        by_product.get_data(as_text=True)
    chart = client.get("/research/cohorts/all/charts/change.svg?score=vas_pain"
                       "&group=treatment_type")
    assert chart.status_code == 200
    assert chart.mimetype == "image/svg+xml"


def test_lot_pseudonyms_are_stable_within_a_project(auth, client, treated):
    auth.login("researcher")

    def lot_pids(**form) -> list[str]:
        patients, _dictionary, _table = _patients(export(client, **form))
        return sorted(patients["lot_pid"].dropna())

    assert lot_pids() != lot_pids()  # a new key per export
    assert lot_pids(pseudonyms="project", project="Knee 2026") == \
        lot_pids(pseudonyms="project", project="Knee 2026")


"""`registry export --format odm`: a CDISC ODM 1.3.2 snapshot of a de-identified export.

The file is validated against the ODM 1.3.2 schema shipped in ``odm_schema/`` (lxml), its
references are checked the way an ODM importer resolves them (every OID defined, every
value in its code list and range), and its data are compared with the CSV export of the
same cohort: same pseudonyms, same scores, same answers, nothing identifying.
"""

from __future__ import annotations

import hashlib
import json
import re
import traceback
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from sqlalchemy import select

import scoring
from registry import audit_capture as capture
from registry.clinical.services.visits import add_unscheduled_visit
from registry.models import AuditEvent
from registry.services import ValidationFailed
from tests.research.conftest import TREATED, answers
from tests.research.helpers import open_export

SCHEMA = Path(__file__).parent / "odm_schema" / "ODM1-3-2.xsd"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


@pytest.fixture
def odm_cohort(db, cohort_data, record_visit):
    """The research cohort plus a done unscheduled visit with VAS and KOOS answers, and a
    product name full of XML's special characters."""
    patient = cohort_data.patients[1]
    extra = add_unscheduled_visit(db, patient)
    record_visit(extra, TREATED + timedelta(days=50),
                 {"vas": {"VAS": 40}, "koos": answers(0, 0, 1, 0)["koos"]})
    with capture.reason(db, "test set-up"):
        patient.treatment.product_name = 'BMAC <"lot" & \'batch\'> \x01 =1+1'
    db.flush()
    return cohort_data


def run_export(runner, target: Path, *extra: str) -> str:
    result = runner.invoke(args=["export", "--all", "--format", "odm", *extra,
                                 "-o", str(target)])
    assert result.exit_code == 0, (result.output, result.exc_info and "".join(
        traceback.format_exception(*result.exc_info)))
    return result.output


def parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path))


def test_odm_validates_against_the_1_3_2_schema(runner, odm_cohort, tmp_path, schema):
    target = tmp_path / "export.xml"
    run_export(runner, target, "--items", "--adverse-events")
    document = parse(target)
    schema.assertValid(document)
    root = document.getroot()
    assert root.get("FileType") == "Snapshot"
    assert root.get("ODMVersion") == "1.3.2"
    version = root.find("odm:Study/odm:MetaDataVersion", NS)
    assert version is not None
    assert version.find("odm:Protocol", NS) is not None
    events = [e.get("OID") for e in version.findall("odm:StudyEventDef", NS)]
    assert events == ["SE.REGISTRY", "SE.TP.baseline", "SE.TP.w2_6", "SE.TP.m3",
                      "SE.TP.m6_12", "SE.UNSCHEDULED"]
    forms = {f.get("OID") for f in version.findall("odm:FormDef", NS)}
    assert {f"F.{code.upper()}" for code in scoring.INSTRUMENTS} <= forms
    assert {"F.PATIENT", "F.INDEX_KNEE", "F.TREATMENT", "F.VISIT", "F.ADVERSE_EVENT"} <= forms


def definitions(version: etree._Element) -> dict[str, dict[str, etree._Element]]:
    return {kind: {element.get("OID"): element
                   for element in version.findall(f"odm:{kind}", NS)}
            for kind in ("StudyEventDef", "FormDef", "ItemGroupDef", "ItemDef", "CodeList")}


def test_every_reference_resolves_and_every_value_fits(runner, odm_cohort, tmp_path):
    target = tmp_path / "export.xml"
    run_export(runner, target, "--items", "--adverse-events")
    root = parse(target).getroot()
    version = root.find("odm:Study/odm:MetaDataVersion", NS)
    defs = definitions(version)
    units = {u.get("OID") for u in root.findall("odm:Study/odm:BasicDefinitions/"
                                                "odm:MeasurementUnit", NS)}
    for item in defs["ItemDef"].values():
        for ref in item.findall("odm:MeasurementUnitRef", NS):
            assert ref.get("MeasurementUnitOID") in units
        ref = item.find("odm:CodeListRef", NS)
        if ref is not None:
            assert ref.get("CodeListOID") in defs["CodeList"]
    clinical = root.find("odm:ClinicalData", NS)
    assert clinical.get("MetaDataVersionOID") == version.get("OID")
    checked = 0
    for event in clinical.iter(f"{{{NS['odm']}}}StudyEventData"):
        event_def = defs["StudyEventDef"][event.get("StudyEventOID")]
        allowed_forms = {r.get("FormOID") for r in event_def.findall("odm:FormRef", NS)}
        for form in event.findall("odm:FormData", NS):
            assert form.get("FormOID") in allowed_forms
            form_def = defs["FormDef"][form.get("FormOID")]
            allowed_groups = {r.get("ItemGroupOID")
                              for r in form_def.findall("odm:ItemGroupRef", NS)}
            for group in form.findall("odm:ItemGroupData", NS):
                assert group.get("ItemGroupOID") in allowed_groups
                group_def = defs["ItemGroupDef"][group.get("ItemGroupOID")]
                allowed_items = {r.get("ItemOID") for r in group_def.findall("odm:ItemRef", NS)}
                for data in group.findall("odm:ItemData", NS):
                    assert data.get("ItemOID") in allowed_items
                    check_value(defs, defs["ItemDef"][data.get("ItemOID")], data)
                    checked += 1
    assert checked > 200


def check_value(defs, item_def, data) -> None:
    value = data.get("Value")
    if data.get("IsNull") == "Yes":
        assert value is None
        return
    kind = item_def.get("DataType")
    if kind == "integer":
        number = int(value)
    elif kind == "float":
        assert re.fullmatch(r"-?\d+(\.\d+)?", value), value  # xs:decimal, no exponent
        number = float(value)
    ref = item_def.find("odm:CodeListRef", NS)
    if ref is not None:
        codes = {c.get("CodedValue")
                 for c in defs["CodeList"][ref.get("CodeListOID")].findall("odm:CodeListItem",
                                                                           NS)}
        assert value in codes, (item_def.get("OID"), value)
    for check in item_def.findall("odm:RangeCheck", NS):
        limit = float(check.find("odm:CheckValue", NS).text)
        assert (number >= limit) if check.get("Comparator") == "GE" else (number <= limit)


def subject_scores(root) -> dict[tuple[str, str, str], float]:
    """(pid, event, score code) -> value of every score ItemData."""
    out = {}
    for subject in root.iter(f"{{{NS['odm']}}}SubjectData"):
        for event in subject.findall("odm:StudyEventData", NS):
            oid = event.get("StudyEventOID")
            if oid.startswith("SE.TP."):
                for data in event.iterfind(".//odm:ItemGroupData/odm:ItemData", NS):
                    code = data.get("ItemOID")[3:].lower()
                    if code in scoring.SCORES and data.get("Value") is not None:
                        out[(subject.get("SubjectKey"), oid[6:], code)] = float(
                            data.get("Value"))
    return out


def test_same_pseudonyms_scores_and_answers_as_the_csv_export(runner, odm_cohort, tmp_path):
    odm_path, csv_path = tmp_path / "export.xml", tmp_path / "export.zip"
    run_export(runner, odm_path, "--items", "--project", "Knee study")
    result = runner.invoke(args=["export", "--all", "--format", "csv", "--items",
                                 "--project", "Knee study", "-o", str(csv_path)])
    assert result.exit_code == 0, result.output
    tables, _manifest, _raw = open_export(csv_path.read_bytes(), "csv")
    root = parse(odm_path).getroot()
    keys = [s.get("SubjectKey") for s in root.iter(f"{{{NS['odm']}}}SubjectData")]
    assert keys == list(tables["patients"]["pid"])
    long = tables["outcomes_long"]
    scored = long[long["value"].notna() & (long["timepoint"] != "unscheduled")]
    expected = {(row.pid, row.timepoint, row.score): row.value for row in scored.itertuples()}
    assert subject_scores(root) == pytest.approx(expected)
    items = tables["items"]
    for row in items.itertuples(index=False):
        event = root.find(f".//odm:SubjectData[@SubjectKey='{row.pid}']/"
                          f"odm:StudyEventData[@StudyEventOID='SE.TP.{row.timepoint}']", NS)
        answers_here = {d.get("ItemOID"): d.get("Value")
                        for d in event.iterfind(".//odm:ItemData", NS)}
        for column, value in row._asdict().items():
            if column in ("pid", "timepoint") or pd.isna(value):
                continue
            assert answers_here[f"IT.{column.upper()}"] == str(int(value)), column


def test_unscheduled_visits_repeat_and_visits_not_done_say_why(runner, odm_cohort, tmp_path):
    target = tmp_path / "export.xml"
    run_export(runner, target)
    root = parse(target).getroot()
    extra = root.findall(".//odm:StudyEventData[@StudyEventOID='SE.UNSCHEDULED']", NS)
    assert [e.get("StudyEventRepeatKey") for e in extra] == ["1"]
    values = {d.get("ItemOID"): d.get("Value") for d in extra[0].iterfind(".//odm:ItemData", NS)}
    assert values["IT.VAS_PAIN"] == "40"
    assert values["IT.VISIT_DAY"] == "50"
    # Patient 2 has a baseline only: the 3-month visit is there, with its status.
    statuses = [d.get("Value") for d in root.iterfind(
        ".//odm:StudyEventData[@StudyEventOID='SE.TP.m3']//odm:ItemData"
        "[@ItemOID='IT.VISIT_STATUS']", NS)]
    assert "done" in statuses or "done_out_of_window" in statuses
    assert set(statuses) - {"done", "done_out_of_window"}


def test_nothing_identifying_and_text_escaped(runner, odm_cohort, tmp_path):
    target = tmp_path / "export.xml"
    run_export(runner, target, "--adverse-events")
    content = target.read_text(encoding="utf-8")
    for identity in odm_cohort.identities:
        for key in ("family_name", "given_name", "mrn", "phone", "email"):
            assert identity[key] not in content, key
        assert identity["birth_date"].isoformat() not in content
    for patient in odm_cohort.patients:
        assert patient.study_id not in content
    # No date but the file's own creation time and the manifest's export time.
    data_part = content[content.index("<ClinicalData"):content.index("</ClinicalData>")]
    assert not re.search(r"\d{4}-\d{2}-\d{2}", data_part)
    product = parse(target).getroot().find(".//odm:ItemData[@ItemOID='IT.PRODUCT']"
                                           "[@Value]", NS)
    values = [d.get("Value") for d in parse(target).getroot().iterfind(
        ".//odm:ItemData[@ItemOID='IT.PRODUCT']", NS)]
    assert 'BMAC <"lot" & \'batch\'> \ufffd =1+1' in values
    assert product is not None


def test_manifest_and_audit_row_as_for_every_export(runner, db, odm_cohort, tmp_path):
    target = tmp_path / "export.xml"
    output = run_export(runner, target, "--shape", "wide")
    content = target.read_text(encoding="utf-8")
    manifest = json.loads(content[content.index("<!-- manifest") + 13:content.rindex("-->")])
    assert manifest["format"] == "odm"
    assert manifest["shape"] == "long"  # ODM is always one event per visit
    assert manifest["odm"]["subjects"] == 3
    assert manifest["odm"]["score_items"] > 0
    db.expire_all()
    row = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    facts = json.loads(row.new_value)
    assert facts["format"] == "odm"
    assert facts["file"].endswith(".xml")
    assert facts["sha256"] in output
    # Taken while the file was written: the file as it lies on disk.
    assert facts["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()


def test_a_value_odm_cannot_hold_is_refused_naming_its_column():
    import pyarrow as pa

    from registry.interop.xmltext import float_strings

    with pytest.raises(ValidationFailed) as error:
        float_strings(pa.array([1.5, float("inf")]), "cell_dose_million")
    assert "cell_dose_million" in str(error.value.errors["format"])
    assert float_strings(pa.array([1e-7, 2.5e21, float("nan")]), "x").to_pylist() == [
        "0.0000001", "2500000000000000000000", None]


def test_the_cohort_page_offers_odm(auth, client, odm_cohort):
    auth.login(role="researcher")
    page = client.get("/research/cohorts/all")
    assert b'value="odm"' in page.data
    response = client.post("/research/cohorts/all/export",
                           data={"format": "odm", "shape": "long"})
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.headers["Content-Disposition"].endswith('.xml"') or \
        ".xml" in response.headers["Content-Disposition"]
    assert etree.fromstring(response.data).tag == f"{{{NS['odm']}}}ODM"


def test_extreme_stored_values_and_a_non_latin_1_cohort_name(auth, client, db, odm_cohort,
                                                             schema):
    from registry.models import Cohort

    first, second = odm_cohort.patients[:2]
    with capture.reason(db, "test set-up"):
        first.treatment.cell_dose_million = 0.01
        second.treatment.cell_dose_million = 10_000.0
        second.treatment.product_name = "Célula ☃ 膝 " + "x" * 180
    cohort = Cohort(name="Когорта Ærø 膝 — all", definition={})
    db.add(cohort)
    db.flush()
    auth.login(role="researcher")
    response = client.post(f"/research/cohorts/{cohort.id}/export",
                           data={"format": "odm", "shape": "wide"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    document = etree.fromstring(response.data)
    schema.assertValid(document)
    doses = sorted(d.get("Value") for d in document.iterfind(
        ".//odm:ItemData[@ItemOID='IT.CELL_DOSE_MILLION']", NS))
    assert doses == ["0.01", "10000", "20"]
    assert any(d.get("Value").startswith("Célula ☃ 膝 ") for d in document.iterfind(
        ".//odm:ItemData[@ItemOID='IT.PRODUCT']", NS))
    assert "attachment" in response.headers["Content-Disposition"]


def test_a_cohort_of_nobody_is_a_valid_file_of_metadata(runner, db, tmp_path, schema):
    target = tmp_path / "empty.xml"
    output = run_export(runner, target)
    assert "no patients" in output
    document = parse(target)
    schema.assertValid(document)
    assert document.getroot().findall(".//odm:SubjectData", NS) == []
    assert document.getroot().find(".//odm:ItemDef[@OID='IT.KOOS_PAIN']", NS) is not None

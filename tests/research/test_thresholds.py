"""The threshold set is chosen per export and summary, judges the flags and is recorded."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

import scoring
from registry import audit_capture as capture
from registry.models import AuditEvent, Protocol
from tests.research.conftest import TREATED, answers
from tests.research.helpers import export, open_export

MONTICONE = "tubach2005-monticone2013"
NONSURGICAL = "tubach2005-nonsurgical2025"
PAIN_ITEMS = ["P1", "P2", "P3", "P4", "P5"]


@pytest.fixture
def pain_14(db, cohort_data, make_patient, record_visit, site_a):
    """A fourth patient whose KOOS Pain improves by 13.9 points at 3 months (five of nine
    pain items from 2 to 1): below Monticone 2013's MIC (16.7), above the 2025 one (11.3)."""
    patient = make_patient(site_a, treatment_date=TREATED)
    visits = sorted(patient.visits, key=lambda v: v.target_date)
    record_visit(visits[0], TREATED - timedelta(days=2), answers(50, 50, 2, 2))
    later = answers(50, 50, 2, 2)
    later["koos"] = {**later["koos"], **dict.fromkeys(PAIN_ITEMS, 1)}
    record_visit(visits[2], TREATED + timedelta(days=90), later)
    return patient


def _pain_mic(tables) -> bool:
    long = tables["outcomes_long"]
    row = long[(long["score"].astype(str) == "koos_pain")
               & (long["change"].round(1) == 13.9)].iloc[0]
    return str(row["mic"]).lower() in ("true", "1", "1.0")


def test_the_chosen_set_judges_the_flags_and_is_in_the_manifest(auth, client, pain_14):
    auth.login("researcher")
    judged = {}
    for code in (MONTICONE, NONSURGICAL):
        response = export(client, thresholds=code)
        assert response.status_code == 200, response.data[:300]
        tables, manifest, _raw = open_export(response.data, "csv")
        judged[code] = _pain_mic(tables)
        chosen = scoring.threshold_set(code)
        facts = manifest["scoring"]["threshold_set"]
        assert (facts["code"], facts["version"], facts["label"]) == (
            chosen.code, chosen.version, chosen.label)
        assert len(facts["thresholds"]) == len(chosen.thresholds)
        assert all(t["citation"] and "note" in t for t in facts["thresholds"])
    assert judged == {MONTICONE: False, NONSURGICAL: True}


def test_the_studys_set_is_the_default(auth, client, db, cohort_data):
    protocol = db.scalars(select(Protocol).where(Protocol.is_default.is_(True))).one()
    with capture.reason(db, "the study uses the non-surgical MICs"):
        protocol.threshold_set = NONSURGICAL
    db.flush()
    auth.login("researcher")
    page = client.get("/research/cohorts/all")
    assert f'<option value="{NONSURGICAL}" selected>'.encode() in page.data
    response = export(client)
    _tables, manifest, _raw = open_export(response.data, "csv")
    assert manifest["scoring"]["threshold_set"]["code"] == NONSURGICAL
    row = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert NONSURGICAL in row.new_value


def test_dictionary_cites_the_set_and_says_where_monticone_comes_from(auth, client,
                                                                       cohort_data):
    auth.login("researcher")
    for shape, column in (("wide", "koos_adl_m3_mic"), ("long", "mic[score=koos_adl]")):
        response = export(client, shape=shape, thresholds=MONTICONE)
        tables, _manifest, _raw = open_export(response.data, "csv")
        dictionary = tables["data_dictionary"].set_index("column")
        source = dictionary.loc[column, "source"]
        assert MONTICONE in source
        assert "total knee arthroplasty" in source
        assert "18.4" in source
    response = export(client, shape="wide", thresholds=NONSURGICAL)
    tables, _manifest, _raw = open_export(response.data, "csv")
    source = tables["data_dictionary"].set_index("column").loc["koos_adl_m3_mic", "source"]
    assert "10.2" in source
    assert "41367621" in source


@pytest.fixture
def every_instrument(db, cohort_data, make_patient, record_visit, site_a):
    """A fourth patient who answered every instrument a form records, at 3 months."""
    patient = make_patient(site_a, treatment_date=TREATED)
    visits = sorted(patient.visits, key=lambda v: v.target_date)
    record_visit(visits[2], TREATED + timedelta(days=90),
                 {instrument.code: {item.code: item.minimum for item in instrument.items}
                  for instrument in scoring.recordable_instruments()})
    return patient


def test_every_catalogue_score_and_item_is_exported_and_described(auth, client,
                                                                   every_instrument):
    auth.login("researcher")
    response = export(client, shape="wide", items="1")
    tables, _manifest, _raw = open_export(response.data, "csv")
    dictionary = tables["data_dictionary"]
    described = set(dictionary["column"])
    for code, score in scoring.SCORES.items():
        assert f"{code}_baseline" in tables["outcomes_wide"].columns
        row = dictionary[dictionary["column"] == f"{code}_m3"].iloc[0]
        assert row["label"].startswith(score.label)
        assert (row["minimum"], row["maximum"]) == (score.minimum, score.maximum)
        assert row["direction"] in ("higher is better", "higher is worse")
        assert row["kind"] == "score"
        assert row["missing_rule"] == score.missing_rule
    for instrument in scoring.recordable_instruments():
        for item in instrument.items:
            column = f"{instrument.code}_{item.code}_m3"
            assert column in described
            row = dictionary[dictionary["column"] == column].iloc[0]
            assert row["kind"] == item.kind
            assert (row["minimum"], row["maximum"]) == (item.minimum, item.maximum)


def test_unknown_set_is_refused_by_field(auth, client, db, cohort_data):
    auth.login("researcher")
    response = export(client, thresholds="made-up-2030")
    assert response.status_code == 422
    assert b"Thresholds: unknown threshold set" in response.data
    assert b'id="thresholds-error"' in response.data
    assert db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []
    summary = client.get("/research/cohorts/all/summary?thresholds=made-up-2030")
    assert summary.status_code == 422
    assert b"Thresholds: unknown threshold set" in summary.data
    chart = client.get("/research/cohorts/all/charts/change.svg?thresholds=made-up-2030")
    assert chart.status_code == 422


def test_summary_uses_the_chosen_set(auth, client, db, pain_14, app):
    from registry.research.summary import summarise

    with app.app_context():
        by_set = {code: summarise(db, {}, score="koos_pain",
                                  thresholds=scoring.threshold_set(code))
                  for code in (MONTICONE, NONSURGICAL)}
    reached = {code: next(row for row in result.scores if row.timepoint == "m3")
               .flags["mic"].events for code, result in by_set.items()}
    assert reached == {MONTICONE: 1, NONSURGICAL: 2}
    auth.login("admin")
    page = client.get(f"/research/cohorts/all/summary?score=koos_pain&thresholds={NONSURGICAL}")
    assert page.status_code == 200
    assert scoring.threshold_set(NONSURGICAL).label.encode() in page.data
    assert f'<option value="{NONSURGICAL}" selected>'.encode() in page.data
    assert f"thresholds={NONSURGICAL}".encode() in page.data  # the charts use it too


def test_cli_thresholds(runner, cohort_data, tmp_path):
    target = tmp_path / "out.zip"
    result = runner.invoke(args=["export", "--all", "--format", "csv", "--thresholds",
                                 NONSURGICAL, "-o", str(target)])
    assert result.exit_code == 0, result.output
    _tables, manifest, _raw = open_export(target.read_bytes(), "csv")
    assert manifest["scoring"]["threshold_set"]["code"] == NONSURGICAL
    bad = runner.invoke(args=["export", "--all", "--format", "csv", "--thresholds", "nope",
                              "-o", str(tmp_path / "bad.zip")])
    assert bad.exit_code != 0
    assert "unknown threshold set 'nope'" in bad.output
    assert "--thresholds" in bad.output


def test_research_blueprint_loads_no_data_stack():
    """Every worker imports the research blueprint and commands at start-up; pandas,
    pyarrow and matplotlib load only when a research view or command runs."""
    code = ("import sys; import registry.research, registry.research.commands; "
            "print(sorted(m for m in ('pandas', 'pyarrow', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

"""`registry export` on the command line: same export, same audit, clear errors."""

from __future__ import annotations

import getpass
import hashlib
import json

from sqlalchemy import select

from registry.models import AuditEvent, Cohort
from tests.research.helpers import PER_PATIENT, PER_VISIT, open_export


def test_cli_exports_a_saved_cohort_and_audits_it(runner, db, cohort_data, tmp_path):
    db.add(Cohort(name="Site A", definition={"site": ["AAA"]}))
    db.flush()
    target = tmp_path / "out" / "site-a.zip"
    result = runner.invoke(args=["export", "--cohort", "Site A", "--format", "parquet",
                                 "--shape", "wide", "--adverse-events", "-o", str(target)])
    assert result.exit_code == 0, result.output
    content = target.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    assert digest in result.output
    tables, manifest, _raw = open_export(content, "parquet")
    assert len(tables["outcomes_wide"]) == 2
    assert manifest["exported_by"]["email"] == f"cli:{getpass.getuser()}"
    db.expire_all()
    row = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert row.actor_email == f"cli:{getpass.getuser()}"
    assert json.loads(row.new_value)["sha256"] == digest


def test_cli_all_patients_excel(runner, cohort_data, tmp_path):
    target = tmp_path / "all.xlsx"
    result = runner.invoke(args=["export", "--all", "--format", "xlsx", "-o", str(target)])
    assert result.exit_code == 0, result.output
    tables, _manifest, _raw = open_export(target.read_bytes(), "xlsx")
    long = tables["outcomes_long"]
    assert len(long) == 3 * PER_PATIENT  # every score every visit should have
    assert (long["value_reason"] == "scored").sum() == 5 * PER_VISIT


def test_cli_errors_are_clear(runner, cohort_data, tmp_path):
    out = str(tmp_path / "x.zip")
    unknown = runner.invoke(args=["export", "--cohort", "Nope", "--format", "csv", "-o", out])
    assert unknown.exit_code != 0
    assert "Unknown cohort 'Nope'" in unknown.output
    bad_format = runner.invoke(args=["export", "--all", "--format", "sas7bdat", "-o", out])
    assert bad_format.exit_code != 0
    assert "unknown format 'sas7bdat'" in bad_format.output
    both = runner.invoke(args=["export", "--all", "--cohort", "x", "--format", "csv", "-o", out])
    assert both.exit_code != 0
    assert "either --cohort NAME or --all" in both.output

"""The syntax files in every zip export, checked statically (no R, Stata, SPSS or SAS here).

Each script is cut into its tables' blocks, the variable names each block uses are parsed
out, and every one must be a variable of the file that block reads: the names in the
Stata / SPSS / SAS files themselves (pyreadstat), the CSV header mapped through the data
dictionary, the Parquet columns.  The files they read are files of the zip.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pandas as pd
import pyarrow.parquet as pq
import pytest

from registry.research.missing import SCORE_REASONS
from tests.research.helpers import export, read_stat

ZIP_FORMATS = ["csv", "parquet", "dta", "sav", "xpt"]
SCRIPTS = {"R": "read_export.R", "Stata": "read_export.do", "SPSS": "read_export.sps",
           "SAS": "read_export.sas"}
BLOCK = {"R": r"^# (\w+): (\S+)$", "Stata": r"^\* (\w+): (\S+)$",
         "SPSS": r"^\* (\w+): (\S+)\.$", "SAS": r"^/\* (\w+): (\S+) \*/$"}
NAME = r"[A-Za-z][A-Za-z0-9_]*"
# A package reading its own format (or R with haven) finds labels and codes in the file.
READ_AS_STORED = {("dta", "Stata"), ("dta", "R"), ("sav", "SPSS"), ("sav", "R")}


def blocks(text: str, language: str) -> dict[str, tuple[str, str]]:
    """Table -> (file it reads, the block's text)."""
    found = list(re.finditer(BLOCK[language], text, re.M))
    return {match[1]: (match[2], text[match.end():(found[i + 1].start() if i + 1 < len(found)
                                                  else len(text))])
            for i, match in enumerate(found)}


def stata_names_used(block: str) -> set[str]:
    names = set(re.findall(rf"^rename v\d+ ({NAME})$", block, re.M))
    names |= set(re.findall(rf"^replace ({NAME}) = \.[a-z] if ({NAME}) ==", block, re.M)[0]
                 if re.search(r"^replace \w+ = \.", block, re.M) else ())
    for pattern in (rf"^replace ({NAME}) = \.", rf" if ({NAME}) == ", rf"^label values ({NAME}) ",
                    rf"^label variable ({NAME}) ", rf"^drop ({NAME})$"):
        names |= set(re.findall(pattern, block, re.M))
    for line in re.findall(r"^order (.+)$", block, re.M):
        names |= set(line.split())
    return names


def spss_names_used(block: str) -> set[str]:
    names: set[str] = set()
    for section in ("VARIABLES=", "VARIABLE LABELS", "VALUE LABELS", "ADD VALUE LABELS"):
        for body in re.findall(re.escape(section) + r"(.*?)\.$", block, re.S | re.M):
            names |= set(re.findall(rf"^\s*/?\s*({NAME}) ", body, re.M))
    names |= set(re.findall(rf"^IF \(({NAME}) = ", block, re.M))
    names |= set(re.findall(rf"\) ({NAME}) = -9\d\d\.$", block, re.M))
    for body in re.findall(r"^MISSING VALUES (.+) \(", block, re.M):
        names |= set(body.split())
    for body in re.findall(r"^ADD FILES FILE=\* /KEEP=(.+)\.$", block, re.M):
        names |= set(body.split())
    names |= set(re.findall(rf"^RECODE ({NAME}) ", block, re.M))
    return names


def sas_names_used(block: str) -> set[str]:
    names: set[str] = set()
    for body in re.findall(r"^  length (.+);$", block, re.M):
        names |= {n for n in re.findall(rf"({NAME}) (?:\$\d+|8)", body) if "__t" not in n}
    for body in re.findall(r"^  input (.+);$", block, re.M):
        names |= {n for n in re.findall(NAME, body) if "__t" not in n}
    names |= set(re.findall(rf"^    ({NAME}) = '", block, re.M))
    names |= set(re.findall(rf"^  if ({NAME}) = \S+ then ({NAME}) = ", block, re.M)[0]
                 if re.search(r"^  if ", block, re.M) else ())
    for body in re.findall(r"^  format (.+);$", block, re.M):
        names |= set(re.findall(rf"({NAME}) {NAME}\.", body))
    names |= set(re.findall(rf"\) ({NAME}) = \d+;", block))
    return names


def r_names_used(block: str) -> set[str]:
    return set(re.findall(r"\$`([^`]+)`", block)) | set(
        re.findall(r"^  `([^`]+)` = readr::", block, re.M))


USED = {"R": r_names_used, "Stata": stata_names_used, "SPSS": spss_names_used,
        "SAS": sas_names_used}


def file_variables(raw: dict[str, bytes], file: str, fmt: str, language: str,
                   dictionary: pd.DataFrame, table: str) -> list[str]:
    """The variables a script sees in ``file``: the file's own (Stata, SPSS, SAS), the
    CSV or Parquet columns (R) or their dictionary names (Stata, SPSS, SAS read CSV)."""
    if fmt in ("dta", "sav", "xpt"):
        return list(read_stat(raw[file], fmt)[0].columns)
    columns = (pq.read_schema(io.BytesIO(raw[file])).names if fmt == "parquet"
               else pd.read_csv(io.BytesIO(raw[file]), nrows=0).columns.tolist())
    if language == "R":
        return columns
    rows = dictionary[dictionary["table"] == table].set_index("column")
    return [rows.loc[column, "stata_name"] for column in columns]


def unpack(content: bytes) -> tuple[dict[str, bytes], dict]:
    import json

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        raw = {name: archive.read(name) for name in archive.namelist()}
    return raw, json.loads(raw["manifest.json"])


@pytest.mark.parametrize("fmt", ZIP_FORMATS)
def test_syntax_files_read_the_exports_files_and_name_only_their_variables(
        auth, client, cohort_data, fmt):
    auth.login("researcher")
    response = export(client, format=fmt, shape="wide", adverse_events="1", items="1")
    assert response.status_code == 200
    raw, manifest = unpack(response.data)
    dictionary = pd.read_csv(io.BytesIO(raw["data_dictionary.csv"]))
    expected = {"R"} if fmt == "parquet" else set(SCRIPTS)
    assert set(manifest["syntax_files"]) == expected
    tables = {name: facts["file"] for name, facts in manifest["tables"].items()}
    for language in expected:
        facts = manifest["syntax_files"][language]
        assert facts["file"] == SCRIPTS[language]
        assert hashlib.sha256(raw[facts["file"]]).hexdigest() == facts["sha256"]
        text = raw[facts["file"]].decode("utf-8")
        found = blocks(text, language)
        assert {table: file for table, (file, _block) in found.items()} == tables, language
        for table, (file, block) in found.items():
            assert file in raw
            variables = set(file_variables(raw, file, fmt, language, dictionary, table))
            used = USED[language](block)
            if (fmt, language) not in READ_AS_STORED:
                assert used, (language, table)
            assert used <= variables, (language, table, sorted(used - variables)[:10])


def test_csv_do_file_renames_every_column_in_the_files_order(auth, client, cohort_data):
    auth.login("researcher")
    raw, _manifest = unpack(export(client, format="csv", shape="long").data)
    dictionary = pd.read_csv(io.BytesIO(raw["data_dictionary.csv"]))
    found = blocks(raw["read_export.do"].decode(), "Stata")
    for table, (file, block) in found.items():
        renamed = re.findall(rf"^rename v(\d+) ({NAME})$", block, re.M)
        names = file_variables(raw, file, "csv", "Stata", dictionary, table)
        assert [(str(i), name) for i, name in enumerate(names, start=1)] == renamed


@pytest.mark.parametrize("fmt", ["csv", "xpt"])
def test_value_labels_and_missing_codes_in_the_syntax_match_the_dictionary(
        auth, client, cohort_data, fmt):
    auth.login("researcher")
    raw, _manifest = unpack(export(client, format=fmt, shape="long").data)
    do_file = raw["read_export.do"].decode()
    sets = dict(re.findall(r"^label define (\w+) (.+), replace$", do_file, re.M))
    used = dict(re.findall(r"^label values (\w+) (\w+)$", do_file, re.M))
    assert '"Female"' in sets[used["sex"]]
    assert "`\"2–6 weeks\"'" in sets[used["timepoint"]]
    sas = raw["read_export.sas"].decode()
    formats = re.findall(r"^  value (\w+) ", sas, re.M)
    assert formats
    assert all(len(name) <= 32 and not name[-1].isdigit() for name in formats)
    letters = {reason.sas for reason in SCORE_REASONS if reason.sas}
    assert {f".{letter} = " in sas for letter in letters} == {True}
    # A coded flag of a missing score (MCII …) keeps its No / Yes format and the letters.
    assert re.search(r"^  value \w+m 0 = 'No' 1 = 'Yes' \.A = ", sas, re.M)
    assert re.search(r"^  format .* mcii \w+m\.", sas, re.M)
    assert "label values value whymiss" in do_file
    sps = raw["read_export.sps"].decode()
    assert "SET UNICODE=ON." in sps
    assert "2–6 weeks" in sps

"""Opening exports the way a researcher would: with pandas."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

import scoring


def scores_of(*instruments: str) -> list[str]:
    """The score codes one visit yields with these instruments answered in full: each
    instrument's scores and those of the instruments scored from its answers (catalogue)."""
    return list(dict.fromkeys(score.code for code in instruments
                              for instrument in scoring.scored_from(code)
                              for score in instrument.scores))


# A visit of the test cohort answers VAS, PGA, KOOS and WOMAC (conftest.answers).
PER_VISIT = len(scores_of("vas", "pga", "koos", "womac"))
# The long table's rows of one patient of the default protocol, whatever was done: the
# scores of the instruments each timepoint records (baseline, then three follow-ups).
PER_PATIENT = (len(scores_of(*scoring.default_instruments(True)))
               + 3 * len(scores_of(*scoring.default_instruments(False))))


def read_stat(data: bytes, fmt: str) -> tuple[pd.DataFrame, Any]:
    """A Stata, SPSS or SAS file with pyreadstat: (frame of stored values, metadata)."""
    import pyreadstat

    read = {"dta": pyreadstat.read_dta, "sav": pyreadstat.read_sav,
            "xpt": pyreadstat.read_xport}[fmt]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"table.{fmt}"
        path.write_bytes(data)
        return read(str(path))


def as_codes(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Stata / SPSS / SAS tables with the export's column names and codes (the numbers of
    text codes turned back into their text, by the dictionary's ``numeric_codes``), so that
    tests compare them with the other formats.  Their labels are tested on their own."""
    dictionary = tables["data_dictionary"]
    out = {"data_dictionary": dictionary}
    for name, frame in tables.items():
        if name == "data_dictionary":
            continue
        rows = dictionary[dictionary["table"] == name].dropna(subset=["stata_name"])
        frame = frame.copy()
        for row in rows.itertuples():
            if isinstance(row.numeric_codes, str) and row.numeric_codes:
                codes = dict(part.split(" (")[0].split(" = ", 1)
                             for part in row.numeric_codes.split("; "))
                frame[row.stata_name] = frame[row.stata_name].map(
                    lambda value, codes=codes: codes.get(str(int(value)))
                    if pd.notna(value) else None)
        out[name] = frame.rename(columns=dict(zip(rows["stata_name"], rows["column"],
                                                  strict=True)))
    return out


READERS = {"csv": pd.read_csv, "parquet": pd.read_parquet,
           **{fmt: (lambda data, fmt=fmt: read_stat(data.getvalue(), fmt)[0])
              for fmt in ("dta", "sav", "xpt")}}


def open_export(content: bytes, fmt: str) -> tuple[dict[str, pd.DataFrame], dict[str, Any],
                                                    dict[str, bytes]]:
    """(tables incl. data_dictionary, manifest, raw decompressed member bytes)."""
    if fmt == "xlsx":
        sheets = pd.read_excel(io.BytesIO(content), sheet_name=None)
        manifest_sheet = sheets.pop("manifest")
        manifest = {key: (json.loads(value) if isinstance(value, str) and _is_json(value)
                          else value)
                    for key, value in zip(manifest_sheet["key"], manifest_sheet["value"],
                                          strict=True)}
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            raw = {name: archive.read(name) for name in archive.namelist()}
        return sheets, manifest, raw
    tables: dict[str, pd.DataFrame] = {}
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        raw = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(raw["manifest.json"])
    for name, data in raw.items():
        stem, _, suffix = name.rpartition(".")
        if name == "data_dictionary.csv":
            tables["data_dictionary"] = pd.read_csv(io.BytesIO(data))
        elif suffix == fmt:
            tables[stem] = READERS[fmt](io.BytesIO(data))
    if fmt in ("dta", "sav", "xpt"):
        tables = as_codes(tables)
    return tables, manifest, raw


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def export(client, key: str = "all", **form: Any):
    data = {"format": "csv", "shape": "long", **form}
    return client.post(f"/research/cohorts/{key}/export", data=data)


def app_export_members(app: Any, target: Path, fmt: str) -> dict[str, bytes]:
    """The long export of every patient of ``app`` (a committed registry) in ``fmt``,
    written to ``target``: its members but the manifest (which holds the export's time)."""
    from registry.db import get_session
    from registry.research.export import ExportOptions, export_cohort

    with app.app_context():
        export_cohort(get_session(), cohort_name="All", definition={},
                      options=ExportOptions(format=fmt, shape="long", project="Same"),
                      pseudonym_key="test-key", free_text_allowed=False, target=target)
        get_session().rollback()
    with zipfile.ZipFile(target) as archive:
        return {member: archive.read(member) for member in archive.namelist()
                if member != "manifest.json"}

"""Opening exports the way a researcher would: with pandas."""

from __future__ import annotations

import io
import json
import zipfile
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
READERS = {"csv": pd.read_csv, "parquet": pd.read_parquet, "dta": pd.read_stata}


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

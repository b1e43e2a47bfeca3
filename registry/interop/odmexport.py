"""``registry export --format odm``: the export pipeline's tables as one CDISC ODM file.

Called by ``registry.research.export.export_cohort`` with the tables it built for a long
export (``patients``, ``outcomes_long``, ``visits``, and ``adverse_events`` / ``items``
when chosen): the same rows, the same pseudonyms and the same de-identification as every
other format of that export, and the export's manifest (with the ODM's counts) and audit
row.  The file is ``<cohort>-long-odm-<date>.xml``; ``odm`` writes the metadata, ``odmdata``
streams the clinical data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import scoring
from registry.interop.odm import odm_forms, write_odm
from registry.interop.odmdata import Sources, write_clinical
from registry.research import cohorts
from registry.research.dataset import Dataset
from registry.research.longtable import LongTable
from registry.research.tables import Table

Progress = Callable[[int], None]
REQUIRED = ("patients", "outcomes_long", "visits")


def write_export(data: Dataset, tables: list[Table], target: Path,
                 manifest_now: Callable[[], dict[str, Any]], progress: Progress | None,
                 definition: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Write the ODM file to ``target``; the export's manifest (with ``odm`` counts) and
    the file's SHA-256."""
    by_name = {table.name: table for table in tables}
    missing = [name for name in REQUIRED if name not in by_name]
    if missing:
        raise ValueError(f"an ODM export needs the long export's tables; missing {missing}")
    long_table = cast(LongTable, by_name["outcomes_long"])
    forms = odm_forms([spec for table in tables for spec in table.specs])
    pids = [str(pid) for pid in by_name["patients"].frame["pid"]]
    sources = Sources(data=data, forms=forms, patients=by_name["patients"],
                      visits=by_name["visits"], chunks=long_table.chunks,
                      adverse_events=by_name.get("adverse_events"),
                      items=by_name.get("items"), progress=progress)
    protocols = ", ".join(p.get("name", "") for p in getattr(data, "protocols", [])) \
        or "Registry follow-up protocol"
    versions = "; ".join(f"{code} {inst.version}" for code, inst in scoring.INSTRUMENTS.items())

    def manifest(counts: dict[str, int]) -> dict[str, Any]:
        facts = manifest_now()
        facts["tables"] = {name: {"rows": table.rows, "columns": len(table.column_names),
                                  "in_odm": True}
                           for name, table in by_name.items()}
        facts["odm"] = {"version": "1.3.2", "file_type": "Snapshot",
                        "subject_key": "the export's pid", **counts,
                        "missing": "a score stored but not computable is IsNull=\"Yes\"; a "
                                   "visit not done has its visit form only (status); an "
                                   "instrument not answered has no form"}
        return facts

    return write_odm(target, forms=forms, timepoints=data.timepoints,
                     study_description="Cohort: " + "; ".join(cohorts.describe(definition)),
                     protocol_name=protocols,
                     versions=f"scoring {scoring.__version__}: {versions}",
                     clinical=lambda sink: write_clinical(sources, pids, sink),
                     manifest=manifest)

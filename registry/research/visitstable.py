"""The ``visits`` table: which visits were due, and what became of them, at export time.

One row per visit of each patient: every scheduled timepoint of the patient's protocol,
whatever its status, then the patient's unscheduled visits (``unscheduled`` = 1, by day).
Columns: pseudonym, timepoint, unscheduled flag, follow-up status at export
(``missing.VISIT_STATUSES``: the follow-up rule's status, done visits split by
"out of window", withdrawn patients' visits as ``visitrows`` explains), target day, window
start and end day, grace end day (all days since treatment, day 0), visit day,
out-of-window flag and mode of collection.  Built from the visits ``dataset.load`` read
(one query, ``visitrows.load_visits``), so it costs no query of its own.

A score row of ``outcomes_long`` belongs to the visit with the same ``pid``, ``timepoint``
and ``day`` (``visit_day`` here); its ``value_reason`` follows from this table's status.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from flask_babel import gettext as _

from registry.research.dataset import Dataset
from registry.research.dictionary import ColumnSpec, mode_spec, vocab
from registry.research.longtable import timepoint_codes
from registry.research.missing import VISIT_STATUSES
from registry.research.tables import Table, _spec
from registry.research.visitrows import MODE_CODES, NO_DAY, VISIT_CODES, Visits

NAME = "visits"


def visit_specs(data: Dataset, name: str = NAME) -> list[ColumnSpec]:
    """The visits table's columns, described."""

    def days(column: str, label: str, source: str, missing: str) -> ColumnSpec:
        return _spec(name, column, label, "integer", unit=_("days"), missing_rule=missing,
                     source=f"{source} minus treatment date")

    unscheduled = _("empty for unscheduled visits (no window)")
    return [
        _spec(name, "pid", _("Patient pseudonym"), "string", source="HMAC-SHA256 pseudonym"),
        _spec(name, "timepoint", _("Timepoint (unscheduled: a visit outside the protocol)"),
              "category", source="timepoint.code",
              **vocab(timepoint_codes(data.timepoints))),
        _spec(name, "unscheduled", _("Unscheduled visit (outside the protocol's timepoints)"),
              "boolean", source="visit without a timepoint"),
        _spec(name, "status", _("Follow-up status at export (each site's today)"), "category",
              source="registry.followup.status (status_expression, display_status); "
                     "withdrawn patients: withdrawn, or missed when the window had closed "
                     "before the withdrawal",
              **vocab(VISIT_STATUSES)),
        days("target_day", _("Target, days since treatment"), "visit.target_date", unscheduled),
        days("window_start_day", _("Window opens, days since treatment"), "visit.window_start",
             unscheduled),
        days("window_end_day", _("Window closes, days since treatment"), "visit.window_end",
             unscheduled),
        days("grace_end_day", _("Grace period ends (overdue after it), days since treatment"),
             "visit.grace_end", unscheduled),
        days("visit_day", _("Visit, days since treatment"), "visit.visit_date",
             _("empty when the visit was not done")),
        _spec(name, "out_of_window", _("Done outside its window"), "boolean",
              source="visit.out_of_window",
              missing_rule=_("empty when the visit was not done, or is unscheduled")),
        mode_spec(name, "collection_mode"),
    ]


def _days(values: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype(np.int32), values == NO_DAY)


def visits_table(data: Dataset, pids: list[str], name: str = NAME) -> Table:
    """The cohort's visits (see the module doc), one row per visit."""
    specs = visit_specs(data, name)
    visits: Visits | None = data.visits
    if visits is None:
        raise ValueError("the dataset was loaded without its visits")
    order = visits.order
    tp_codes = list(timepoint_codes(data.timepoints))
    pid_values = np.asarray(pids, dtype=object)
    out_of_window = visits.out_of_window[order]
    frame = pd.DataFrame({
        "pid": pd.array(pid_values[visits.position[order]] if len(pid_values) else [],
                        dtype="string"),
        "timepoint": pd.Categorical.from_codes(visits.timepoint[order].astype(np.int16),
                                               categories=pd.Index(tp_codes)),
        "unscheduled": pd.arrays.BooleanArray(visits.unscheduled[order],
                                              np.zeros(len(order), bool)),
        "status": pd.Categorical.from_codes(visits.status[order],
                                            categories=pd.Index(VISIT_CODES)),
        "target_day": _days(visits.target_day[order]),
        "window_start_day": _days(visits.window_start_day[order]),
        "window_end_day": _days(visits.window_end_day[order]),
        "grace_end_day": _days(visits.grace_end_day[order]),
        "visit_day": _days(visits.day[order]),
        "out_of_window": pd.arrays.BooleanArray(out_of_window == 1, out_of_window < 0),
        "collection_mode": pd.Categorical.from_codes(
            np.where(visits.done[order], visits.mode[order], -1).astype(np.int8),
            categories=pd.Index(MODE_CODES)),
    })
    return Table(name, frame[[spec.column for spec in specs]], specs)

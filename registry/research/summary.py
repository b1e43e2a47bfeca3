"""Outcome summary of a cohort per timepoint (and per group): the numbers behind the page.

n done and % of those due, by mode of collection (the definition of
``registry.followup.completeness``: a visit is due once its window has opened at its site,
or when done; not applicable visits are left out); mean and 95 % confidence interval
(t distribution) of a score and of its change from baseline, each with its own n; share
reaching MCII / MIC and PASS and OMERACT-OARSI responder rate, each with its n and Wilson
95 % CI (``estimates.Proportion``); patients per group; adverse-event rates by grade.
Reads the same de-identified ``Dataset`` as the exports (bounded queries) and computes
with numpy/pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

import scoring
from registry.followup.completeness import DUE_STATUSES, MODES, percent, visit_statuses
from registry.followup.status import site_todays
from registry.i18n import timepoint_name
from registry.models import AdverseEvent, Patient, Visit
from registry.research import cohorts, dataset
from registry.research.dictionary import flag_kinds
from registry.research.estimates import Estimate, Proportion, ScoreRow, Share, Summary
from registry.research.options import GROUPS, default_score
from registry.research.tables import Derived, derive
from registry.vocabularies import AE_GRADES, N_, TREATMENT_TYPES

ALL = N_("All patients")  # group names are N_-marked labels, translated when summarised
NOT_RECORDED = N_("Not recorded")

# Two-sided 95 % critical values of Student's t for 1–30 degrees of freedom (standard
# tables); beyond 30 the Cornish–Fisher expansion below is accurate to about 1e-4.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
Z_975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(T_975):
        return T_975[df - 1]
    z = Z_975
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def mean_ci(values: np.ndarray) -> Estimate:
    """Mean with a t-based 95 % CI (no interval for fewer than 2 values)."""
    clean = values[~np.isnan(values)]
    n = int(clean.size)
    if n == 0:
        return Estimate(0, None, None, None)
    mean = float(clean.mean())
    if n < 2:
        return Estimate(n, mean, None, None)
    half = t_quantile_975(n - 1) * float(clean.std(ddof=1)) / math.sqrt(n)
    return Estimate(n, mean, mean - half, mean + half)


def _group_labels(patients: pd.DataFrame, group_by: str | None) -> np.ndarray:
    if not group_by:
        return np.full(len(patients), _(ALL), dtype=object)
    if group_by == "product":
        return _product_groups(patients)
    _label, vocabulary = GROUPS[group_by]
    return np.array([_(str(vocabulary.get(value, NOT_RECORDED))) if value is not None
                     and value == value else _(NOT_RECORDED) for value in patients[group_by]],
                    dtype=object)


def _product_groups(patients: pd.DataFrame) -> np.ndarray:
    """Each patient's product (the catalogue's name; ``dataset.load_patients``); a
    comparator without a product is grouped by its treatment type ("Hyaluronic acid
    injection"), so products can be compared with the comparators too."""
    labels = []
    for product, kind in zip(patients["product"], patients["treatment_type"], strict=True):
        if isinstance(product, str) and product:
            labels.append(product)
        elif kind != "cell_therapy" and kind in TREATMENT_TYPES:
            labels.append(_(TREATMENT_TYPES[kind]))
        else:
            labels.append(_(NOT_RECORDED))
    return np.array(labels, dtype=object)


def _due_counts(session: Session, cohort: Select[int],
                timepoint_of: dict[int, int]) -> pd.DataFrame:
    """The cohort's due visits (``registry.followup.completeness``: status done, due,
    overdue or missed at each site's today) with timepoint index, status and mode."""
    todays = site_todays(session, select(Patient.site_id).where(Patient.id.in_(cohort))
                         .distinct().scalar_subquery())
    columns = ["patient_id", "timepoint", "status", "mode"]
    if not todays:
        return pd.DataFrame([], columns=columns)
    rows = session.execute(visit_statuses(todays, Visit.patient_id.in_(cohort))).all()
    return pd.DataFrame([(p, timepoint_of[t], status, mode) for p, _site, t, status, mode in rows
                         if status in DUE_STATUSES], columns=columns)


def summarise(session: Session, definition: Mapping[str, Any], *, score: str | None = None,
              group_by: str | None = None,
              thresholds: scoring.ThresholdSet | None = None) -> Summary:
    """The cohort's summary for one score of the catalogue; MCII / MIC / PASS judged by
    ``thresholds`` (scoring's default set when not given)."""
    score = score or default_score()
    chosen = thresholds or scoring.threshold_set(scoring.DEFAULT_THRESHOLD_SET)
    if score not in scoring.SCORES:
        raise ValueError(f"unknown score {score!r}")
    if group_by and group_by not in GROUPS:
        raise ValueError(f"unknown group {group_by!r}")
    cohort = cohorts.cohort_select(session, definition)
    data = dataset.load(session, cohort)
    derived: Derived = derive(data, chosen.thresholds)
    labels = _group_labels(data.patients, group_by)
    groups = sorted(set(labels.tolist()), key=str) if len(labels) else [ALL]
    rows = data.scores
    row_group = labels[derived.position] if len(rows.value) else np.empty(0, object)
    score_index = data.score_codes.index(score)
    kinds = flag_kinds(score, chosen.thresholds)
    due = _due_counts(session, cohort, data.timepoint_of)
    patient_group = dict(zip(data.patients["patient_id"], labels, strict=True))
    due["group"] = [patient_group.get(p, _(ALL)) for p in due["patient_id"]]
    follow_up: list[dict[str, Any]] = []
    score_rows: list[ScoreRow] = []
    responders: list[dict[str, Any]] = []
    for tp_index, tp in enumerate(data.timepoints):
        tp_name = timepoint_name(tp.name)
        for group in groups:
            in_group = row_group == group
            here = in_group & (rows.timepoint == tp_index) & (rows.score == score_index)
            due_here = due[(due["timepoint"] == tp_index) & (due["group"] == group)]
            done_here = due_here[due_here["status"] == "done"]
            by_mode = {mode: int((done_here["mode"] == mode).sum()) for mode in MODES}
            follow_up.append({"timepoint": tp_name, "group": group, "due": len(due_here),
                              "done": len(done_here),
                              "percent": percent(len(done_here), len(due_here)),
                              "by_mode": by_mode,
                              "mode_percent": {mode: percent(n, len(due_here))
                                               for mode, n in by_mode.items()}})
            flags: dict[str, Proportion | Share] = {}
            for kind in kinds:
                value, known = derived.flags[kind]
                flags[kind] = Proportion(int(known[here].sum()),
                                         int((value & known)[here].sum()))
            score_rows.append(ScoreRow(group, tp.code, tp_name, tp.target_day, tp.is_baseline,
                                       mean_ci(rows.value[here]),
                                       mean_ci(derived.change["change"][here])
                                       if not tp.is_baseline else Estimate(0, 0.0, None, None),
                                       flags))
            if not tp.is_baseline:
                status = derived.responder[labels == group, tp_index]
                evaluable = int((status >= 0).sum())
                responders.append({"timepoint": tp_name, "code": tp.code, "group": group,
                                   "target_day": tp.target_day,
                                   "rate": Proportion(evaluable, int((status == 1).sum()))})
    return Summary(score, group_by, groups, data.timepoints, len(data.patients), follow_up,
                   score_rows, responders, _adverse_event_rates(session, cohort, labels,
                                                                data.patients, groups), kinds,
                   chosen.code,
                   group_sizes={group: int((labels == group).sum()) for group in groups})


def _adverse_event_rates(session: Session, cohort: Select[int], labels: np.ndarray,
                         patients: pd.DataFrame, groups: list[str]) -> list[dict[str, Any]]:
    """Per group and grade: events, patients with such an event, % of the group's patients."""
    query = (select(AdverseEvent.patient_id, AdverseEvent.severity_grade,
                    func.count(AdverseEvent.id))
             .where(AdverseEvent.patient_id.in_(cohort))
             .group_by(AdverseEvent.patient_id, AdverseEvent.severity_grade))
    counts = pd.DataFrame(session.execute(query).all(),
                          columns=["patient_id", "grade", "events"])
    group_of = dict(zip(patients["patient_id"], labels, strict=True))
    counts["group"] = [group_of.get(p, _(ALL)) for p in counts["patient_id"]]
    out = []
    for group in groups:
        size = int((labels == group).sum())
        for grade, label in AE_GRADES.items():
            part = counts[(counts["group"] == group) & (counts["grade"] == grade)]
            out.append({"group": group, "grade": _(label), "events": int(part["events"].sum()),
                        "patients": Proportion(size, int(part["patient_id"].nunique()))})
    return out

"""Small-cell suppression of the research pages' aggregate numbers.

Exact counts down to 1, with fine filters, let a researcher single out a patient: 13
counts bisecting the treatment dates found one patient's treatment day.  So, for
researchers, every count on the research pages (the builder's live count, a cohort's
count, the summary's n, due and done, responders, adverse events, group sizes) below
``k`` (config ``MIN_CELL_SIZE``, default 5) is shown as "< k", and a mean, confidence
interval or percentage computed from a count below ``k`` is not shown.  Together with
treatment dates filtered by whole months (``cohorts.parse_month``) no sequence of counts
narrows a patient's date below a month.

Administrators see exact numbers: they may read patients' identities and dates anyway.
Exports are not suppressed: they are patient-level de-identified data (with days since
treatment instead of dates); suppression closes the aggregate query channel.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import current_app

from registry.authz import Permission, can
from registry.research.estimates import Estimate, Proportion, ScoreRow, Share, Small, Summary

DEFAULT_MIN_CELL_SIZE = 5


def min_cell_size(user: Any) -> int:
    """The k for ``user``: 1 (exact numbers) for administrators, else ``MIN_CELL_SIZE``."""
    if can(user, Permission.ADMIN):
        return 1
    return max(1, int(current_app.config.get("MIN_CELL_SIZE", DEFAULT_MIN_CELL_SIZE)))


def is_small(value: object) -> bool:
    return isinstance(value, Small)


def count(value: int | Small, k: int) -> int | Small:
    """``value``, or ``Small(k)`` when it is below ``k`` (zero included)."""
    if isinstance(value, Small):
        return value
    return Small(k) if k > 1 and value < k else value


def shown(value: int, k: int) -> int | str:
    """A count for JSON: the number, or the text "< k"."""
    cell = count(value, k)
    return str(cell) if isinstance(cell, Small) else cell


def share(proportion: Proportion, k: int) -> Proportion | Share:
    """A share with its counts suppressed below ``k``; no percentage then."""
    if k <= 1 or (proportion.n >= k and proportion.events >= k):
        return proportion
    return Share(count(proportion.n, k), count(proportion.events, k))


def estimate(value: Estimate, k: int) -> Estimate:
    """A mean and CI only when computed from at least ``k`` values."""
    if k <= 1 or isinstance(value.n, Small) or value.n >= k:
        return value
    return Estimate(Small(k), None, None, None)


def _score_row(row: ScoreRow, k: int) -> ScoreRow:
    change = row.change if row.is_baseline else estimate(row.change, k)
    return dataclasses.replace(row, value=estimate(row.value, k), change=change,
                               flags={kind: share(p, k) if isinstance(p, Proportion) else p
                                      for kind, p in row.flags.items()})


def _modes(row: dict[str, Any], k: int) -> dict[str, Any]:
    """Done visits by mode with counts below ``k`` suppressed; when only one mode would be
    hidden while the done total is shown, the next smallest is hidden too (else the total
    minus the others gives it away)."""
    by_mode: dict[str, int] = row.get("by_mode", {})
    cells: dict[str, int | Small] = {mode: count(n, k) for mode, n in by_mode.items()}
    hidden = [mode for mode, cell in cells.items() if isinstance(cell, Small)]
    shown_modes = [mode for mode in cells if mode not in hidden]
    if len(hidden) == 1 and shown_modes and not isinstance(row["done"], Small):
        cells[min(shown_modes, key=lambda mode: by_mode[mode])] = Small(k)
    due_small = isinstance(row["due"], Small)
    percents = {mode: None if due_small or isinstance(cells[mode], Small)
                else row.get("mode_percent", {}).get(mode) for mode in cells}
    return {**row, "by_mode": cells, "mode_percent": percents}


def _follow_up(row: dict[str, Any], k: int) -> dict[str, Any]:
    if k <= 1:
        return row
    if not (row["due"] >= k and row["done"] >= k):
        row = {**row, "due": count(row["due"], k), "done": count(row["done"], k),
               "percent": None}
    return _modes(row, k) if "by_mode" in row else row


def suppress_summary(summary: Summary, k: int) -> Summary:
    """The summary as a researcher may see it (unchanged for ``k`` <= 1)."""
    if k <= 1:
        return summary
    return dataclasses.replace(
        summary,
        patients=count(summary.patients, k),
        group_sizes={group: count(size, k) for group, size in summary.group_sizes.items()},
        follow_up=[_follow_up(row, k) for row in summary.follow_up],
        scores=[_score_row(row, k) for row in summary.scores],
        responders=[{**row, "rate": share(row["rate"], k)} for row in summary.responders],
        adverse_events=[{**row, "events": count(row["events"], k),
                         "patients": share(row["patients"], k)}
                        for row in summary.adverse_events],
    )


__all__ = ["DEFAULT_MIN_CELL_SIZE", "Share", "Small", "count", "estimate", "is_small",
           "min_cell_size", "share", "shown", "suppress_summary"]

"""Charts of an outcome summary, drawn with matplotlib (Agg backend) as SVG or PNG bytes.

- ``change``: mean change from baseline of one score with its 95 % CI band over time
  (days since treatment at each timepoint's target), one line per group;
- ``responders``: OMERACT-OARSI responder rate by follow-up timepoint, bars per group.

A point or bar is drawn only where the summary has a value: cells without data, or
suppressed for a researcher (``disclosure``), are left out rather than drawn as 0.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import scoring  # noqa: E402
from registry.research.estimates import Summary  # noqa: E402
from registry.research.options import CHART_FORMATS, CHART_KINDS  # noqa: E402


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7.5, 4.2), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    axes.grid(True, alpha=0.3)
    return figure, axes


def change_chart(summary: Summary) -> Figure:
    score = scoring.SCORES[summary.score]
    figure, axes = _figure()
    for group in summary.groups:
        rows = [row for row in summary.scores if row.group == group
                and (row.is_baseline or row.change.mean is not None)]
        days = [row.target_day for row in rows]
        # Baseline is the zero of change; other rows have a mean (filtered above).
        means = [0.0 if row.is_baseline or row.change.mean is None else row.change.mean
                 for row in rows]
        low = [0.0 if row.is_baseline or row.change.low is None else row.change.low
               for row in rows]
        high = [0.0 if row.is_baseline or row.change.high is None else row.change.high
                for row in rows]
        line = axes.plot(days, means, marker="o", label=group)[0]
        axes.fill_between(days, low, high, alpha=0.2, color=line.get_color())
    axes.axhline(0, color="black", linewidth=0.8)
    direction = "higher is better" if score.higher_is_better else "lower is better"
    axes.set_title(f"{score.label}: mean change from baseline (95 % CI)")
    axes.set_xlabel("Days since treatment (timepoint target)")
    axes.set_ylabel(f"Change ({score.unit}; {direction})")
    if len(summary.groups) > 1:
        axes.legend(title=summary.group_by.replace("_", " ") if summary.group_by else None)
    figure.tight_layout()
    return figure


def responder_chart(summary: Summary) -> Figure:
    figure, axes = _figure()
    codes = list(dict.fromkeys(row["timepoint"] for row in summary.responders))
    width = 0.8 / max(len(summary.groups), 1)
    for offset, group in enumerate(summary.groups):
        rates = []
        for code in codes:
            match = [row for row in summary.responders
                     if row["timepoint"] == code and row["group"] == group]
            rate = match[0]["rate"].percent if match else None
            rates.append(rate if rate is not None else float("nan"))  # no bar
        positions = [index + offset * width for index in range(len(codes))]
        axes.bar(positions, rates, width=width, label=group)
    axes.set_xticks([index + width * (len(summary.groups) - 1) / 2
                     for index in range(len(codes))], codes)
    axes.set_ylim(0, 100)
    axes.set_ylabel("Responders (% of evaluable patients)")
    axes.set_title("OMERACT-OARSI responders by timepoint")
    if len(summary.groups) > 1:
        axes.legend()
    figure.tight_layout()
    return figure


def render(summary: Summary, kind: str, fmt: str) -> bytes:
    """The chart as bytes; SVG without a creation date in its metadata."""
    if kind not in CHART_KINDS or fmt not in CHART_FORMATS:
        raise ValueError(f"unknown chart {kind}.{fmt}")
    figure = change_chart(summary) if kind == "change" else responder_chart(summary)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()

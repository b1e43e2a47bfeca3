"""Server-rendered SVG chart of one score over time against the baseline (matplotlib),
on the score's own range from the catalogue.

No pyplot and no global state: each chart is its own ``Figure`` on the Agg canvas, so
concurrent requests do not share figures.  The SVG is served by a route as an image;
matplotlib's embedded ``<style>`` element is removed so the image obeys the CSP
(no inline style) — it only restated default line joins.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

import scoring
from registry.models import Patient, ScoreValue, Visit

_STYLE_ELEMENT = re.compile(r"<style[^>]*>.*?</style>", re.DOTALL)


@dataclass
class ChartSeries:
    label: str
    unit: str
    higher_is_better: bool
    points: list[tuple[int | date, float]]
    baseline: float | None
    x_label: str
    minimum: float = 0.0
    maximum: float = 100.0


def chart_series(session: Session, patient: Patient, score_code: str) -> ChartSeries:
    """One score's values over time (days since treatment when treated) and its baseline."""
    definition = scoring.SCORES[score_code]
    rows = session.execute(
        select(Visit, ScoreValue.value).join(ScoreValue, ScoreValue.visit_id == Visit.id)
        .where(ScoreValue.patient_id == patient.id, ScoreValue.score_code == score_code,
               ScoreValue.value.is_not(None), Visit.visit_date.is_not(None))
        .options(joinedload(Visit.timepoint))
    ).all()
    treatment = patient.treatment
    points: list[tuple[int | date, float]] = []
    baseline = None
    dated = [(visit, visit.visit_date, value) for visit, value in rows
             if visit.visit_date is not None and value is not None]  # as the query filters
    for visit, visit_date, value in sorted(dated, key=lambda row: row[1]):
        x: int | date = (visit_date - treatment.treatment_date).days if treatment \
            else visit_date
        points.append((x, float(value)))
        if visit.timepoint is not None and visit.timepoint.is_baseline:
            baseline = float(value)
    return ChartSeries(label=definition.label, unit=definition.unit,
                       higher_is_better=definition.higher_is_better, points=points,
                       baseline=baseline,
                       x_label="Days since treatment" if treatment else "Visit date",
                       minimum=definition.minimum, maximum=definition.maximum)


def render_svg(series: ChartSeries) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.2, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs: list[Any] = [x for x, _ in series.points]  # days, or dates (matplotlib takes both)
    ys = [y for _, y in series.points]
    axes.plot(xs, ys, marker="o", color="#0b5cad", linewidth=1.8, label=series.label)
    if series.baseline is not None:
        axes.axhline(series.baseline, color="#57606a", linestyle="--", linewidth=1,
                     label="Baseline")
    direction = "higher = better" if series.higher_is_better else "higher = worse"
    axes.set_title(f"{series.label} ({direction})", fontsize=10)
    axes.set_xlabel(series.x_label, fontsize=9)
    axes.set_ylabel(series.unit or "score", fontsize=9)
    # The score's whole range (from the catalogue), so a change looks as large as it is.
    margin = (series.maximum - series.minimum) * 0.03
    axes.set_ylim(series.minimum - margin, series.maximum + margin)
    axes.tick_params(labelsize=8)
    if series.points:
        axes.legend(fontsize=8, loc="best")
    axes.grid(True, color="#d0d7de", linewidth=0.5)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _STYLE_ELEMENT.sub("", buffer.getvalue().decode("utf-8")).encode("utf-8")

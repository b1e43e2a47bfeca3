"""Server-rendered SVG chart of one score over time against the baseline (matplotlib).

No pyplot and no global state: each chart is its own ``Figure`` on the Agg canvas, so
concurrent requests do not share figures.  The SVG is served by a route as an image;
matplotlib's embedded ``<style>`` element is removed so the image obeys the CSP
(no inline style) — it only restated default line joins.
"""

from __future__ import annotations

import io
import re

from registry.clinical.services.summary import ChartSeries

_STYLE_ELEMENT = re.compile(r"<style[^>]*>.*?</style>", re.DOTALL)


def render_svg(series: ChartSeries) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.2, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = [x for x, _ in series.points]
    ys = [y for _, y in series.points]
    axes.plot(xs, ys, marker="o", color="#0b5cad", linewidth=1.8, label=series.label)
    if series.baseline is not None:
        axes.axhline(series.baseline, color="#57606a", linestyle="--", linewidth=1,
                     label="Baseline")
    direction = "higher = better" if series.higher_is_better else "higher = worse"
    axes.set_title(f"{series.label} ({direction})", fontsize=10)
    axes.set_xlabel(series.x_label, fontsize=9)
    axes.set_ylabel(series.unit or "score", fontsize=9)
    axes.tick_params(labelsize=8)
    if series.points:
        axes.legend(fontsize=8, loc="best")
    axes.grid(True, color="#d0d7de", linewidth=0.5)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _STYLE_ELEMENT.sub("", buffer.getvalue().decode("utf-8")).encode("utf-8")

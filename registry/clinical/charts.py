"""The patient page's charts: one small-multiples figure of every score, drawn as SVG here.

Each score gets a small panel on its full range from the catalogue (``scoring.SCORES``
``minimum``–``maximum``, so a change looks as large as it is), the visits with scores on
x (the score table's columns, by date, named by timepoint), the values joined by a line
broken where a value is missing, and the baseline value as a dashed line.  All panels are
drawn in the page's own render as inline SVG: no image request per score, no plotting
library (drawing 23 matplotlib figures took seconds; this takes milliseconds).

The same drawing is served on its own as an SVG document ("Open image").  Colours, dashes
and fonts are SVG presentation attributes (``fill``, ``stroke-dasharray``,
``font-family``), never ``style`` attributes or a ``<style>`` element: the content security
policy (``style-src 'self'``) applies to an SVG document opened in a browser too, and
would blank those.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from markupsafe import Markup

import scoring
from registry.clinical.services.summary import scale_text
from registry.i18n import current_language, day, number
from registry.i18n import label as shown_label

if TYPE_CHECKING:
    from registry.clinical.services.summary import PatientSummary, ScoreRow

# Drawing units of a panel (the SVG's viewBox); the page scales it to its column.
WIDTH = 320
LEFT, RIGHT, TOP = 38, 12, 10
PLOT_HEIGHT = 104
PAD = 14  # between the plot's edge and the first / last visit
STANDALONE_HEADER = 42
STANDALONE_FOOTER = 22
STANDALONE_SCALE = 2  # the standalone image is drawn at twice the panel's size
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
INK, MUTED, GRID, LINE, BASELINE = "#1b1f24", "#57606a", "#d0d7de", "#0b5cad", "#57606a"
CHAR_WIDTH = 0.6  # of the font size: a label's width, estimated without a font
LABEL_SIZE = 10
ROTATED_SIZE = 9
ROTATION = 40  # degrees, when the visits' names do not fit side by side


@dataclass(frozen=True)
class Panel:
    """One score over the visits: its values (None where missing) and baseline value."""

    code: str
    label: str
    scale: str  # range, unit and direction, as the score table shows it
    minimum: float
    maximum: float
    values: tuple[float | None, ...]
    baseline: float | None

    @property
    def has_values(self) -> bool:
        return any(value is not None for value in self.values)


@dataclass(frozen=True)
class ChartFigure:
    """The figure's common x axis (the visits with scores) and a panel per score."""

    x_labels: tuple[str, ...]
    x_dates: tuple[str, ...]
    panels: tuple[Panel, ...]

    def panel(self, code: str) -> Panel | None:
        return next((panel for panel in self.panels if panel.code == code), None)


def _panel(row: ScoreRow, baseline_index: int | None) -> Panel:
    values = row.values
    baseline = values[baseline_index] if baseline_index is not None else None
    return Panel(row.code, row.label, row.scale, row.minimum, row.maximum, values, baseline)


def chart_figure(summary: PatientSummary) -> ChartFigure:
    """The figure of the patient page's score table: its columns and rows with a value."""
    columns = summary.columns
    baseline_index = (columns.index(summary.baseline)
                      if summary.baseline is not None else None)
    panels = tuple(_panel(row, baseline_index) for row in summary.score_rows
                   if any(value is not None for value in row.values))
    return ChartFigure(
        x_labels=tuple(visit.name for visit in columns),  # in the reader's language
        x_dates=tuple(day(visit.visit_date) for visit in columns),
        panels=panels)


def score_panel(figure: ChartFigure, code: str) -> Panel:
    """The panel of score ``code`` (a known score); an empty one when it has no values."""
    found = figure.panel(code)
    if found is not None:
        return found
    definition = scoring.SCORES[code]
    return Panel(code, shown_label(definition.label),
                 scale_text(definition.minimum, definition.maximum, definition.unit,
                            definition.higher_is_better),
                 definition.minimum, definition.maximum,
                 (None,) * len(figure.x_labels), None)


@dataclass(frozen=True)
class _Axis:
    """Where the visits sit on x and how their names are written under the plot."""

    xs: tuple[float, ...]
    rotated: bool
    shown: tuple[bool, ...]  # whether each visit's name is written (crowded: some skipped)
    height: float  # room the names take under the plot


@lru_cache(maxsize=256)
def _axis(labels: tuple[str, ...]) -> _Axis:
    count = len(labels)
    plot_width = WIDTH - LEFT - RIGHT
    if count == 0:
        return _Axis((), False, (), 10)
    if count == 1:
        return _Axis((LEFT + plot_width / 2,), False, (True,), LABEL_SIZE + 8)
    longest = max(len(label) for label in labels)
    # Room at the ends for half of the first and last names, when written level.
    ends = max(len(labels[0]), len(labels[-1])) * LABEL_SIZE * CHAR_WIDTH / 2 - RIGHT + 2
    pad = min(max(PAD, ends), plot_width / 4)
    spacing = (plot_width - 2 * pad) / (count - 1)
    if longest * LABEL_SIZE * CHAR_WIDTH <= spacing - 4:
        xs = tuple(LEFT + pad + index * spacing for index in range(count))
        return _Axis(xs, False, (True,) * count, LABEL_SIZE + 8)
    spacing = (plot_width - 2 * PAD) / (count - 1)
    xs = tuple(LEFT + PAD + index * spacing for index in range(count))
    # Slanted names need about a line's height of room across them.
    step = max(1, math.ceil(ROTATED_SIZE * 1.3 / (spacing * math.sin(math.radians(ROTATION)))))
    shown = tuple(index % step == 0 or index == count - 1 for index in range(count))
    drop = longest * ROTATED_SIZE * CHAR_WIDTH * math.sin(math.radians(ROTATION))
    return _Axis(xs, True, shown, drop + ROTATED_SIZE + 10)


# A page draws two dozen panels of a few dozen elements each: the SVG is written with
# f-strings and the standard library's escape, which cost a fraction of markupsafe's.
_format = lru_cache(maxsize=8192)(scoring.format_score)


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _attributes(**values: object) -> str:
    """SVG presentation attributes (``stroke_width`` -> ``stroke-width``), escaped."""
    return "".join(f' {name.replace("_", "-")}="{html.escape(str(value))}"'
                   for name, value in values.items())


def _element(name: str, **values: object) -> str:
    return f"<{name}{_attributes(**values)}/>"


def _text(content: str, **values: object) -> str:
    return f"<text{_attributes(**values)}>{html.escape(content)}</text>"


def _shown(value: float) -> str:
    """A score as the page shows it (one decimal), with the reader's decimal sign."""
    return number(_format(value))


@lru_cache(maxsize=256)
def _grid(minimum: float, maximum: float, top: float, language: str) -> str:
    """The scale's lines and numbers (minimum, middle, maximum) and the y axis;
    ``language``: the one in force (its decimal sign is in the cached drawing)."""
    span = (maximum - minimum) or 1.0
    middle = (minimum + maximum) / 2
    parts = []
    for tick in dict.fromkeys((minimum, middle, maximum)):
        level = top + (maximum - tick) / span * PLOT_HEIGHT
        parts.append(_element("line", x1=LEFT, x2=WIDTH - RIGHT, y1=_number(level),
                              y2=_number(level), stroke=GRID, stroke_width=1))
        parts.append(_text(number(f"{tick:g}"), x=LEFT - 5, y=_number(level + 3.5),
                           text_anchor="end", fill=MUTED))
    parts.append(_element("line", x1=LEFT, x2=LEFT, y1=top, y2=top + PLOT_HEIGHT, stroke=GRID,
                          stroke_width=1))
    return "".join(parts)


@lru_cache(maxsize=256)
def _names(labels: tuple[str, ...], bottom: float) -> str:
    """The visits' ticks and names under the plot (the same in every panel of a page)."""
    axis = _axis(labels)
    parts = []
    for index, label in enumerate(labels):
        if not axis.shown[index]:
            continue
        x = _number(axis.xs[index])
        parts.append(_element("line", x1=x, x2=x, y1=_number(bottom), y2=_number(bottom + 4),
                              stroke=MUTED, stroke_width=1))
        if axis.rotated:
            label_y = _number(bottom + 10)
            parts.append(_text(label, x=x, y=label_y, font_size=ROTATED_SIZE,
                               text_anchor="end", fill=INK,
                               transform=f"rotate(-{ROTATION} {x} {label_y})"))
        else:
            parts.append(_text(label, x=x, y=_number(bottom + 15), text_anchor="middle",
                               fill=INK))
    return "".join(parts)


def _series(panel: Panel, axis: _Axis, to_y: Callable[[float], float],
            labels: Sequence[str], dates: Sequence[str]) -> list[str]:
    """The values' line (broken where one is missing) and points, each with its value as
    a tooltip."""
    parts: list[str] = []
    runs: list[list[str]] = [[]]
    points: list[str] = []
    for index, value in enumerate(panel.values):
        if value is None:
            runs.append([])
            continue
        x, y = _number(axis.xs[index]), _number(to_y(value))
        runs[-1].append(f"{x},{y}")
        tip = html.escape(f"{labels[index]} ({dates[index]}): {_shown(value)}")
        points.append(f'<circle cx="{x}" cy="{y}" r="3.5" fill="{LINE}"><title>{tip}</title>'
                      f"</circle>")
    for run in runs:
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{LINE}" '
                         f'stroke-width="2" stroke-linejoin="round"/>')
    return parts + points


def description(figure: ChartFigure, panel: Panel) -> str:
    """What the panel shows, in words (its accessible name and the image's title)."""
    values = [f"{label} {_shown(value)}"
              for label, value in zip(figure.x_labels, panel.values, strict=True)
              if value is not None]
    text = _("%(score)s (%(scale)s) at each visit: %(values)s.", score=panel.label,
             scale=panel.scale, values=", ".join(values) or _("no values recorded"))
    if panel.baseline is not None:
        text += " " + _("Dashed line: baseline, %(value)s.", value=_shown(panel.baseline))
    return text


def panel_svg(figure: ChartFigure, panel: Panel, *, standalone: bool = False) -> Markup:
    """One panel as SVG: inline in the page (scaled by CSS), or ``standalone`` as a
    document of its own with a title, a legend and a white background."""
    axis = _axis(figure.x_labels)
    top = TOP + (STANDALONE_HEADER if standalone else 0)
    bottom = top + PLOT_HEIGHT
    height = bottom + axis.height + (STANDALONE_FOOTER if standalone else 0)
    span = (panel.maximum - panel.minimum) or 1.0

    def y(value: float) -> float:
        clipped = min(max(value, panel.minimum), panel.maximum)
        return top + (panel.maximum - clipped) / span * PLOT_HEIGHT

    ident = f"chart-{panel.code}-title"
    opening = (f'<svg viewBox="0 0 {WIDTH} {_number(height)}" role="img" '
               f'aria-labelledby="{ident}" font-family="{FONT}" font-size="{LABEL_SIZE}"')
    if standalone:
        opening = (f'<?xml version="1.0" encoding="UTF-8"?>\n{opening} '
                   f'xmlns="http://www.w3.org/2000/svg" '
                   f'width="{WIDTH * STANDALONE_SCALE}" '
                   f'height="{_number(height * STANDALONE_SCALE)}"')
    else:
        opening += ' class="chart" focusable="false"'
    parts = [opening + ">",
             f'<title id="{ident}">{html.escape(description(figure, panel))}</title>']
    if standalone:
        parts.append(_element("rect", x=0, y=0, width=WIDTH, height=_number(height),
                              fill="#ffffff"))
        parts.append(_text(panel.label, x=LEFT, y=TOP + 14, font_size=13, font_weight=700,
                           fill=INK))
        parts.append(_text(panel.scale, x=LEFT, y=TOP + 30, font_size=10, fill=MUTED))
    parts.append(_grid(panel.minimum, panel.maximum, top, current_language()))
    right = WIDTH - RIGHT
    if panel.baseline is not None:
        level = _number(y(panel.baseline))
        parts.append(_element("line", x1=LEFT, x2=right, y1=level, y2=level, stroke=BASELINE,
                              stroke_width=1.3, stroke_dasharray="5 3"))
    parts.extend(_series(panel, axis, y, figure.x_labels, figure.x_dates))
    if not panel.has_values:
        parts.append(_text(_("No values recorded"), x=_number(LEFT + (right - LEFT) / 2),
                           y=_number(top + PLOT_HEIGHT / 2), text_anchor="middle",
                           fill=MUTED))
    parts.append(_names(figure.x_labels, bottom))
    if standalone:
        legend_y = _number(height - 8)
        parts.append(_element("line", x1=LEFT, x2=LEFT + 18, y1=_number(height - 11),
                              y2=_number(height - 11), stroke=LINE, stroke_width=2))
        parts.append(_text(_("Values"), x=LEFT + 23, y=legend_y, fill=INK))
        parts.append(_element("line", x1=LEFT + 80, x2=LEFT + 98, y1=_number(height - 11),
                              y2=_number(height - 11), stroke=BASELINE, stroke_width=1.3,
                              stroke_dasharray="5 3"))
        parts.append(_text(_("Baseline"), x=LEFT + 103, y=legend_y, fill=INK))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  # nosec B704 - every text above is escaped


__all__ = ["ChartFigure", "Panel", "chart_figure", "description", "panel_svg", "score_panel"]

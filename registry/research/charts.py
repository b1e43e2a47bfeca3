"""Charts of an outcome summary, drawn with matplotlib (Agg backend) as SVG or PNG bytes.

- ``change``: mean change from baseline of one score with its 95 % CI band over time
  (days since treatment at each timepoint's target), one line per group;
- ``responders``: OMERACT-OARSI responder rate by follow-up timepoint, bars per group with
  Wilson 95 % CIs (``scoring.intervals``).

What a reader needs to judge a point is on the chart: each group's size in the legend
("Female (n = 12)"), the n behind each point or bar next to it ("n=9"), the legend outside
the data area (``layout="constrained"``, ``loc="outside right upper"``).  The change axis
spans every change the score allows (± its range in the catalogue, ``scoring.SCORES``), so
changes look as large as they are; a t interval of few values can reach past that, so the
band is cut at the limit and the cut marked (▲ / ▼ at the edge and a legend entry).

A point or bar is drawn only where the summary has a value: cells without data, or
suppressed for a researcher (``disclosure``), are left out rather than drawn as 0.

The SVG is served under the content security policy (``style-src 'self'``), which also
applies when a browser opens it as a document of its own ("Open image"), and would drop
matplotlib's ``<style>`` element and ``style=""`` attributes there.  ``csp_safe_svg`` turns
them into SVG presentation attributes (``fill="#1f77b4"``), which the policy allows, and
text stays text (``svg.fonttype`` "none"): readable by a screen reader and by a test.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # text as <text>, not glyph outlines
matplotlib.rcParams["svg.hashsalt"] = "koa-registry"  # the same ids for the same chart

from flask_babel import gettext as _  # noqa: E402
from markupsafe import escape  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

import scoring  # noqa: E402
from registry.research.estimates import Estimate, ScoreRow, Small, Summary  # noqa: E402
from registry.research.language import words  # noqa: E402
from registry.research.options import CHART_FORMATS, CHART_KINDS, GROUPS  # noqa: E402

SIZE = (9.0, 4.2)  # inches at 100 dpi: the summary page shows it 900 × 420
N_SIZE = 7.5  # font size of the "n=" labels
CLIP_MARKERS = {"high": "^", "low": "v"}
NOTE_HEIGHT = 0.045  # of the figure, below the axes: the chart's note


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=SIZE, dpi=100)
    # Constrained layout keeps the legend outside the axes; the bottom strip holds the note.
    figure.set_layout_engine("constrained", rect=(0, NOTE_HEIGHT, 1, 1 - NOTE_HEIGHT))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.grid(True, alpha=0.3)
    return figure, axes


def n_text(n: int | Small) -> str:
    """"n=12", or "n<5" for a suppressed count."""
    return f"n<{n.k}" if isinstance(n, Small) else f"n={n}"


def group_label(summary: Summary, group: str) -> str:
    """The legend's name of a group with its number of patients: "Female (n = 12)"."""
    size = summary.group_sizes.get(group)
    if size is None:
        return group
    shown = f"< {size.k}" if isinstance(size, Small) else f"= {size}"
    return f"{group} (n {shown})"


def _legend(figure: Figure, summary: Summary, handles: list[object]) -> None:
    """The legend to the right of the axes, never over the data."""
    title = _(GROUPS[summary.group_by][0]) if summary.group_by in GROUPS else None
    figure.legend(handles=handles, loc="outside right upper", title=title, fontsize=8,
                  title_fontsize=8, frameon=False)


def _drawn(row: ScoreRow) -> Estimate | None:
    """The estimate a change chart plots for ``row``: baseline is change 0 with the n of
    baseline values (when there are any, or they are suppressed); follow-up its change."""
    if row.is_baseline:
        n = row.value.n
        return Estimate(n, 0.0, 0.0, 0.0) if isinstance(n, Small) or n > 0 else None
    return row.change if row.change.mean is not None else None


def change_chart(summary: Summary) -> Figure:
    """Mean change with its CI band cut at ± the score's range, n at each point."""
    score = scoring.SCORES[summary.score]
    span = float(score.maximum - score.minimum)
    figure, axes = _figure()
    handles: list[object] = []
    cut = {"low": False, "high": False}
    for index, group in enumerate(summary.groups):
        points = [(row.target_day, estimate) for row in summary.scores if row.group == group
                  for estimate in [_drawn(row)] if estimate is not None]
        if not points:
            continue
        days = [day for day, _estimate in points]
        means = [float(estimate.mean or 0.0) for _day, estimate in points]
        lows = [mean if estimate.low is None else estimate.low
                for mean, (_day, estimate) in zip(means, points, strict=True)]
        highs = [mean if estimate.high is None else estimate.high
                 for mean, (_day, estimate) in zip(means, points, strict=True)]
        line = axes.plot(days, means, marker="o", label=group_label(summary, group))[0]
        colour = line.get_color()
        handles.append(line)
        axes.fill_between(days, [max(low, -span) for low in lows],
                          [min(high, span) for high in highs], alpha=0.2, color=colour,
                          linewidth=0)
        for side, edge, beyond in (("low", -span, [low < -span for low in lows]),
                                   ("high", span, [high > span for high in highs])):
            at = [day for day, out in zip(days, beyond, strict=True) if out]
            if at:
                cut[side] = True
                axes.plot(at, [edge] * len(at), linestyle="none", color=colour,
                          marker=CLIP_MARKERS[side], markersize=8, markeredgecolor="black",
                          clip_on=False, zorder=4)
        for day, mean, (_day, estimate) in zip(days, means, points, strict=True):
            axes.annotate(n_text(estimate.n), (day, mean), xytext=(5, 5 + 9 * index),
                          textcoords="offset points", fontsize=N_SIZE, color=colour)
    axes.margins(x=0.08)  # room for the last point's "n=" label
    axes.axhline(0, color="black", linewidth=0.8)
    for edge in (-span, span):  # the largest change the scale allows
        axes.axhline(edge, color="#57606a", linewidth=0.8, linestyle=(0, (4, 3)))
    axes.set_ylim(-span * 1.08, span * 1.08)
    handles.append(Patch(color="#57606a", alpha=0.3, label=_("95% CI")))
    for side, text in (("high", _("CI cut at the upper limit")),
                       ("low", _("CI cut at the lower limit"))):
        if cut[side]:
            handles.append(Line2D([], [], linestyle="none", marker=CLIP_MARKERS[side],
                                  color="#57606a", markeredgecolor="black", label=text))
    direction = _("higher is better") if score.higher_is_better else _("lower is better")
    axes.set_title(_("%(score)s: mean change from baseline (95%% CI)", score=words(score.label)))
    axes.set_xlabel(_("Days since treatment (timepoint target)"))
    axes.set_ylabel(_("Change (%(unit)s; %(direction)s)", unit=words(score.unit),
                      direction=direction))
    figure.text(0.01, 0.012, _("Dashed lines: largest possible change (±%(span)s). "
                               "n: patients behind each point.",
                               span=scoring.format_score(span, 0)),
                fontsize=N_SIZE, color="#57606a")
    _legend(figure, summary, handles)
    return figure


def responder_chart(summary: Summary) -> Figure:
    """Responder rate per follow-up timepoint and group, Wilson 95 % CI, n above each bar."""
    figure, axes = _figure()
    names = list(dict.fromkeys(row["timepoint"] for row in summary.responders))
    width = 0.8 / max(len(summary.groups), 1)
    handles: list[object] = []
    for offset, group in enumerate(summary.groups):
        shown = []
        for index, name in enumerate(names):
            match = [row["rate"] for row in summary.responders
                     if row["timepoint"] == name and row["group"] == group]
            if match and match[0].percent is not None:
                shown.append((index + offset * width, match[0]))
            elif match and match[0].n == 0:  # nobody evaluable yet: say so, draw no bar
                axes.annotate(n_text(0), (index + offset * width, 0), xytext=(0, 3),
                              textcoords="offset points", ha="center", fontsize=N_SIZE)
        bars = axes.bar([position for position, _rate in shown],
                        [rate.percent for _position, rate in shown], width=width,
                        label=group_label(summary, group))
        handles.append(bars)
        if not shown:
            continue
        axes.errorbar([position for position, _rate in shown],
                      [rate.percent for _position, rate in shown],
                      yerr=[[rate.percent - rate.low for _position, rate in shown],
                            [rate.high - rate.percent for _position, rate in shown]],
                      fmt="none", ecolor="black", elinewidth=0.9, capsize=3)
        for position, rate in shown:
            axes.annotate(n_text(rate.n), (position, rate.high), xytext=(0, 3),
                          textcoords="offset points", ha="center", fontsize=N_SIZE)
    handles.append(Line2D([], [], color="black", marker="|", markersize=10, linestyle="none",
                          label=_("Wilson 95% CI")))
    axes.set_xticks([index + width * (len(summary.groups) - 1) / 2
                     for index in range(len(names))], names)
    axes.set_ylim(0, 112)  # room for the n above a bar at 100 %
    axes.set_yticks(range(0, 101, 20))
    axes.set_ylabel(_("Responders (share of evaluable patients, %)"))
    axes.set_title(_("OMERACT-OARSI responders by timepoint (Wilson 95% CI)"))
    figure.text(0.01, 0.012, _("n: evaluable patients behind each bar."),
                fontsize=N_SIZE, color="#57606a")
    _legend(figure, summary, handles)
    return figure


def title(summary: Summary, kind: str) -> str:
    """The chart's name, for the SVG's <title> (what a screen reader announces)."""
    label = words(scoring.SCORES[summary.score].label)
    return (_("%(score)s: mean change from baseline by timepoint", score=label)
            if kind == "change" else _("OMERACT-OARSI responder rate by timepoint"))


def render(summary: Summary, kind: str, fmt: str) -> bytes:
    """The chart as bytes; SVG without a creation date and without inline style."""
    if kind not in CHART_KINDS or fmt not in CHART_FORMATS:
        raise ValueError(f"unknown chart {kind}.{fmt}")
    figure = change_chart(summary) if kind == "change" else responder_chart(summary)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    figure.savefig(buffer, format=fmt, metadata=metadata)
    if fmt != "svg":
        return buffer.getvalue()
    return csp_safe_svg(buffer.getvalue(), title(summary, kind))


# SVG presentation attributes matplotlib's style declarations map to (SVG 1.1 §7.1).
PRESENTATION = frozenset({
    "clip-path", "clip-rule", "color", "dominant-baseline", "fill", "fill-opacity",
    "fill-rule", "font-family", "font-size", "font-style", "font-variant", "font-weight",
    "letter-spacing", "opacity", "stroke", "stroke-dasharray", "stroke-dashoffset",
    "stroke-linecap", "stroke-linejoin", "stroke-miterlimit", "stroke-opacity",
    "stroke-width", "text-anchor", "visibility", "word-spacing",
})
_STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>\s*", re.DOTALL)
_TAG = re.compile(r"<[^<>!?]+>")  # markup only: text is escaped (no raw < or >)
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
_ROOT = re.compile(r"<svg\b[^>]*>")


def presentation_attributes(declarations: str, *, strict: bool = False) -> str:
    """' fill="#fff" stroke="none"' for 'fill: #fff; stroke: none'.  Properties that are
    not presentation attributes are dropped (``strict``: a ``ValueError``, for tests)."""
    attributes = []
    for declaration in declarations.split(";"):
        name, colon, value = declaration.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name:
            continue
        if name not in PRESENTATION:
            if strict:
                raise ValueError(f"no SVG presentation attribute for {name!r}")
            continue
        attributes.append(f' {name}="{value}"')  # the value is still attribute-escaped
    return "".join(attributes)


def csp_safe_svg(svg: bytes, name: str | None = None, *, strict: bool = False) -> bytes:
    """matplotlib's SVG without ``<style>`` or ``style=""``: the same look as presentation
    attributes (its one global rule, ``*{stroke-linejoin: round; stroke-linecap: butt}``,
    on the root, where they inherit), and a ``<title>`` naming the chart."""
    text = svg.decode("utf-8")
    rules = [rule for block in _STYLE_ELEMENT.findall(text)
             for rule in re.findall(r"\*\s*\{([^}]*)\}", block)]
    text = _STYLE_ELEMENT.sub("", text)
    text = _TAG.sub(lambda tag: _STYLE_ATTRIBUTE.sub(
        lambda match: presentation_attributes(match.group(1), strict=strict), tag.group(0)),
        text)
    inherited = "".join(presentation_attributes(rule, strict=strict) for rule in rules)
    heading = f"<title>{escape(name)}</title>" if name else ""
    text = _ROOT.sub(lambda root: root.group(0)[:-1] + inherited + ">" + heading, text,
                     count=1)
    return text.encode("utf-8")

"""The summary charts a statistician can read: group sizes and each point's n on the
chart, CI bands cut at the scale's limits with the cut marked, the legend outside the data,
and an SVG that needs no inline style (the content security policy forbids it)."""

from __future__ import annotations

import re

import pytest
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D

import scoring
from registry.research import charts
from registry.research.dataset import TimepointInfo
from registry.research.estimates import Estimate, Proportion, ScoreRow, Share, Small, Summary

TIMEPOINTS = [TimepointInfo("baseline", "Baseline", True, 0),
              TimepointInfo("w2_6", "2–6 weeks", False, 28),
              TimepointInfo("m3", "3 months", False, 91)]


def summary(*, low: float = -45.0, high: float = -5.0, groups: tuple[str, ...] = ("Female",
            "Male"), sizes: dict[str, int | Small] | None = None) -> Summary:
    """VAS pain (0-100: changes from -100 to 100); the first group's 3-month change has
    the CI ``low`` to ``high`` and n 2, everything else n 7 and a CI inside the range."""
    rows, responders = [], []
    for index, group in enumerate(groups):
        rows.append(ScoreRow(group, "baseline", "Baseline", 0, True, Estimate(9, 60, 50, 70),
                             Estimate(0, 0.0, None, None), {}))
        rows.append(ScoreRow(group, "w2_6", "2–6 weeks", 28, False, Estimate(7, 40, 30, 50),
                             Estimate(7, -20, -30, -10), {}))
        m3 = Estimate(2, -25, low, high) if index == 0 else Estimate(7, -15, -25, -5)
        rows.append(ScoreRow(group, "m3", "3 months", 91, False, Estimate(7, 35, 20, 50), m3,
                             {}))
        for code, name, events in (("w2_6", "2–6 weeks", 3), ("m3", "3 months", 5)):
            responders.append({"timepoint": name, "code": code, "group": group,
                               "target_day": 28, "rate": Proportion(7 + index, events)})
    return Summary("vas_pain", "sex" if len(groups) > 1 else None, list(groups), TIMEPOINTS,
                   18, [], rows, responders, [], ["mcii", "pass"], "t",
                   group_sizes=sizes or dict.fromkeys(groups, 9))


def clip_markers(figure, marker: str) -> list[Line2D]:
    return [line for line in figure.axes[0].get_lines() if line.get_marker() == marker
            and line.get_linestyle() == "None"]


def legend_texts(figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def test_band_beyond_the_range_is_cut_and_marked():
    figure = charts.change_chart(summary(low=-130.0, high=12.0))
    markers = clip_markers(figure, "v")
    assert len(markers) == 1
    assert list(markers[0].get_xdata()) == [91]
    assert list(markers[0].get_ydata()) == [-100.0]
    assert clip_markers(figure, "^") == []
    assert "CI cut at the lower limit" in legend_texts(figure)
    assert "CI cut at the upper limit" not in legend_texts(figure)
    for band in (c for c in figure.axes[0].collections if isinstance(c, PolyCollection)):
        for path in band.get_paths():
            assert path.vertices[:, 1].min() >= -100.0
            assert path.vertices[:, 1].max() <= 100.0
    low, high = figure.axes[0].get_ylim()
    assert low < -100
    assert high > 100


def test_band_inside_the_range_is_not_marked():
    figure = charts.change_chart(summary())
    assert clip_markers(figure, "v") == []
    assert clip_markers(figure, "^") == []
    assert not any("CI cut" in text for text in legend_texts(figure))


def test_upper_cut_on_a_higher_is_better_scale():
    koos = summary(low=-10.0, high=140.0)
    koos.score = "koos_pain"
    figure = charts.change_chart(koos)
    span = scoring.SCORES["koos_pain"].maximum - scoring.SCORES["koos_pain"].minimum
    assert list(clip_markers(figure, "^")[0].get_ydata()) == [span]
    assert "CI cut at the upper limit" in legend_texts(figure)


@pytest.mark.parametrize("kind", ["change", "responders"])
@pytest.mark.parametrize("groups", [("Female", "Male"), ("All patients",)])
def test_legend_is_outside_the_data_area(kind, groups):
    data = summary(groups=groups, low=-130.0)
    figure = charts.change_chart(data) if kind == "change" else charts.responder_chart(data)
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)  # the constrained layout places the legend at draw time
    axes = figure.axes[0].get_window_extent(renderer)
    assert figure.legends, "no legend"
    for legend in figure.legends:
        box = legend.get_window_extent(renderer)
        assert not box.overlaps(axes), (box, axes)
        assert box.x0 >= axes.x1  # to the right of the data
        assert box.x1 <= figure.bbox.x1 + 0.5  # and inside the picture


def svg_texts(svg: bytes) -> list[str]:
    return re.findall(r"<text\b[^>]*>([^<]*)</text>", svg.decode("utf-8"))


@pytest.mark.parametrize("kind", ["change", "responders"])
def test_group_sizes_and_each_points_n_are_in_the_svg_text(kind):
    texts = svg_texts(charts.render(summary(sizes={"Female": 9, "Male": Small(5)}),
                                    kind, "svg"))
    assert "Female (n = 9)" in texts
    assert "Male (n &lt; 5)" in texts  # a suppressed group size stays suppressed
    if kind == "change":
        assert texts.count("n=7") >= 2
        assert "n=2" in texts
        assert "n=9" in texts
    else:
        assert {"n=7", "n=8"} <= set(texts)


def test_points_without_a_value_are_left_out():
    data = summary()
    data.scores[-1] = ScoreRow("Male", "m3", "3 months", 91, False,
                               Estimate(Small(5), None, None, None),
                               Estimate(Small(5), None, None, None), {})
    data.responders[-1] = {**data.responders[-1], "rate": Share(Small(5), Small(5))}
    change = svg_texts(charts.render(data, "change", "svg"))
    assert "n&lt;5" not in change  # neither the point nor its n is drawn
    male = next(line for line in charts.change_chart(data).axes[0].get_lines()
                if line.get_label().startswith("Male"))
    assert list(male.get_xdata()) == [0, 28]
    bars = charts.responder_chart(data).axes[0].containers
    assert [len(container) for container in bars if hasattr(container, "patches")] == [2, 1]


@pytest.mark.parametrize("kind", ["change", "responders"])
def test_svg_has_no_inline_style_and_keeps_its_look(kind):
    svg = charts.render(summary(low=-130.0), kind, "svg").decode("utf-8")
    assert "<style" not in svg
    assert "style=" not in svg
    assert "<script" not in svg
    assert 'fill="#1f77b4"' in svg  # the first group's colour, now an attribute
    assert re.search(r'<svg\b[^>]*stroke-linejoin="round"[^>]*>', svg)  # matplotlib's rule
    assert re.search(r"<svg\b[^>]*><title>VAS pain: mean change|<title>OMERACT-OARSI", svg)
    assert re.search(r'<text\b[^>]*font-size="[\d.]+px"', svg)


@pytest.mark.parametrize("kind", ["change", "responders"])
def test_every_style_matplotlib_writes_has_a_presentation_attribute(kind, monkeypatch):
    """Strict conversion of both charts: no declaration is dropped on the way."""
    seen: list[bytes] = []
    real = charts.csp_safe_svg
    monkeypatch.setattr(charts, "csp_safe_svg",
                        lambda svg, name=None: seen.append(svg) or real(svg, name))
    charts.render(summary(low=-130.0, high=120.0), kind, "svg")
    assert b"style=" in seen[0]  # matplotlib's own output, before the conversion
    assert b"style=" not in real(seen[0], strict=True)


def test_presentation_attributes():
    assert charts.presentation_attributes("fill: #fff; stroke-width: 0.8") == (
        ' fill="#fff" stroke-width="0.8"')
    assert charts.presentation_attributes("font: 10px sans; fill: none") == ' fill="none"'
    with pytest.raises(ValueError, match="font"):
        charts.presentation_attributes("font: 10px sans", strict=True)


def test_text_that_looks_like_markup_is_left_alone():
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg"><style>*{stroke-linecap: butt}</style>'
           b'<text style="fill: red">a style="b" &lt;c&gt;</text></svg>')
    out = charts.csp_safe_svg(svg, "T & U").decode("utf-8")
    assert out == ('<svg xmlns="http://www.w3.org/2000/svg" stroke-linecap="butt">'
                   '<title>T &amp; U</title><text fill="red">a style="b" &lt;c&gt;</text></svg>')


def test_charts_of_the_cohort_name_group_sizes(auth, client, cohort_data):
    auth.login("admin")
    svg = client.get("/research/cohorts/all/charts/change.svg?score=vas_pain&group=sex")
    assert svg.status_code == 200
    texts = svg_texts(svg.data)
    assert "Female (n = 2)" in texts
    assert "Male (n = 1)" in texts
    assert "n=1" in texts  # the one 3-month change of a woman
    assert b"style=" not in svg.data


def test_charts_keep_a_researchers_small_counts_hidden(auth, client, cohort_data):
    auth.login("researcher")
    hidden = svg_texts(client.get(
        "/research/cohorts/all/charts/responders.svg?score=vas_pain&group=sex").data)
    assert "Female (n &lt; 5)" in hidden
    assert "Male (n &lt; 5)" in hidden
    assert not [text for text in hidden if re.fullmatch(r"n=\d+", text)]

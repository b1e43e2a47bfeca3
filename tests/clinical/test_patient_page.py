"""The patient page: header, schedule, score table, and a query count that does not grow."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from flask import url_for

from registry import audit_capture as capture
from registry.models import AdverseEvent, Visit
from tests.clinical.conftest import TODAY
from tests.clinical.helpers import all_items
from tests.fixtures.database import recorded_statements


@pytest.fixture
def app_settings() -> dict[str, Any]:
    """This module only reads pages (signed in with ``auth.login``, which posts the sign-in
    without its form): CSRF off."""
    return {"TODAY": TODAY.isoformat()}


TREATED = date(2026, 1, 1)


def full_answers(level: int) -> dict[str, dict]:
    return {"vas": {"VAS": 20 * level}, "pga": {"PGA": 15 * level},
            "womac": all_items("womac", level), "koos": all_items("koos", level)}


def patient_with_visits(db, make_patient, record_visit, site, visit_count: int):
    """A treated patient with ``visit_count`` done visits (4 scheduled + unscheduled)."""
    patient = make_patient(site, treatment_date=TREATED)
    scheduled = sorted(patient.visits, key=lambda v: v.target_date)
    dates = [date(2025, 12, 20), date(2026, 1, 28), date(2026, 4, 1), date(2026, 5, 20)]
    for visit, visit_date, level in zip(scheduled, dates, (3, 2, 1, 1), strict=True):
        record_visit(visit, visit_date, full_answers(level))
    for extra in range(visit_count - len(scheduled)):
        visit = Visit(patient_id=patient.id, status="scheduled")
        db.add(visit)
        db.flush()
        record_visit(visit, date(2026, 2, 1) + timedelta(days=7 * extra), full_answers(2))
    db.add(AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 3), description="Pain",
                        category="local_pain", severity_grade=1, relatedness="probably",
                        outcome="resolved", resolution_date=date(2026, 1, 6)))
    db.add(AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 9),
                        description="Septic arthritis", category="infection", severity_grade=3,
                        serious=True, serious_criterion="hospitalisation",
                        relatedness="possibly", outcome="ongoing"))
    db.flush()
    return patient


def test_patient_page_shows_header_schedule_scores_and_events(auth, client, db, site_a,
                                                              make_patient, record_visit):
    patient = patient_with_visits(db, make_patient, record_visit, site_a, 4)
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f"<h1>{patient.study_id}" in html
    assert "Clinic A" in html
    assert "Left" in html
    assert "<dt>KL grade</dt><dd>2</dd>" in html
    assert "<dt>Days since treatment</dt><dd>151</dd>" in html  # 2026-01-01 -> 2026-06-01
    for name in ("Baseline", "2–6 weeks", "3 months", "6–12 months"):
        assert f'<th scope="row">{name}</th>' in html
    assert "WOMAC Function (0-100)" in html
    assert "KOOS Pain" in html
    # VAS 60 at baseline, 20 at 3 months: -40.0 (-66.7 %).
    assert "-40.0 (-66.7 %)" in html
    assert "OMERACT-OARSI responder" in html
    assert '<tr class="serious">' in html
    assert "Septic arthritis" in html


def test_query_count_does_not_grow_with_visits(app, auth, client, db, site_a, make_patient,
                                               record_visit):
    few = patient_with_visits(db, make_patient, record_visit, site_a, 4)
    many = patient_with_visits(db, make_patient, record_visit, site_a, 10)
    auth.login("clinician", sites=[site_a])
    engine = app.extensions["registry.engine"]
    counts = {}
    for patient in (few, many):
        client.get(f"/patients/{patient.id}")  # warm caches
        with recorded_statements(engine) as statements:
            response = client.get(f"/patients/{patient.id}")
        assert response.status_code == 200
        counts[patient.id] = len(statements)
    assert counts[few.id] == counts[many.id], counts
    assert counts[many.id] <= 15, counts
    html = client.get(f"/patients/{many.id}").get_data(as_text=True)
    assert html.count("Unscheduled") >= 6


def test_patient_page_cells_flags_and_links(auth, client, db, site_a, make_patient,
                                            record_visit):
    patient = make_patient(site_a, treatment_date=TREATED)
    baseline, early, three_months, _late = sorted(patient.visits, key=lambda v: v.target_date)
    record_visit(baseline, date(2025, 12, 20), full_answers(3))
    record_visit(early, date(2026, 1, 28), {"vas": {"VAS": 70}, "koos": all_items("koos", None)})
    record_visit(three_months, date(2026, 4, 1), full_answers(1))
    db.add(AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 9),
                        description="Septic arthritis", category="infection", severity_grade=3,
                        serious=True, serious_criterion="hospitalisation",
                        relatedness="possibly", outcome="ongoing"))
    db.flush()
    event = db.query(AdverseEvent).filter_by(patient_id=patient.id).one()
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    # VAS 60 -> 70 is 10 mm worse; 60 -> 20 meets MCII (19.9 mm) and PASS (<= 32.3 mm).
    assert '<span class="change worse">+10.0 (+16.7 %) worse</span>' in html
    assert ('<span class="change better">-40.0 (-66.7 %) better</span>\n          '
            '<span class="badge badge-ok">MCII: yes</span>'
            '<span class="badge badge-ok">PASS: yes</span>') in html
    assert '<span class="badge badge-plain">PASS: no</span>' in html
    # KOOS with every item missing: not scorable, with the reason.
    assert '<span class="not-scorable">not scorable</span><span class="reason">' in html
    with client.application.test_request_context("/"):
        links = [url_for("clinical.visit_entry", patient_id=patient.id, visit_id=visit.id)
                 for visit in (baseline, early, three_months)]
        links += [url_for("clinical.score_chart", patient_id=patient.id, score_code=code)
                  for code in ("vas_pain", "koos_pain", "womac_function_norm")]
        links += [url_for(endpoint, patient_id=patient.id, event_id=event.id)
                  for endpoint in ("clinical.adverse_event_edit",
                                   "clinical.adverse_event_review")]
    for link in links:
        assert f'="{link}"' in html, link
    assert "Mark reviewed" in html
    assert "Add an unscheduled visit" in html


def test_adverse_events_are_read_only_for_patients_who_have_them(
        app, auth, client, db, site_a, make_patient):
    without = make_patient(site_a, treatment_date=TREATED)
    with_event = make_patient(site_a, treatment_date=TREATED)
    db.add(AdverseEvent(patient_id=with_event.id, onset_date=date(2026, 1, 9),
                        description="Effusion after injection", category="swelling",
                        severity_grade=1, serious=False, relatedness="possibly",
                        outcome="ongoing"))
    db.flush()
    auth.login("clinician", sites=[site_a])
    engine = app.extensions["registry.engine"]
    reads_events = {}
    for patient in (without, with_event):
        with recorded_statements(engine) as statements:
            html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
        reads_events[patient.id] = [s for s in statements if "FROM adverse_event" in s
                                    and "EXISTS" not in s.upper()]
        assert ("No adverse events recorded." in html) is (patient is without)
        assert ("Effusion after injection" in html) is (patient is with_event)
    assert reads_events[without.id] == []
    assert len(reads_events[with_event.id]) == 1


def test_scores_follow_the_catalogue_with_range_direction_and_help(auth, client, db, site_a,
                                                                   make_patient,
                                                                   record_visit):
    """Rows in catalogue order, each with its range and direction; an anchor question asked
    at follow-ups only (GRC) shows its value with the change "—"; the help text comes from
    the instruments' descriptions and the study's threshold set."""
    import scoring

    patient = make_patient(site_a, treatment_date=TREATED)
    baseline, _early, three_months, _late = sorted(patient.visits, key=lambda v: v.target_date)
    record_visit(baseline, date(2025, 12, 20), {"vas": {"VAS": 60}, "nrs": {"NRS": 7}})
    record_visit(three_months, date(2026, 4, 1), {"vas": {"VAS": 20}, "nrs": {"NRS": 3},
                                                  "grc": {"GRC": 2}})
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    labels = [scoring.SCORES[code].label for code in ("vas_pain", "nrs_pain", "grc")]
    positions = [html.index(f'<span class="score-label">{label}</span><br>') for label in labels]
    assert positions == sorted(positions)  # catalogue order
    assert '<span class="hint">0–10 points, higher = worse</span>' in html
    assert '<span class="hint">-3–3 points, higher = better</span>' in html
    grc_row = html[positions[2]:html.index("</tr>", positions[2])]
    assert '<span class="value">2.0</span>' in grc_row
    assert '<span class="change">—</span>' in grc_row
    assert '<span class="change better">-4.0 (-57.1 %) better</span>' in html  # NRS 7 -> 3
    for code in ("vas", "nrs", "grc"):
        assert scoring.INSTRUMENTS[code].description in unescape(html)
    chosen = scoring.threshold_set(scoring.DEFAULT_THRESHOLD_SET)
    assert chosen.label in unescape(html)
    assert "Perrot" in html  # the NRS thresholds' citation


# --- adverse events at the top, charts, separators (issue 15, point 4) -------------------


def sections(html: str) -> list[str]:
    """The ids of the page's section headings, in page order."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    return [heading["id"] for heading in soup.select("main section h2[id]")]


def test_serious_events_awaiting_review_and_summary_come_first(auth, client, db, site_a,
                                                               make_patient, record_visit):
    from bs4 import BeautifulSoup

    patient = patient_with_visits(db, make_patient, record_visit, site_a, 4)
    db.add(AdverseEvent(patient_id=patient.id, onset_date=date(2026, 2, 9),
                        description="Effusion", category="swelling", severity_grade=2,
                        relatedness="possibly", outcome="ongoing"))
    db.flush()
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    order = sections(html)
    assert order[:3] == ["sae-heading", "ae-summary-heading", "schedule-heading"], order
    assert order.index("ae-summary-heading") < order.index("charts-heading")
    soup = BeautifulSoup(html, "html.parser")
    alert = soup.find("section", id="serious-awaiting-review")
    [item] = alert.find_all("li")
    text = " ".join(item.get_text().split())
    assert text.startswith("onset 2026-01-09 · Infection · grade 3 — severe · Requires or "
                           "prolongs hospitalisation: Septic arthritis"), text
    serious = db.query(AdverseEvent).filter_by(patient_id=patient.id, serious=True).one()
    assert item.find("a")["href"] == f"#adverse-event-{serious.id}"
    assert soup.find(id=f"adverse-event-{serious.id}") is not None  # the link's target
    summary = soup.find("section", class_="ae-summary")
    assert "3 events · 1 serious · 2 ongoing · 3 awaiting review" in " ".join(
        summary.find("p").get_text(" ", strip=True).split())
    counts = {row.find("th").get_text(strip=True): [
        " ".join(li.get_text(" ", strip=True).split()) for li in row.find_all("li")]
        for row in summary.find_all("tr")}
    assert counts == {
        "Seriousness": ["Serious 1", "Not serious 2"],
        "Severity grade": ["1 — mild 1", "2 — moderate 1", "3 — severe 1"],
        "Relation to treatment": ["Possibly related 2", "Probably related 1"],
        "Category": ["Local pain 1", "Swelling / effusion 1", "Infection 1"],
        "Outcome": ["Ongoing 2", "Resolved 1"],
    }


def test_patient_without_events_says_so_once_at_the_top(auth, client, db, site_a,
                                                        make_patient):
    patient = make_patient(site_a, treatment_date=TREATED)
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert sections(html)[:2] == ["ae-summary-heading", "schedule-heading"]
    assert html.count("No adverse events recorded.") == 1
    assert "sae-heading" not in html


def test_charts_are_one_inline_figure_on_each_scales_range(auth, client, db, site_a,
                                                          make_patient, record_visit):
    import xml.etree.ElementTree as ElementTree

    from bs4 import BeautifulSoup

    patient = patient_with_visits(db, make_patient, record_visit, site_a, 6)
    auth.login("clinician", sites=[site_a])
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    charts = soup.find("section", attrs={"aria-labelledby": "charts-heading"})
    assert charts.find("img") is None  # drawn in the page: no image request per score
    panels = charts.find_all("figure", class_="chart-panel")
    shown = [panel["data-score"] for panel in panels]
    assert shown[:2] == ["vas_pain", "pga"]
    assert "koos_pain" in shown
    assert "style" not in str(charts).replace("stylesheet", "")  # no inline style (CSP)
    vas = panels[0]
    svg = vas.find("svg")
    assert svg["role"] == "img"
    assert svg.find("title").get_text().startswith("VAS pain")
    ticks = [text.get_text() for text in svg.find_all("text")]
    assert ticks[:3] == ["0", "50", "100"]  # the whole 0–100 mm range, whatever the values
    dashed = svg.find_all("line", attrs={"stroke-dasharray": True})
    assert len(dashed) == 1  # the baseline
    assert len(svg.find_all("circle")) == 6  # a point per visit with a VAS
    ElementTree.fromstring(str(svg))  # noqa: S314 - well-formed (the app's own SVG)
    assert vas.find("a", class_="open-image")["href"] == \
        f"/patients/{patient.id}/charts/vas_pain.svg"


def test_open_image_is_a_standalone_svg_without_inline_style(auth, client, db, site_a,
                                                            make_patient, record_visit):
    import xml.etree.ElementTree as ElementTree

    patient = patient_with_visits(db, make_patient, record_visit, site_a, 4)
    auth.login("clinician", sites=[site_a])
    response = client.get(f"/patients/{patient.id}/charts/womac_function.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    body = response.get_data(as_text=True)
    assert "style=" not in body
    assert "<style" not in body
    root = ElementTree.fromstring(body)  # noqa: S314 - the app's own SVG
    namespace = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{namespace}svg"
    texts = [element.text for element in root.iter(f"{namespace}text")]
    assert texts[:2] == ["WOMAC Function", "0–68 points (raw sum), higher = worse"]
    assert "68" in texts  # the raw sum's own maximum, not 100
    assert root.findall(f"{namespace}polyline")
    # A score the patient has no value of: an empty chart that says so; unknown: 404.
    empty = client.get(f"/patients/{patient.id}/charts/nrs_pain.svg").get_data(as_text=True)
    assert "No values recorded" in empty
    assert client.get(f"/patients/{patient.id}/charts/nonsense.svg").status_code == 404


DANGLING = (
    re.compile(r"[·|]\s*[·|]"),  # two separators in a row: an empty part between them
    re.compile(r"^[·|,;]"),  # a separator with nothing before it
    re.compile(r"[·|,;]$"),  # or nothing after it
)


def dangling_separators(html: str) -> list[str]:
    """Texts of the page's cells, items and paragraphs with a separator left dangling."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found = []
    for element in soup.select("main h1, main p, main li, main td, main th, main dd, "
                               "main dt, main figcaption, main span.hint, main a"):
        text = " ".join(element.get_text(" ", strip=True).split())
        if any(pattern.search(text) for pattern in DANGLING):
            found.append(text)
    return found


def test_no_dangling_separators(auth, client, db, site_a, make_patient, record_visit):
    """Full, sparse (not treated, no identity shown, no scores) and self-reported pages."""
    full = patient_with_visits(db, make_patient, record_visit, site_a, 6)
    full.visits[1].appointment_date = date(2026, 6, 20)
    untreated = make_patient(site_a, treated=False)
    sparse = make_patient(site_a, treatment_date=TREATED)
    record_visit(sorted(sparse.visits, key=lambda v: v.target_date)[1], date(2026, 1, 28),
                 {"vas": {"VAS": 40}})  # a follow-up without a baseline
    with capture.reason(db, "Product and lot unknown (imported record)"):
        sparse.treatment.product_name = sparse.treatment.lot_number = ""
    db.add(AdverseEvent(patient_id=sparse.id, onset_date=date(2026, 1, 9), description="",
                        category="other", severity_grade=4, serious=True,
                        serious_criterion="other_important", relatedness="unlikely",
                        outcome="unknown"))
    db.flush()
    auth.login("clinician", sites=[site_a])
    for patient in (full, untreated, sparse):
        html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
        assert dangling_separators(html) == [], patient.study_id
    assert dangling_separators("<main><p>a · · b</p><td>x ·</td><li>| y</li></main>") == [
        "a · · b", "x ·", "| y"]


def test_chart_panel_range_gaps_and_crowded_names(app):
    """A scale that is not 0–100 (GRC, -3 to 3), a missing value that breaks the line, and
    visits' names slanted (and thinned out) when they do not fit side by side."""
    from registry.clinical.charts import ChartFigure, Panel, panel_svg

    grc = Panel("grc", "Global rating of change", "-3–3 points, higher = better", -3.0, 3.0,
                (None, 2.0, 1.0, None, 3.0), None)
    figure = ChartFigure(("Baseline", "2–6 weeks", "3 months", "Unscheduled", "6–12 months"),
                         ("2026-01-01",) * 5, (grc,))
    with app.test_request_context("/"):
        svg = str(panel_svg(figure, grc))
        crowded = ChartFigure(tuple(f"Unscheduled {n}" for n in range(40)), ("",) * 40,
                              (grc,))
        many = str(panel_svg(crowded, Panel("grc", "GRC", "", -3.0, 3.0, (1.0,) * 40, 0.0)))
    assert re.findall(r">(-?\d)</text>", svg) == ["-3", "0", "3"]
    assert svg.count("<polyline") == 1  # 2.0 -> 1.0; 3.0 stands alone after the gap
    assert svg.count("<circle") == 3
    assert "stroke-dasharray" not in svg  # no baseline value: no baseline line
    assert 'transform="rotate(-40' in svg  # five names do not fit side by side
    shown = len(re.findall(r">Unscheduled \d+</text>", many))
    assert 5 < shown < 40  # thinned out, first and last kept
    assert ">Unscheduled 0</text>" in many
    assert ">Unscheduled 39</text>" in many
    assert "stroke-dasharray" in many

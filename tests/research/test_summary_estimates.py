"""The summary page a statistician re-computes: the n next to every estimate, Wilson 95 %
CIs of the shares, half-up rounding as on the patient pages.

A seeded cohort is summarised on the page and exported from the cohort page (its form
as rendered, CSRF on); pandas re-computes every number from the export's CSV, with its
own Wilson formula, and the page must show exactly those numbers, rounded half-up.
"""

from __future__ import annotations

import io
import math
import random
import zipfile
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from registry.research.summary import t_quantile_975
from tests.fixtures.webtest import sign_in, submit
from tests.research.conftest import TODAY, TREATED, answers

Z = 1.959963984540054
NAMES = {"baseline": "Baseline", "w2_6": "2–6 weeks", "m3": "3 months", "m6_12": "6–12 months"}
FLAGS = ("mcii", "mic", "pass")


@pytest.fixture
def app_settings() -> dict[str, object]:
    return {"TODAY": TODAY, "WTF_CSRF_ENABLED": True}


def half_up(value: float, digits: int = 1) -> str:
    """Rounded the way a person does it, written here independently of the registry."""
    text = format(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits),
                                                rounding=ROUND_HALF_UP), "f")
    return "0.0" if text == "-0.0" else text


def wilson(events: int, n: int) -> tuple[float, float]:
    """Wilson's interval as the roots of its quadratic (Newcombe 1998, eq. 3), in %."""
    share = events / n
    root = Z * math.sqrt(Z * Z + 4 * n * share * (1 - share))
    low = (2 * n * share + Z * Z - root) / (2 * (n + Z * Z))
    high = (2 * n * share + Z * Z + root) / (2 * (n + Z * Z))
    return 100 * max(low, 0.0), 100 * min(high, 1.0)


def flag(value: object) -> bool | None:
    """A flag as the CSV writes it (0/1, or True/False), None when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip().lower() in {"1", "1.0", "true"}


@pytest.fixture
def seeded(db, make_patient, record_visit, site_a, site_b):
    """Twelve patients, half of them men; every one has a baseline, most a 2–6-week and
    a 3-month visit, with seeded answers (the same cohort every run)."""
    chance = random.Random(16)
    for number in range(12):
        patient = make_patient(site_a if number % 3 else site_b, treatment_date=TREATED,
                               sex="male" if number % 2 else "female",
                               kl_grade=2 + number % 3)
        visits = sorted(patient.visits, key=lambda visit: visit.target_date)
        base = (chance.randint(45, 90), chance.randint(40, 85), chance.randint(1, 3),
                chance.randint(1, 3))
        record_visit(visits[0], TREATED - timedelta(days=2), answers(*base))
        for visit, day, keep in ((visits[1], 30, 0.75), (visits[2], 92, 0.85)):
            if chance.random() < keep:
                later = (max(0, base[0] - chance.randint(-10, 55)),
                         max(0, base[1] - chance.randint(-10, 45)),
                         max(0, min(4, base[2] - chance.randint(-1, 2))),
                         max(0, min(4, base[3] - chance.randint(-1, 2))))
                record_visit(visit, TREATED + timedelta(days=day), answers(*later))


def page_table(page, heading: str) -> list[dict[str, str]]:
    """The rows of the table after the heading starting with ``heading``, by column."""
    title = next(h2 for h2 in page.html.find_all("h2") if h2.get_text().startswith(heading))
    table = title.find_next("table")
    columns = [th.get_text(" ", strip=True) for th in table.thead.find_all("th")]
    return [dict(zip(columns, (td.get_text(" ", strip=True) for td in tr.find_all("td")),
                     strict=True)) for tr in table.tbody.find_all("tr")]


def exported_long(browser) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The CSV export's long table and patients, downloaded with the cohort page's form."""
    page = browser.get("/research/cohorts/all")
    form = next(form for form in page.forms.values() if "format" in form.fields)
    form["format"] = "csv"
    form["shape"] = "long"
    response = submit(form)
    assert response.status_int == 200, response.text[:500]
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        names = archive.namelist()
        read = {name.rsplit(".", 1)[0]: pd.read_csv(io.BytesIO(archive.read(name)))
                for name in names if name.endswith(".csv") and "/" not in name}
    return read["outcomes_long"], read["patients"]


def test_page_equals_pandas_on_the_export(browser, make_user, seeded):
    admin = make_user("admin")  # exact numbers: a researcher's small cells are hidden
    sign_in(browser, admin.email)
    page = browser.get("/research/cohorts/all/summary?score=vas_pain&group=sex")
    assert page.status_int == 200
    long, patients = exported_long(browser)
    sex = dict(zip(patients["pid"].astype(str), patients["sex"].astype(str), strict=True))
    vas = long[long["score"].astype(str) == "vas_pain"].copy()
    vas["group"] = [sex[str(pid)].capitalize() for pid in vas["pid"]]
    vas = vas[vas["timepoint"].astype(str).isin(NAMES)]

    shown = {(row["Timepoint"], row["Group"]): row
             for row in page_table(page, "VAS pain")}
    header = next(iter(shown.values()))
    flag_columns = {kind: column for kind in FLAGS for column in header
                    if column.startswith(f"{kind.upper()} reached")}
    assert set(flag_columns) == {"mcii", "pass"}  # VAS pain has no MIC threshold
    checked = 0
    for (code, group), rows in vas.groupby([vas["timepoint"].astype(str), "group"]):
        row = shown[(NAMES[code], group)]
        values = rows["value"].dropna()
        assert row["n (score)"] == str(len(values))
        assert row["Mean (95% CI)"].startswith(half_up(values.mean()) if len(values) else "—")
        if code == "baseline":
            continue
        change = rows["change"].dropna()
        # The n behind the change estimate, next to it.
        assert row["n (change)"] == str(len(change))
        if len(change) < 2:
            assert len(change) == 0 or "(" not in row["Mean change (95% CI)"]
        else:
            half = t_quantile_975(len(change) - 1) * change.std(ddof=1) / math.sqrt(len(change))
            assert row["Mean change (95% CI)"] == (
                f"{half_up(change.mean())} ({half_up(change.mean() - half)} to "
                f"{half_up(change.mean() + half)})")
        for kind in flag_columns:
            known = [flag(value) for value in rows[kind] if flag(value) is not None]
            reached = sum(known)
            if not known:
                assert row[flag_columns[kind]] == "0/0"
                continue
            low, high = wilson(reached, len(known))
            assert row[flag_columns[kind]] == (
                f"{reached}/{len(known)} · {half_up(100 * reached / len(known))} % "
                f"({half_up(low)} to {half_up(high)})"), (code, group, kind)
            checked += 1
    assert checked >= 8  # two follow-ups × two groups × some flags really were compared

    responders = {(row["Timepoint"], row["Group"]): row
                  for row in page_table(page, "OMERACT-OARSI")}
    for (code, group), rows in vas[vas["timepoint"].astype(str) != "baseline"].groupby(
            [vas["timepoint"].astype(str), "group"]):
        status = [flag(value) for value in rows["oarsi_responder"]]
        evaluable = [value for value in status if value is not None]
        row = responders[(NAMES[code], group)]
        assert row["Evaluable (n)"] == str(len(evaluable))
        assert row["Responders"] == str(sum(evaluable))
        if evaluable:
            low, high = wilson(sum(evaluable), len(evaluable))
            assert row["%"] == half_up(100 * sum(evaluable) / len(evaluable))
            assert row["95% CI (Wilson)"] == f"{half_up(low)} to {half_up(high)}"
        else:
            assert (row["%"], row["95% CI (Wilson)"]) == ("—", "—")


@pytest.fixture
def boundaries(db, make_patient, record_visit, site_a):
    """Sixteen patients whose numbers land on .x5: baseline VAS mean 50.25, mean change
    -6.25, MCII and PASS reached by 1 of 16 (6.25 %)."""
    for number in range(16):
        patient = make_patient(site_a, treatment_date=TREATED)
        visits = sorted(patient.visits, key=lambda visit: visit.target_date)
        baseline, later = (54, 30) if number == 0 else (50, 44 if number == 1 else 45)
        record_visit(visits[0], TREATED - timedelta(days=2), {"vas": {"VAS": baseline}})
        record_visit(visits[2], TREATED + timedelta(days=92), {"vas": {"VAS": later}})


def test_half_up_rounding_at_half_boundaries(browser, make_user, boundaries):
    """12.25 -> 12.3 (Python's "%.1f" and round() give 12.2): the page rounds as the
    patient pages do (scoring.format_score), halves away from zero."""
    assert f"{50.25:.1f}" == "50.2"
    assert f"{-6.25:.1f}" == "-6.2"
    assert f"{6.25:.1f}" == "6.2"
    admin = make_user("admin")
    sign_in(browser, admin.email)
    page = browser.get("/research/cohorts/all/summary?score=vas_pain")
    rows = {row["Timepoint"]: row for row in page_table(page, "VAS pain")}
    assert rows["Baseline"]["n (score)"] == "16"
    assert rows["Baseline"]["Mean (95% CI)"].startswith("50.3 (")
    m3 = rows["3 months"]
    assert m3["n (change)"] == "16"
    assert m3["Mean change (95% CI)"].startswith("-6.3 (")
    low, high = wilson(1, 16)
    mcii = next(value for column, value in m3.items() if column.startswith("MCII"))
    assert mcii == f"1/16 · 6.3 % ({half_up(low)} to {half_up(high)})"
    assert "50.2 (" not in page.text
    assert "-6.2 (" not in page.text


def test_researcher_sees_no_interval_of_a_suppressed_share(browser, make_user, boundaries):
    """A Wilson interval gives its count away (1/16 has one interval only), so a share
    hidden below k shows neither percentage nor interval."""
    researcher = make_user("researcher")
    sign_in(browser, researcher.email)
    page = browser.get("/research/cohorts/all/summary?score=vas_pain")
    m3 = {row["Timepoint"]: row for row in page_table(page, "VAS pain")}["3 months"]
    mcii = next(value for column, value in m3.items() if column.startswith("MCII"))
    assert mcii == "< 5/16"
    low, high = wilson(1, 16)
    assert f"{half_up(low)} to {half_up(high)}" not in page.text
    assert m3["n (change)"] == "16"
    assert m3["Mean change (95% CI)"].startswith("-6.3 (")  # 16 values: shown

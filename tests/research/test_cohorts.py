"""Cohort builder: filters, live count, saving, bad values."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.models import AuditEvent, Cohort


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", 3),
        ("site=AAA", 2),
        ("site=AAA&site=BBB", 3),
        ("sex=male", 1),
        ("kl_grade=3", 2),
        ("kl_grade=2&kl_grade=3", 3),
        ("laterality=left", 3),
        ("laterality=right", 0),
        ("cell_source=adipose", 1),
        ("cell_source=bmac", 2),
        ("product=Demo+BMAC", 3),
        ("co_intervention=prp", 1),
        ("co_intervention=physiotherapy", 2),
        ("co_intervention=prp&co_intervention=physiotherapy", 3),
        ("age_min=90", 1),  # 94 at treatment: counted as 90+
        ("age_max=60", 1),  # 58 at treatment
        ("age_max=58", 1),
        ("age_max=57", 0),
        ("age_min=58&age_max=66", 2),
        ("age_min=59&age_max=67", 1),
        ("bmi_min=27&bmi_max=28", 3),
        ("bmi_min=30", 0),
        ("treated_from=2025-03&treated_to=2025-03", 3),  # treated 2025-03-10
        ("treated_from=2025-04", 0),
        ("treated_to=2025-02", 0),
        ("timepoint=baseline", 3),
        ("timepoint=m3", 1),
        ("timepoint=baseline&timepoint=w2_6", 1),
        ("adverse_events=any", 2),
        ("adverse_events=serious", 1),
        ("adverse_events=none", 1),
        ("site=AAA&adverse_events=any&kl_grade=2", 1),
    ],
)
def test_count_endpoint_applies_filters(auth, client, cohort_data, query, expected):
    auth.login("admin")  # exact counts: researchers see counts below 5 as "< 5"
    response = client.get(f"/research/count?{query}")
    assert response.status_code == 200, response.json
    assert response.json["count"] == expected


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("site=ZZZ", "site", "unknown value 'ZZZ'"),
        ("sex=robot", "sex", "unknown value 'robot'"),
        ("kl_grade=7", "kl_grade", "unknown value '7'"),
        ("cell_source=unicorn", "cell_source", "unknown value"),
        ("timepoint=y5", "timepoint", "unknown value 'y5'"),
        ("age_min=old", "age_min", "is not a number"),
        ("bmi_max=500", "bmi_max", "between 10 and 80"),
        ("treated_from=yesterday", "treated_from", "is not a month (YYYY-MM"),
        ("treated_from=2025-03-10", "treated_from", "give a month as YYYY-MM"),
        ("treated_to=0001-01", "treated_to", "outside 1990-01 to 2099-12"),
        ("age_min=%C2%B2", "age_min", "is not a number"),
        ("bmi_min=inf", "bmi_min", "is not a number"),
        ("adverse_events=maybe", "adverse_events", "unknown value 'maybe'"),
        ("age_min=70&age_max=60", "age_max", "must not be before"),
    ],
)
def test_unknown_filter_values_get_a_clear_message(auth, client, cohort_data, query, field,
                                                   words):
    auth.login("researcher")
    response = client.get(f"/research/count?{query}")
    assert response.status_code == 422
    assert words in response.json["errors"][field]
    page = client.get(f"/research/?{query}&count=1")
    assert page.status_code == 422
    assert words.encode() in page.data.replace(b"&#39;", b"'")


def test_builder_page_counts_without_javascript(auth, client, cohort_data):
    auth.login("researcher")
    response = client.get("/research/?site=AAA&count=1")
    assert response.status_code == 200
    assert b"<strong>&lt; 5</strong> matching patients" in response.data
    assert b'src="/static/research.js"' in response.data
    assert b"Quixbrandt" not in response.data


def test_count_is_one_query(auth, client, cohort_data, app):
    from sqlalchemy import event

    auth.login("researcher")
    statements: list[str] = []
    engine = app.extensions["registry.engine"]

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        client.get("/research/count?timepoint=baseline&adverse_events=any&co_intervention=prp")
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    counting = [s for s in statements if "count(" in s.lower() and "patient" in s.lower()]
    assert len(counting) == 1


def test_save_and_reopen_cohort(auth, client, db, cohort_data):
    user = auth.login("researcher")
    response = client.post("/research/cohorts", data={
        "name": "KL3 at site A", "description": "moderate OA", "site": "AAA", "kl_grade": "3"})
    assert response.status_code == 302
    db.expire_all()
    cohort = db.scalar(select(Cohort).where(Cohort.name == "KL3 at site A"))
    assert cohort.definition == {"site": ["AAA"], "kl_grade": [3]}
    assert cohort.created_by_id == user.id
    assert db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "cohort",
                                              AuditEvent.action == "create")) is not None
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert b"<strong>&lt; 5</strong> matching patients today" in page.data  # 1: suppressed
    listing = client.get("/research/")
    assert b"KL3 at site A" in listing.data


def test_duplicate_or_missing_name_is_refused(auth, client, db, cohort_data):
    auth.login("researcher")
    assert client.post("/research/cohorts", data={"name": "Mine"}).status_code == 302
    again = client.post("/research/cohorts", data={"name": "Mine", "sex": "male"})
    assert again.status_code == 422
    assert b"already exists" in again.data
    unnamed = client.post("/research/cohorts", data={"name": " ", "sex": "male"})
    assert unnamed.status_code == 422
    assert b"give the cohort a name" in unnamed.data
    bad = client.post("/research/cohorts", data={"name": "Odd", "sex": "robot"})
    assert bad.status_code == 422
    db.expire_all()
    assert db.scalar(select(Cohort).where(Cohort.name == "Odd")) is None

"""Authorization and search: own sites only, no clinical pages for researchers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.clinical.conftest import TODAY
from tests.clinical.helpers import enrol_data


@pytest.fixture
def app_settings() -> dict[str, Any]:
    """Refusals are checked here (403 before any form is read), signed in with ``auth.login``:
    CSRF off, so a refused request is refused for its permission, not its token."""
    return {"TODAY": TODAY.isoformat()}


@pytest.fixture
def patient_a(make_patient, site_a):
    return make_patient(site_a, treatment_date=date(2026, 1, 1), family_name="Aasen")


def patient_urls(patient) -> list[tuple[str, str]]:
    visit = patient.visits[0]
    return [
        ("get", f"/patients/{patient.id}"),
        ("get", f"/patients/{patient.id}/treatment"),
        ("post", f"/patients/{patient.id}/treatment"),
        ("get", f"/patients/{patient.id}/visits/{visit.id}"),
        ("post", f"/patients/{patient.id}/visits/{visit.id}"),
        ("post", f"/patients/{patient.id}/visits/unscheduled"),
        ("get", f"/patients/{patient.id}/adverse-events/new"),
        ("post", f"/patients/{patient.id}/adverse-events/new"),
        ("get", f"/patients/{patient.id}/charts/vas_pain.svg"),
    ]


def test_other_sites_patient_is_forbidden(auth, client, site_b, patient_a):
    auth.login("clinician", sites=[site_b])
    for method, url in patient_urls(patient_a):
        assert getattr(client, method)(url).status_code == 403, url


@pytest.mark.parametrize("url", ["/patients/", "/patients/new"])
def test_researcher_gets_no_clinical_pages(auth, client, url):
    auth.login("researcher")
    assert client.get(url).status_code == 403


def test_researcher_cannot_open_a_patient(auth, client, patient_a):
    auth.login("researcher")
    for method, url in patient_urls(patient_a):
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
        assert b"Aasen" not in response.data


def test_signed_out_user_is_sent_to_login(client, patient_a):
    response = client.get(f"/patients/{patient_a.id}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_clinician_sees_identity_on_own_site(auth, client, site_a, patient_a):
    auth.login("clinician", sites=[site_a])
    page = client.get(f"/patients/{patient_a.id}").get_data(as_text=True)
    assert "Aasen, Given" in page
    assert patient_a.identity.medical_record_number in page


def test_search_by_study_id_name_and_record_number(auth, client, site_a, site_b,
                                                   make_patient, patient_a):
    other = make_patient(site_b, family_name="Aasheim")
    auth.login("clinician", sites=[site_a])
    given = patient_a.identity.given_name
    for query in (patient_a.study_id, patient_a.study_id.lower(), "aasen",
                  f"{given} Aasen", f"Aasen {given}", patient_a.identity.medical_record_number):
        html = client.get("/patients/", query_string={"q": query}).get_data(as_text=True)
        assert f">{patient_a.study_id}</a>" in html, query
    for query in ("Aasheim", other.study_id, other.identity.medical_record_number, "Aas"):
        html = client.get("/patients/", query_string={"q": query}).get_data(as_text=True)
        assert f">{other.study_id}</a>" not in html, query
        assert "<td>Aasheim" not in html
    listing = client.get("/patients/").get_data(as_text=True)
    assert patient_a.study_id in listing
    assert other.study_id not in listing


def test_search_wildcards_are_literal(auth, client, site_a, patient_a):
    auth.login("clinician", sites=[site_a])
    html = client.get("/patients/", query_string={"q": "%"}).get_data(as_text=True)
    assert patient_a.study_id not in html


def test_enrol_needs_write_permission(auth, client, site_a):
    auth.login("researcher")
    assert client.post("/patients/new", data=enrol_data(site_a.id)).status_code == 403


def test_chart_is_an_svg_without_inline_style_or_script(auth, client, db, site_a, patient_a,
                                                        record_visit):
    visits = sorted(patient_a.visits, key=lambda v: v.target_date)
    record_visit(visits[0], date(2025, 12, 20), {"vas": {"VAS": 60}})
    record_visit(visits[2], date(2026, 4, 1), {"vas": {"VAS": 25}})
    auth.login("clinician", sites=[site_a])
    response = client.get(f"/patients/{patient_a.id}/charts/vas_pain.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    assert "<style" not in svg
    assert "<script" not in svg
    assert client.get(f"/patients/{patient_a.id}/charts/nonsense.svg").status_code == 404
    page = client.get(f"/patients/{patient_a.id}").get_data(as_text=True)
    assert f"/patients/{patient_a.id}/charts/vas_pain.svg" in page

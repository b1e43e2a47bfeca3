"""Who may use the research pages, and researchers kept away from identifying pages."""

from __future__ import annotations

import pytest
from flask import current_app

from tests.research.helpers import export

RESEARCH_PAGES = ["/research/", "/research/count", "/research/cohorts/all",
                  "/research/cohorts/all/summary", "/research/cohorts/all/charts/change.svg"]


@pytest.mark.parametrize("role", ["clinician", "coordinator"])
@pytest.mark.parametrize("path", RESEARCH_PAGES)
def test_clinical_roles_get_403_on_research_pages(auth, client, site_a, role, path):
    auth.login(role, sites=[site_a])
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("role", ["clinician", "coordinator"])
def test_clinical_roles_cannot_export_or_save(auth, client, site_a, role):
    auth.login(role, sites=[site_a])
    assert export(client).status_code == 403
    assert client.post("/research/cohorts", data={"name": "x"}).status_code == 403


def test_signed_out_users_are_sent_to_sign_in(client):
    response = client.get("/research/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["researcher", "admin"])
@pytest.mark.parametrize("path", RESEARCH_PAGES)
def test_research_roles_reach_research_pages(auth, client, cohort_data, role, path):
    auth.login(role)
    assert client.get(path).status_code == 200


def test_menu_links_to_cohorts_for_researchers(auth, client):
    auth.login("researcher")
    assert b'href="/research/"' in client.get("/home").data


def _identifying_urls(patient_id: int) -> list[str]:
    """GET pages of the clinical and follow-up areas that exist now, for one patient."""
    urls = []
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith(("clinical.", "followup.", "admin.", "audit.")):
            continue
        if "GET" not in rule.methods or not set(rule.arguments) <= {"patient_id"}:
            continue
        urls.append(rule.build({"patient_id": patient_id}, append_unknown=False)[1])
    return urls


def test_researcher_gets_403_on_identifying_and_other_roles_pages(app, auth, client,
                                                                 cohort_data):
    auth.login("researcher")
    with app.test_request_context():
        urls = _identifying_urls(cohort_data.patients[0].id)
    assert "/admin/users" in urls or "admin.users" not in app.view_functions
    for url in urls:
        assert client.get(url).status_code == 403, url

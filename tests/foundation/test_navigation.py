"""The main navigation: each role sees its own links, whoever signed in before it."""

from __future__ import annotations

import re

import pytest

EXPECTED = {
    "clinician": ["Home", "Patients", "Enrol patient", "Status grid", "Products and lots"],
    "coordinator": ["Home", "Patients", "Enrol patient", "Worklist", "Status grid",
                    "Products and lots"],
    "researcher": ["Home", "Cohorts"],
    "admin": ["Home", "Patients", "Enrol patient", "Worklist", "Status grid", "Products and lots",
              "Cohorts", "Users", "Sites", "Protocols", "Instrument texts", "Audit trail"],
}


def nav_labels(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert nav, "no main navigation"
    return re.findall(r">([^<]+)</a>", nav.group(1))


@pytest.mark.parametrize("order", [list(EXPECTED), list(reversed(EXPECTED))])
def test_each_role_sees_its_links_in_any_order_of_sign_ins(auth, client, site_a, order):
    for role in order:
        auth.login(role, sites=[site_a])
        html = client.get("/home").get_data(as_text=True)
        assert nav_labels(html) == EXPECTED[role], role
        auth.logout()


def test_the_current_page_is_marked(auth, client, site_a):
    auth.login("coordinator", sites=[site_a])
    html = client.get("/followup/").get_data(as_text=True)
    assert re.search(r'<a href="/followup/" aria-current="page">Worklist</a>', html)
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert nav
    assert nav.group(1).count('aria-current="page"') == 1
    # Elsewhere on the page only links to this very page may say so (the worklist's tab).
    for link in re.findall(r'<a href="([^"]*)"[^>]*aria-current="page"', html):
        assert link.split("?")[0] == "/followup/", link

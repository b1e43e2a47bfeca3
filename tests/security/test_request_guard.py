"""The central request guards one by one (``registry.request_guard``, ``registry.paging``).

Kept apart from test_hostile_input.py: that module holds one transaction open for all
its tests, which a test on its own connection would wait for.
"""

from __future__ import annotations

import io

import pytest
from flask import request

from registry.request_guard import accepts_uploads
from tests.fixtures.accounts import PASSWORD


@pytest.fixture
def admin(auth, site_a):
    return auth.login("admin", sites=[site_a])


@pytest.mark.parametrize("number", [2**31, 2**63, 10**400])
def test_an_id_past_the_database_range_is_not_found(client, admin, world, number):
    own = world["own"]
    for url in (f"/patients/{number}", f"/patients/{own['patient_id']}/visits/{number}",
                f"/admin/users/{number}", f"/followup/visits/{number}/contact"):
        method = client.post if url.endswith("contact") else client.get
        assert method(url).status_code == 404, url
    assert client.get(f"/patients/{own['patient_id']}").status_code == 200


@pytest.mark.parametrize(("value", "message"), [
    ("9" * 400, "The page number must be 100000 or less."),
    ("100001", "The page number must be 100000 or less."),
    ("1e20", "Not a valid integer value."),
    ("abc", "Not a valid integer value."),
    ("-1", "The page number must be 1 or more."),
])
@pytest.mark.parametrize("url", ["/patients/", "/followup/"])
def test_a_bad_page_number_is_refused_naming_the_field(client, admin, url, value, message):
    """(The audit trail reads its page with its own filters: tests/foundation/test_audit.py.)"""
    response = client.get(url, query_string={"page": value})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Page" in html
    assert message in html
    assert client.get(url, query_string={"page": "2"}).status_code == 200


def test_a_nul_byte_is_refused_naming_the_field(client, admin, world):
    response = client.get("/patients/", query_string={"q": "Nord\x00"})
    assert response.status_code == 400
    assert "q: contains a NUL byte" in response.get_data(as_text=True)
    url = f"/followup/visits/{world['own']['visit_id']}/contact"
    response = client.post(url, data={"attempted_on": "2026-05-01", "method": "phone",
                                      "outcome": "no_answer", "note": "rang\x00"})
    assert response.status_code == 400
    assert "note: contains a NUL byte" in response.get_data(as_text=True)


def test_a_nul_byte_in_the_sign_in_email_is_refused(client, make_user):
    user = make_user("clinician")
    response = client.post("/login", data={"email": user.email + "\x00", "password": "x"})
    assert response.status_code == 400
    assert "email: contains a NUL byte" in response.get_data(as_text=True)


def test_a_file_part_is_refused_unless_the_view_takes_uploads(app, client, make_user):
    def upload() -> str:
        return ",".join(sorted(request.files))

    app.add_url_rule("/upload-allowed", "upload_allowed", accepts_uploads(upload),
                     methods=["POST"])
    user = make_user("clinician")
    response = client.post("/login", data={"email": (io.BytesIO(b"x"), "email.txt"),
                                           "password": PASSWORD})
    assert response.status_code == 400
    assert "email: a file was sent where text is expected" in response.get_data(as_text=True)
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}
                       ).status_code == 302
    response = client.post("/upload-allowed", data={"sheet": (io.BytesIO(b"x"), "s.csv")})
    assert (response.status_code, response.get_data(as_text=True)) == (200, "sheet")

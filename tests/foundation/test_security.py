"""CSRF, security headers, unmigrated database, error pages."""

from __future__ import annotations

import pytest

from registry.security import is_safe_redirect
from tests.fixtures.accounts import PASSWORD


class TestWithCsrf:
    @pytest.fixture
    def app_settings(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_login_without_token_is_refused(self, client, make_user):
        user = make_user("clinician")
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 400
        assert b"CSRF" in response.data

    def test_login_with_token_works(self, client, make_user):
        user = make_user("clinician")
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 302

    def test_logout_without_token_is_refused(self, client, auth, make_user, site_a):
        user = make_user("clinician", sites=[site_a])
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post("/login", data={"email": user.email, "password": PASSWORD,
                                    "csrf_token": token})
        assert client.post("/logout").status_code == 400
        assert client.get("/home").status_code == 200  # still signed in


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_session_cookie_flags(client, make_user):
    user = make_user("clinician")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_secure_cookie_when_configured(tmp_path, database_url, app_factory):
    app = app_factory(database_url, tmp_path, SESSION_COOKIE_SECURE=True)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_signed_out_visitor_is_sent_to_login(client):
    response = client.get("/home")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_unmigrated_database_gets_a_clear_page(fresh_database_url, tmp_path, app_factory):
    app = app_factory(fresh_database_url, tmp_path)
    response = app.test_client().get("/login")
    assert response.status_code == 503
    assert b"registry init" in response.data


def test_unknown_page_is_a_plain_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Traceback" not in response.data


def test_debug_is_off_by_default(app):
    assert app.debug is False


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/home", True), ("/patients/1?x=1", True), ("https://evil.example/", False),
     ("//evil.example/", False), ("/\\evil.example", False), ("", False), (None, False)],
)
def test_redirect_targets(target, safe):
    assert is_safe_redirect(target) is safe


def test_unexpected_error_shows_a_generic_page_without_traceback(database_url, tmp_path,
                                                                 app_factory):
    app = app_factory(database_url, tmp_path, TESTING=False)

    def explode() -> str:
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/explode", "explode", explode)
    response = app.test_client().get("/explode")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    assert "secret internal detail" not in page
    assert "Traceback" not in page

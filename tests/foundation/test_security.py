"""CSRF, security headers, unmigrated database, error pages, redirects, proxies."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select

from registry.config import settings_from_environment
from registry.models import AuditEvent
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


BYPASSES = [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "////evil.example",
    "///evil.example", "/\\/evil.example", "\\\\evil.example", "/%2F%2Fevil.example",
    "/%2f/evil.example", "/%5Cevil.example", "/%252F%252Fevil.example", "https:evil.example",
    "http:/evil.example", "javascript:alert(1)", "/\t/evil.example", "/\n/evil.example",
    "/\r\n/evil.example", "\t//evil.example", " //evil.example", "/ /evil.example",
    "/\x00/evil.example", "/\x7f/evil.example", "evil.example", "", None,
]


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/home", True), ("/patients/1?x=1", True), ("/research/?q=a%2Fb", True),
     ("/patients/1/visits/2", True), *((bypass, False) for bypass in BYPASSES)],
)
def test_redirect_targets(target, safe):
    assert is_safe_redirect(target) is safe


def browser_hosts(location: str) -> set[str]:
    """Hosts a browser could go to for ``location`` sent from https://registry.example/:
    parsed as browsers parse URLs (WHATWG: tabs and newlines dropped, backslashes read as
    slashes, any run of two or more leading slashes starts a host), and once more after a
    proxy or server percent-decoded the path."""
    cleaned = re.sub(r"[\t\n\r]", "", location.strip("".join(map(chr, range(0x21)))))
    cleaned = cleaned.replace("\\", "/")
    hosts = set()
    for candidate in (cleaned, unquote(unquote(cleaned))):
        if urlsplit(candidate).scheme:
            hosts.add("another scheme")
        elif candidate.startswith("//"):
            hosts.add(re.split(r"[/?#]", candidate.lstrip("/"), maxsplit=1)[0])
        else:
            hosts.add(urlsplit(urljoin("https://registry.example/login", candidate)).netloc)
    return hosts


PIECES = ["/", "//", "\\", "%2F", "%2f", "%5C", "%252F", "\t", "\n", "\r", " ", "\x00",
          "https:", "http:", "javascript:", "evil.example", ".", "..", "@", "?", "#", ":",
          "a", "%", "~", "\u3000", "\uff0f"]


@given(st.lists(st.sampled_from(PIECES), max_size=8).map("".join) | st.text(max_size=30))
@example("////evil.example")
@example("/\t/evil.example")
def test_a_target_found_safe_stays_on_this_site(target):
    if is_safe_redirect(target):
        assert browser_hosts(target) == {"registry.example"}, target


@pytest.mark.parametrize("target", ["////evil.example", "/\\evil.example",
                                    "/%2F%2Fevil.example", "https:evil.example",
                                    "/\t/evil.example"])
def test_sign_in_never_redirects_off_site(client, make_user, target):
    user = make_user("clinician")
    response = client.post("/login?next=" + quote(target, safe=""),
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/home"


def test_sign_in_follows_a_safe_next(client, make_user):
    user = make_user("clinician")
    response = client.post("/login?next=" + quote("/patients/?q=x", safe=""),
                           data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/patients/?q=x"


def _sign_in_address(client, db, user, **headers) -> str:
    client.post("/login", data={"email": user.email, "password": PASSWORD}, headers=headers,
                environ_base={"REMOTE_ADDR": "10.0.0.2"})
    db.expire_all()
    return db.scalar(select(AuditEvent.remote_addr).where(
        AuditEvent.action == "login", AuditEvent.actor_id == user.id))


def test_forwarded_for_is_ignored_by_default(client, db, make_user):
    user = make_user("clinician")
    assert _sign_in_address(client, db, user, **{"X-Forwarded-For": "203.0.113.9"}) == (
        "10.0.0.2")


class TestBehindOneTrustedProxy:
    @pytest.fixture
    def app_settings(self):
        return {"TRUSTED_PROXIES": 1}

    def test_the_client_address_comes_from_the_proxy(self, client, db, make_user):
        user = make_user("clinician")
        spoofed_then_real = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
        assert _sign_in_address(client, db, user, **spoofed_then_real) == "203.0.113.9"

    def test_the_scheme_comes_from_the_proxy(self, client):
        response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" in response.headers


@pytest.mark.parametrize(("value", "expected"), [(None, 0), ("1", 1), ("2", 2)])
def test_trusted_proxies_setting(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("REGISTRY_TRUSTED_PROXIES", raising=False)
    else:
        monkeypatch.setenv("REGISTRY_TRUSTED_PROXIES", value)
    assert settings_from_environment(Path("instance"))["TRUSTED_PROXIES"] == expected


def test_a_negative_proxy_count_is_refused_at_start(database_url, tmp_path, app_factory):
    with pytest.raises(ValueError, match="REGISTRY_TRUSTED_PROXIES"):
        app_factory(database_url, tmp_path, TRUSTED_PROXIES=-1)


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

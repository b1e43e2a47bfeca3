"""Signing the load benchmark's users in over HTTP (http.client), as a browser would.

``sign_in`` returns the session cookie and a CSRF token for later POSTs: the login form's
token is used to sign in; the session starts afresh at sign-in, so a form page is then
opened to get the token of the new session (Flask-WTF keeps the raw token in the signed
session cookie; the registry's tokens do not expire, ``WTF_CSRF_TIME_LIMIT = None``).
"""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlencode

import scoring

COOKIE = "registry_session"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _request(port: int, method: str, path: str, cookie: str | None = None,
             body: dict[str, str] | None = None) -> tuple[int, str | None, str]:
    """(status, new session cookie or None, body text) of one request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {}
    if cookie:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    payload = None
    if body is not None:
        payload = urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    text = response.read().decode("utf-8", errors="replace")
    new_cookie = None
    for header in response.headers.get_all("Set-Cookie") or []:
        match = re.match(rf"{COOKIE}=([^;]*)", header)
        if match:
            new_cookie = match.group(1)
    connection.close()
    return response.status, new_cookie, text


def sign_in(port: int, email: str, password: str, form_path: str) -> tuple[str, str]:
    """Sign in through the login form; return (session cookie, CSRF token)."""
    status, cookie, page = _request(port, "GET", "/login")
    token = TOKEN.search(page)
    if status != 200 or cookie is None or token is None:
        raise RuntimeError(f"login page: {status}")
    status, signed_in, _ = _request(port, "POST", "/login", cookie, {
        "email": email, "password": password, "csrf_token": token.group(1)})
    if status != 302 or signed_in is None:
        raise RuntimeError(f"sign-in of {email} failed: {status}")
    status, refreshed, page = _request(port, "GET", form_path, signed_in)
    token = TOKEN.search(page)
    if status != 200 or token is None:
        raise RuntimeError(f"{form_path} as {email}: {status}, no CSRF token")
    return refreshed or signed_in, token.group(1)


def visit_form_answers() -> str:
    """Answers to every item of the visit form, URL-encoded (moderate, plausible values)."""
    fields: dict[str, str] = {}
    for instrument in scoring.default_instruments(is_baseline=True):
        for item in scoring.INSTRUMENTS[instrument].items:
            value = 1 if item.options else 35
            fields[f"{instrument}-{item.code}"] = str(value)
    return urlencode(fields)

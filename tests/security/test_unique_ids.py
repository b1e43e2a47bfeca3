"""Every page's element ids are unique, for every role.

A repeated id breaks what points at it: a ``<label for>``, ``aria-describedby``, an
error-summary link; browsers and assistive technology use the first element only.  Pages
with several forms are where this regresses (each form's CSRF field or submit button
rendered with the same id), so every GET page of the route matrix is checked as every role,
with CSRF protection on (as in production) and a locked account (its page then offers
"unlock" as a second form).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest

from registry.models import User
from registry.models.base import utcnow
from tests.fixtures.accounts import PASSWORD
from tests.security.test_route_matrix import ROLES, _routes, _url

ID = re.compile(r'<[a-zA-Z][^>]*?\sid="([^"]*)"')


def repeated_ids(html: str) -> list[str]:
    return sorted(name for name, count in Counter(ID.findall(html)).items() if count > 1)


def test_repeated_ids_are_found():
    assert repeated_ids('<p id="a"></p><input id="a"><b id="b">') == ["a"]
    assert repeated_ids('<a href="#a">a</a><p id="a">') == []


@pytest.fixture
def app_settings():
    return {"WTF_CSRF_ENABLED": True}


@pytest.mark.parametrize("role", ROLES)
def test_no_page_repeats_an_id(app, client, db, make_user, world, site_a, role):
    db.get(User, world["own"]["user_id"]).locked_until = utcnow() + timedelta(hours=1)
    db.flush()
    user = make_user(role, sites=[site_a] if role != "researcher" else [])
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    signed_in = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                            "csrf_token": token})
    assert signed_in.status_code == 302
    repeated = {}
    for endpoint, method, arguments in _routes(app):
        if method != "GET":
            continue
        response = client.get(_url(app, endpoint, arguments, world["own"]))
        if response.status_code == 200 and response.mimetype == "text/html":
            found = repeated_ids(response.get_data(as_text=True))
            if found:
                repeated[endpoint] = found
        response.close()
    assert repeated == {}

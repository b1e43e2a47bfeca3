"""Every state-changing request needs a CSRF token; no GET changes state."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, Base
from tests.fixtures.accounts import PASSWORD
from tests.security.test_route_matrix import _routes, _url


def _token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


class TestCsrfEverywhere:
    @pytest.fixture
    def app_settings(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_every_post_without_token_is_refused(self, app, client, make_user, site_a, world):
        admin = make_user("admin", sites=[site_a])
        client.post("/login", data={"email": admin.email, "password": PASSWORD,
                                    "csrf_token": _token(client)})
        assert client.get("/home").status_code == 200
        accepted = []
        for endpoint, method, arguments in _routes(app):
            if method != "POST":
                continue
            url = _url(app, endpoint, arguments, world["own"])
            response = client.post(url, data={})
            response.close()
            if response.status_code != 400:
                accepted.append(f"{url}: {response.status_code}")
        assert accepted == []

    def test_a_post_with_a_token_is_accepted(self, client, make_user):
        user = make_user("clinician")
        response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                               "csrf_token": _token(client)})
        assert response.status_code == 302


def _row_counts(db) -> dict[str, int]:
    return {table.name: db.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables}


# GETs audited on purpose (registry.lots.routes): opening a lot's trace, downloading it.
AUDITED_GETS = {"lots.lot_page": ("trace_viewed", "product_lot"),
                "lots.trace_csv": ("export", "product_lot")}


@pytest.mark.parametrize("role", ["admin", "coordinator", "researcher"])
def test_no_get_changes_state(app, client, auth, db, world, site_a, role):
    auth.login(role, sites=[site_a] if role != "researcher" else [])
    before = _row_counts(db)
    last_audit = db.scalar(select(func.max(AuditEvent.id))) or 0
    audited = []
    for endpoint, method, arguments in _routes(app):
        if method == "GET":
            response = client.get(_url(app, endpoint, arguments, world["own"]))
            response.close()
            if endpoint in AUDITED_GETS and response.status_code == 200:
                audited.append(AUDITED_GETS[endpoint])
    db.expire_all()
    after = _row_counts(db)
    # A wrong self-report token (/r/…) is counted against the address on purpose
    # (registry.throttle): at most that one counter row, nothing else.
    assert after.pop("request_throttle") - before.pop("request_throttle") in (0, 1)
    # The audited GETs wrote their one audit event each, and nothing else did.
    written = [(event.action, event.entity_type) for event in db.scalars(
        select(AuditEvent).where(AuditEvent.id > last_audit).order_by(AuditEvent.id))]
    assert sorted(written) == sorted(audited)
    after["audit_event"] -= len(audited)
    assert after == before

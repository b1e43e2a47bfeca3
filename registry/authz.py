"""Authorization: the one place that decides who may do what, and at which sites.

Views declare the permission they need with ``@requires(...)``; services that act on a
patient call ``authorize(permission, site_id)``; queries restrict to
``visible_site_ids(user)``.  Nothing else in the code compares roles.  Site-scoped
permissions hold only at the user's *active* sites: deactivating a site closes it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

from registry.extensions import login_manager
from registry.models import Patient, Role, User, Visit


class Permission(enum.StrEnum):
    CLINICAL_READ = "clinical.read"  # patient pages, scores, adverse events
    IDENTITY_READ = "identity.read"  # names, record numbers, contact details
    CLINICAL_WRITE = "clinical.write"  # enrol, treatment, visits, adverse events
    FOLLOWUP_MANAGE = "followup.manage"  # worklist, contacts, withdrawals
    RESEARCH = "research"  # cohorts, de-identified exports, summaries
    ADMIN = "admin"  # users, sites, protocols
    AUDIT_READ = "audit.read"


# Site-scoped permissions apply only to patients of the user's own sites.
SITE_SCOPED = frozenset(
    {Permission.CLINICAL_READ, Permission.IDENTITY_READ, Permission.CLINICAL_WRITE,
     Permission.FOLLOWUP_MANAGE}
)

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.CLINICIAN: frozenset(
        {Permission.CLINICAL_READ, Permission.IDENTITY_READ, Permission.CLINICAL_WRITE}
    ),
    Role.COORDINATOR: frozenset(
        {Permission.CLINICAL_READ, Permission.IDENTITY_READ, Permission.CLINICAL_WRITE,
         Permission.FOLLOWUP_MANAGE}
    ),
    Role.RESEARCHER: frozenset({Permission.RESEARCH}),
    Role.ADMIN: frozenset(
        {Permission.CLINICAL_READ, Permission.IDENTITY_READ, Permission.CLINICAL_WRITE,
         Permission.FOLLOWUP_MANAGE, Permission.RESEARCH, Permission.ADMIN,
         Permission.AUDIT_READ}
    ),
}


def can(user: Any, permission: Permission, site_id: int | None = None) -> bool:
    """Whether ``user`` holds ``permission`` (at ``site_id``, for site-scoped ones)."""
    if not isinstance(user, User) or not user.is_active:
        return False
    if permission not in MATRIX.get(Role(user.role), frozenset()):
        return False
    if permission in SITE_SCOPED and site_id is not None:
        # Only active sites: a deactivated site's patients, enrolment, worklist, call
        # lists and digests are closed to everyone (admins reactivate it on the admin
        # pages, which are not site-scoped).
        return site_id in user.active_site_ids
    return True


def visible_site_ids(user: Any) -> frozenset[int]:
    """Active sites whose patients the user may see clinically (empty for researchers)."""
    if can(user, Permission.CLINICAL_READ):
        return frozenset(user.active_site_ids)
    return frozenset()


def trace_site_ids(user: Any) -> frozenset[int] | None:
    """Sites whose patients a product lot's trace shows the user: every site for admins
    (a recall concerns the whole registry), the user's own active sites for other
    clinical staff, none for anyone else.  None means every site."""
    if can(user, Permission.ADMIN):
        return None
    return visible_site_ids(user)


def can_read_history(user: Any, site_id: int) -> bool:
    """Whether ``user`` may read the change history of a record at ``site_id``: clinical
    staff of the (active) site, and auditors of their own sites, closed ones included (as
    the audit trail page: a closed site's history stays readable).  Identifying values in
    it still need ``IDENTITY_READ`` at the site."""
    if can(user, Permission.CLINICAL_READ, site_id):
        return True
    return can(user, Permission.AUDIT_READ) and site_id in user.site_ids


def authorize(permission: Permission, site_id: int | None = None) -> None:
    """Abort with 403 unless the current user holds the permission (at the site)."""
    if not can(current_user, permission, site_id):
        abort(403)


F = TypeVar("F", bound=Callable[..., Any])


def requires(permission: Permission) -> Callable[[F], F]:
    """View decorator: sign-in required, then the permission (401 → login page, 403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            authorize(permission)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def patient_or_abort(session: Any, patient_id: int, permission: Permission) -> Any:
    """Load a patient the current user may act on with ``permission``, else 404 / 403.

    Researchers never reach a patient record: site-scoped permissions are not theirs.
    """
    patient = session.get(Patient, patient_id)
    if patient is None:
        abort(404)
    authorize(permission, patient.site_id)
    return patient


def visit_or_abort(session: Any, visit_id: int, permission: Permission) -> tuple[Any, Any]:
    """A visit and its patient, when the current user may act on them with
    ``permission``, else 404 / 403."""
    visit = session.get(Visit, visit_id)
    if visit is None:
        abort(404)
    return visit, patient_or_abort(session, visit.patient_id, permission)

"""The main navigation: links by permission, for the areas the app has."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_login import current_user

from registry.authz import Permission, can

# (endpoint, label, permission needed); None = any signed-in user.
NAV_ITEMS: tuple[tuple[str, str, Permission | None], ...] = (
    ("main.home", "Home", None),
    ("clinical.patient_list", "Patients", Permission.CLINICAL_READ),
    ("clinical.enrol", "Enrol patient", Permission.CLINICAL_WRITE),
    ("followup.worklist", "Worklist", Permission.FOLLOWUP_MANAGE),
    ("research.cohorts", "Cohorts", Permission.RESEARCH),
    ("admin.users", "Users", Permission.ADMIN),
    ("admin.sites", "Sites", Permission.ADMIN),
    ("audit.index", "Audit trail", Permission.AUDIT_READ),
)


@dataclass(frozen=True)
class NavItem:
    url: str
    label: str
    current: bool


def navigation() -> list[NavItem]:
    items = []
    for endpoint, label, permission in NAV_ITEMS:
        if endpoint not in current_app.view_functions:
            continue
        if permission is not None and not can(current_user, permission):
            continue
        items.append(NavItem(url_for(endpoint), label, request.endpoint == endpoint))
    return items

"""The main navigation: links by permission, for the areas the app has."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import gettext
from flask_login import current_user

from registry.authz import Permission, can
from registry.vocabularies import N_

# (endpoint, label, permission needed); None = any signed-in user.  Labels are translated
# when the navigation is built for a page (the cache below holds them in English).
NAV_ITEMS: tuple[tuple[str, str, Permission | None], ...] = (
    ("main.home", N_("Home"), None),
    ("clinical.patient_list", N_("Patients"), Permission.CLINICAL_READ),
    ("clinical.enrol", N_("Enrol patient"), Permission.CLINICAL_WRITE),
    ("followup.worklist", N_("Worklist"), Permission.FOLLOWUP_MANAGE),
    ("followup.grid", N_("Status grid"), Permission.CLINICAL_READ),
    ("lots.index", N_("Products and lots"), Permission.CLINICAL_READ),
    ("research.cohorts", N_("Cohorts"), Permission.RESEARCH),
    ("admin.users", N_("Users"), Permission.ADMIN),
    ("admin.sites", N_("Sites"), Permission.ADMIN),
    ("admin.protocols", N_("Protocols"), Permission.ADMIN),
    ("admin.text_packs", N_("Instrument texts"), Permission.ADMIN),
    ("audit.index", N_("Audit trail"), Permission.AUDIT_READ),
)


@dataclass(frozen=True)
class NavItem:
    url: str
    label: str
    current: bool


def _links(user: object) -> list[tuple[str, str, str]]:
    """(endpoint, url, label) of the links the user's role may follow."""
    return [(endpoint, url_for(endpoint), label) for endpoint, label, permission in NAV_ITEMS
            if endpoint in current_app.view_functions
            and (permission is None or can(user, permission))]


def navigation() -> list[NavItem]:
    """The main navigation for the current user and page.

    The links depend only on the role (these permissions are not site-scoped) and the
    app's URL root, so they are worked out once per role and root, not on every page.
    """
    user = current_user._get_current_object()
    key = (getattr(user, "role", None), getattr(user, "is_active", False),
           request.script_root)
    cache: dict[tuple[object, ...], list[tuple[str, str, str]]] = (
        current_app.extensions.setdefault("registry.navigation", {}))
    links = cache.get(key)
    if links is None:
        links = cache[key] = _links(user)
    return [NavItem(url, gettext(label), request.endpoint == endpoint)
            for endpoint, url, label in links]

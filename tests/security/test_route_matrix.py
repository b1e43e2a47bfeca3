"""Authorization matrix generated from the app's own URL map.

Every route × every role (and anonymous) × own site / other site × GET / POST is
requested against the expected access rule kept here.  A route missing from EXPECTED
fails the suite, so a new page cannot ship without a decision about who may use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask

from registry.authz import Permission

P = Permission


@dataclass(frozen=True)
class Rule:
    """Who may use an endpoint: anyone, any signed-in user, or holders of a permission
    (at the site of the patient in the URL when ``site_scoped``)."""

    permission: Permission | None = None
    public: bool = False
    site_scoped: bool = False


PUBLIC = Rule(public=True)
SIGNED_IN = Rule()


def at_site(permission: Permission) -> Rule:
    return Rule(permission, site_scoped=True)


def anywhere(permission: Permission) -> Rule:
    return Rule(permission)


EXPECTED: dict[str, Rule] = {
    "main.index": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "main.home": SIGNED_IN,
    "auth.change_password_page": SIGNED_IN,
    "auth.keepalive": SIGNED_IN,
    "auth.language_page": SIGNED_IN,
    "admin.sites": anywhere(P.ADMIN),
    "admin.edit_site": anywhere(P.ADMIN),
    "admin.users": anywhere(P.ADMIN),
    "admin.edit_user": anywhere(P.ADMIN),
    "admin.unlock_user": anywhere(P.ADMIN),
    "admin.protocols": anywhere(P.ADMIN),
    "admin.edit_protocol": anywhere(P.ADMIN),
    "admin.text_packs": anywhere(P.ADMIN),
    "audit.index": anywhere(P.AUDIT_READ),
    "audit.export_csv": anywhere(P.AUDIT_READ),
    # History of a patient / visit: staff of its site (authz.can_read_history).
    "audit.patient_history": at_site(P.CLINICAL_READ),
    "audit.visit_history": at_site(P.CLINICAL_READ),
    "clinical.patient_list": anywhere(P.CLINICAL_READ),
    "clinical.enrol": anywhere(P.CLINICAL_WRITE),
    "clinical.patient_page": at_site(P.CLINICAL_READ),
    "clinical.score_chart": at_site(P.CLINICAL_READ),
    "clinical.treatment": at_site(P.CLINICAL_WRITE),
    "clinical.visit_entry": at_site(P.CLINICAL_WRITE),
    "clinical.unscheduled_visit": at_site(P.CLINICAL_WRITE),
    "clinical.adverse_event_new": at_site(P.CLINICAL_WRITE),
    "clinical.adverse_event_edit": at_site(P.CLINICAL_WRITE),
    "clinical.adverse_event_review": at_site(P.CLINICAL_WRITE),
    # Products and lots: the catalogue and each lot's trace for clinical staff (a lot's
    # trace shows their own sites' patients; admins see every site), kept by admins; the
    # recall review of a patient by the staff of the patient's site.
    "lots.index": anywhere(P.CLINICAL_READ),
    "lots.lot_page": anywhere(P.CLINICAL_READ),
    "lots.trace_csv": anywhere(P.CLINICAL_READ),
    "lots.new_product": anywhere(P.ADMIN),
    "lots.edit_product": anywhere(P.ADMIN),
    "lots.new_lot": anywhere(P.ADMIN),
    "lots.lot_status": anywhere(P.ADMIN),
    "lots.recall_review": at_site(P.CLINICAL_WRITE),
    "followup.worklist": anywhere(P.FOLLOWUP_MANAGE),
    # The record status grid: clinicians too (their own sites' patients only).
    "followup.grid": anywhere(P.CLINICAL_READ),
    "followup.call_list": anywhere(P.FOLLOWUP_MANAGE),
    "followup.visit_page": at_site(P.FOLLOWUP_MANAGE),
    "followup.record_contact": at_site(P.FOLLOWUP_MANAGE),
    "followup.visit_not_applicable": at_site(P.FOLLOWUP_MANAGE),
    "followup.withdraw": at_site(P.FOLLOWUP_MANAGE),
    # Staff actions on a visit's self-report links (HA).
    "selfreport_staff.create_link": at_site(P.CLINICAL_WRITE),
    "selfreport_staff.email_link": at_site(P.CLINICAL_WRITE),
    "selfreport_staff.revoke_link": at_site(P.CLINICAL_WRITE),
    "selfreport_staff.review": at_site(P.CLINICAL_WRITE),
    # The patient's self-report pages: no sign-in, reached by the link's token alone.
    "selfreport.start": PUBLIC,
    "selfreport.step": PUBLIC,
    "selfreport.review": PUBLIC,
    "selfreport.submit_form": PUBLIC,
    "selfreport.language": PUBLIC,
    "selfreport.unknown": PUBLIC,
    "selfreport.kiosk_start": at_site(P.CLINICAL_WRITE),
}
# Endpoints whose rule is read from a module-level table in the research tests.
PREFIX_RULES: dict[str, Rule] = {"research.": anywhere(P.RESEARCH)}

ROLES = ("clinician", "coordinator", "researcher", "admin")
ROLE_PERMISSIONS = {
    "clinician": {P.CLINICAL_READ, P.IDENTITY_READ, P.CLINICAL_WRITE},
    "coordinator": {P.CLINICAL_READ, P.IDENTITY_READ, P.CLINICAL_WRITE, P.FOLLOWUP_MANAGE},
    "researcher": {P.RESEARCH},
    "admin": set(P),
}


def rule_for(endpoint: str) -> Rule | None:
    if endpoint in EXPECTED:
        return EXPECTED[endpoint]
    for prefix, rule in PREFIX_RULES.items():
        if endpoint.startswith(prefix):
            return rule
    return None


def _routes(app: Flask) -> list[tuple[str, str, tuple[str, ...]]]:
    routes = []
    for url_rule in app.url_map.iter_rules():
        if url_rule.endpoint == "static":
            continue
        for method in sorted((url_rule.methods or set()) & {"GET", "POST"}):
            routes.append((url_rule.endpoint, method, tuple(sorted(url_rule.arguments))))
    return routes


def test_every_route_has_an_expected_rule(app):
    missing = sorted({endpoint for endpoint, _m, _a in _routes(app) if rule_for(endpoint) is None})
    assert missing == [], f"add these endpoints to EXPECTED: {missing}"


def test_every_protected_view_declares_its_permission(app):
    """The decorator's permission agrees with the table (a second, independent check)."""
    for endpoint, view in app.view_functions.items():
        rule = rule_for(endpoint)
        if rule is None or rule.public or rule.permission is None:
            continue
        declared = getattr(view, "required_permission", None)
        assert declared is not None, f"{endpoint} has no @requires(...)"


def _url(app: Flask, endpoint: str, arguments: tuple[str, ...], values: dict) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **{name: values.get(name, 1) for name in arguments})


def _expected_allowed(rule: Rule, role: str | None, site: str) -> bool:
    if rule.public:
        return True
    if role is None:
        return False
    if rule.permission is None:
        return True
    if rule.permission not in ROLE_PERMISSIONS[role]:
        return False
    return not (rule.site_scoped and site == "other")


@pytest.mark.parametrize("role", [None, *ROLES])
def test_route_matrix(app, client, auth, world, site_a, role):
    if role is not None:
        auth.login(role, sites=[site_a] if role != "researcher" else [])
    failures = []
    for endpoint, method, arguments in _routes(app):
        rule = rule_for(endpoint)
        if rule is None or endpoint in {"auth.logout", "auth.login"}:
            continue
        for site in ("own", "other"):
            url = _url(app, endpoint, arguments, world[site])
            response = client.open(url, method=method, data={})
            response.close()
            status = response.status_code
            location = response.headers.get("Location", "")
            to_login = status in (301, 302, 303) and "/login" in location
            allowed = _expected_allowed(rule, role, site)
            if rule.public:
                ok = status < 500
            elif allowed:
                ok = status < 500 and status not in (401, 403) and not to_login
            elif role is None:
                ok = to_login or status == 401
            else:
                ok = status in (403, 404) or (status == 404 and rule.site_scoped)
            if not ok:
                failures.append(f"{role} {method} {url} ({site}): {status} {location}")
            if not rule.site_scoped:
                break
    assert failures == []

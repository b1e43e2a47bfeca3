"""The visit's self-report panel on staff pages (clinical visit, follow-up visit).

Templates call ``self_report_panel(visit, back)`` (a Jinja global set by the staff
blueprint) and include ``selfreport/_staff_panel.html`` when it returns a panel: only
users who may write clinical data at the patient's site get one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_login import current_user

from registry.authz import Permission, can
from registry.clock import today
from registry.db import get_session
from registry.i18n import moment as format_moment
from registry.models import Patient, SelfReport, Visit
from registry.selfreport.service import link_state, report_for_visit, why_not_open
from registry.vocabularies import COLLECTION_MODES, LINK_CHANNELS, N_

# Where the panel's buttons return to: the page that showed the panel.
BACK_PAGES = ("clinical", "followup")
# Marked for the catalogue; the pages translate them where shown (``|label``).
LINK_STATE_LABELS: dict[str, str] = {
    "sent": N_("Link sent, not yet opened"),
    "opened": N_("Opened by the patient"),
    "started": N_("Started by the patient"),
    "submitted": N_("Submitted by the patient"),
    "pending_review": N_("Submitted by the patient, awaiting review"),
}
NO_LINK_YET = N_("No self-report link yet")


def stamp(moment: datetime | None) -> str:
    """A UTC time as the panel shows it, in the language in force."""
    return _("%(time)s UTC", time=format_moment(moment)) if moment else ""


@dataclass
class LinkRow:
    id: int
    channel: str
    created: str
    created_by: str
    expires_on: date
    opened: str
    revoked: str
    active: bool


@dataclass
class Panel:
    visit: Visit
    back: str
    state: str | None
    state_label: str
    mode_label: str | None
    blocked: str | None  # why no link can be sent now
    has_email: bool
    kiosk: bool
    pending: bool
    links: list[LinkRow] = field(default_factory=list)


def back_url(back: str, visit: Visit) -> str:
    """The staff page to return to after a panel action."""
    if back == "followup" and "followup.visit_page" in current_app.view_functions:
        return url_for("followup.visit_page", visit_id=visit.id)
    return url_for("clinical.visit_entry", patient_id=visit.patient_id, visit_id=visit.id)


def _rows(report: SelfReport | None, site_today: date) -> list[LinkRow]:
    rows = []
    for link in report.links if report else []:
        rows.append(LinkRow(
            id=link.id, channel=LINK_CHANNELS.get(link.channel, link.channel),
            created=stamp(link.created_at),
            created_by=link.created_by.full_name if link.created_by else "",
            expires_on=link.expires_on,
            opened=(_("%(first)s (last %(last)s)", first=stamp(link.first_opened_at),
                      last=stamp(link.last_opened_at))
                    if link.first_opened_at else _("not yet")),
            revoked=stamp(link.revoked_at),
            active=link.revoked_at is None and link.expires_on >= site_today))
    return rows


def build_panel(visit: Visit, back: str) -> Panel | None:
    """The panel for ``visit``, or None when the user may not act on it."""
    patient: Patient = visit.patient
    if not can(current_user, Permission.CLINICAL_WRITE, patient.site_id):
        return None
    report = report_for_visit(get_session(), visit.id)
    site_today = today(patient.site.timezone)
    state = link_state(report)
    identity = patient.identity
    return Panel(
        visit=visit, back=back if back in BACK_PAGES else "clinical", state=state,
        state_label=LINK_STATE_LABELS.get(state or "", NO_LINK_YET),
        mode_label=COLLECTION_MODES.get(visit.collection_mode or ""),
        blocked=why_not_open(visit, site_today),
        has_email=bool(identity is not None and identity.email),
        kiosk="selfreport.kiosk_start" in current_app.view_functions,
        pending=report is not None and report.state == "pending_review",
        links=_rows(report, site_today))

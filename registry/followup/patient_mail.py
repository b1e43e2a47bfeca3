"""What a patient's reminder e-mail says: their self-report link, or "please book".

A reminder carries the patient's own self-report link (a new link per e-mail, channel
"email"; the plain token exists only in the e-mail) when the visit's instruments can be
self-reported in the patient's language (``registry.textpacks.self_reportable``); the
wording is then ``registry.selfreport.messages.patient_message``.  Otherwise it asks the
patient to book an appointment, as before self-report existed.  Both in the patient's
language (``registry.selfreport.service.language_of``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.clinical.services.visits import visit_instruments
from registry.i18n import timepoint_name
from registry.models import SelfReportLink, Visit
from registry.selfreport import service as self_report
from registry.services import ValidationFailed
from registry.textpacks import self_reportable
from registry.vocabularies import LANGUAGES

WITHDRAWN = "reminder e-mail not delivered: its link never reached the patient"


@dataclass(frozen=True)
class SelfReportLinkText:
    """The link an e-mail carries: its absolute address and its last day."""

    url: str
    expires_on: date


def booking_message(kind: str, *, clinic: str, visit_name: str, target_date: date,
                    window_end: date, language: str) -> tuple[str, str]:
    """Subject and body asking the patient to book the visit (no self-report possible):
    the clinic, the visit's name and dates, nothing clinical."""
    with force_locale(language if language in LANGUAGES else "en"):
        values = {"clinic": clinic, "visit": timepoint_name(visit_name),
                  "target": target_date.isoformat(), "end": window_end.isoformat()}
        if kind == "window_open":
            subject = _("Your follow-up visit at %(clinic)s", **values)
            lead = _("It is time for your “%(visit)s” follow-up visit at %(clinic)s. It "
                     "is planned for %(target)s and can take place until %(end)s.", **values)
        else:
            subject = _("Reminder: your follow-up visit at %(clinic)s", **values)
            lead = _("Your “%(visit)s” follow-up visit at %(clinic)s was planned for "
                     "%(target)s. It can still take place until %(end)s.", **values)
        body = "\n\n".join([
            _("Hello,"), lead,
            _("Please contact %(clinic)s to book an appointment if you have not already "
              "done so.", **values),
            _("This message was sent automatically; please do not reply to it."),
        ]) + "\n"
    return subject, body


class LinkPlanner:
    """Whether a reminder carries a self-report link, and issuing it (one per e-mail).

    A link is issued when the visit's instruments can be self-reported in the patient's
    language (``registry.textpacks.self_reportable``); the plain token exists only in
    the e-mail.  Answers per (instruments, language) are remembered for the run.  The
    link is committed before the message is sent (no transaction stays open while the
    mail server answers); :meth:`withdraw` deletes it again if the message did not go out.
    """

    def __init__(self, session: Session, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        self._reportable: dict[tuple[tuple[str, ...], str], bool] = {}
        self.issued: int | None = None  # the id of the link last issued

    def language_and_visit(self, visit_id: int) -> tuple[str, Visit | None]:
        visit = self.session.get(Visit, visit_id)
        return (self_report.language_of(visit.patient) if visit else "en"), visit

    def can_link(self, visit: Visit, language: str) -> bool:
        key = (tuple(visit_instruments(visit)), language)
        if key not in self._reportable:
            self._reportable[key] = bool(self_reportable(self.session, key[0], language))
        return self._reportable[key]

    def issue(self, visit: Visit, language: str) -> SelfReportLinkText | None:
        """A new e-mail link to the visit's self-report (flushed, not committed), or None
        when the patient cannot answer it themselves."""
        self.issued = None
        if not self.can_link(visit, language):
            return None
        savepoint = self.session.begin_nested()
        try:
            link, token = self_report.issue_link(self.session, visit, channel="email",
                                                 created_by_id=None)
        except ValidationFailed:  # e.g. recorded meanwhile: the booking wording then
            savepoint.rollback()
            return None
        savepoint.commit()
        self.issued = link.id
        return SelfReportLinkText(self_report.link_url(token, self.base_url), link.expires_on)

    def withdraw(self) -> None:
        """Delete the link last issued (its e-mail was not delivered: nobody has it), and
        its self-report too when that link was its only one and it was never opened, so
        that lists do not show a link as sent.  Flushed, not committed."""
        link = self.session.get(SelfReportLink, self.issued) if self.issued else None
        self.issued = None
        if link is None:
            return
        report = link.self_report
        with capture.reason(self.session, WITHDRAWN):
            if report.links == [link] and report.opened_at is None and report.state == "open":
                self.session.delete(report)  # and its link (delete-orphan)
            else:
                report.links.remove(link)


__all__ = ["LinkPlanner", "SelfReportLinkText", "booking_message"]

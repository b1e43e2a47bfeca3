"""E-mails to patients that carry their self-report link, in the patient's language.

Plain text with the clinic's name, the visit's name, the link and until when it works:
nothing clinical or identifying (no name, record number or birth date), since e-mail
may be read by others.  Used by the staff's "e-mail link" button (``invitation``) and by
the follow-up reminders (``window_open``, ``overdue``).
"""

from __future__ import annotations

from datetime import date

from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from registry.i18n import timepoint_name
from registry.vocabularies import LANGUAGES

KINDS = ("invitation", "window_open", "overdue")


def patient_message(kind: str, *, clinic: str, visit_name: str, url: str,
                    target_date: date | None, window_end: date, language: str
                    ) -> tuple[str, str]:
    """Subject and body of a self-report e-mail; ``window_end``: the link's last day."""
    if kind not in KINDS:
        raise ValueError(f"unknown patient message {kind!r}")
    with force_locale(language if language in LANGUAGES else "en"):
        visit_name = timepoint_name(visit_name)
        until = format_date(window_end, format="long")
        planned = format_date(target_date, format="long") if target_date else None
        if kind == "invitation":
            subject = _("Your questionnaire for %(clinic)s", clinic=clinic)
            lead = _("%(clinic)s asks you to answer a short questionnaire for your "
                     "“%(visit)s” visit.", clinic=clinic, visit=visit_name)
        elif kind == "window_open":
            subject = _("Your follow-up visit at %(clinic)s", clinic=clinic)
            lead = _("It is time for your “%(visit)s” follow-up visit at %(clinic)s.",
                     visit=visit_name, clinic=clinic)
            if planned:
                lead += " " + _("It is planned for %(date)s.", date=planned)
        else:
            subject = _("Reminder: your follow-up visit at %(clinic)s", clinic=clinic)
            lead = _("Your “%(visit)s” follow-up visit at %(clinic)s is due and we have "
                     "not yet received your answers.", visit=visit_name, clinic=clinic)
        body = "\n\n".join([
            _("Hello,"),
            lead,
            _("You can answer the questionnaire yourself, on your phone or computer, "
              "with this personal link:"),
            url,
            _("The link works until %(date)s. Please do not share it: it is for you "
              "only.", date=until),
            _("If you have questions, please contact %(clinic)s.", clinic=clinic),
            _("This message was sent automatically; please do not reply to it."),
        ]) + "\n"
    return subject, body

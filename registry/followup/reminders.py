"""E-mail reminders: patients when a visit window opens and when it is overdue, and each
coordinator's daily digest of their sites' overdue visits.

Exactly-once, enforced by the database.  Each message is first *claimed* by inserting its
``Reminder`` row (``INSERT … ON CONFLICT DO NOTHING`` against the unique constraints
(visit, kind) and (user, kind, day)); the claim is committed before anything is sent, so
a concurrent run that tries the same claim gets nothing back and skips the message.  Then
the message is sent and the row marked ``sent`` (with the time) or ``failed`` (with the
error).  The ``Reminder`` row is the log: kind, recipient, visit or user, when.  Bodies
are never stored.

Retries: a ``failed`` reminder is claimed again (atomically, ``UPDATE … WHERE status =
'failed'``) by the next run while its visit is still due / overdue (or on the same day
for a digest), so an SMTP outage delays reminders but does not lose them.  A run that
dies between claim and send leaves a ``claimed`` row, which is never re-sent
automatically (at most once beats twice); such rows are listed by ``--dry-run``.

Only active sites are served: deactivating a site stops its reminders and digests.

Patients' e-mails carry their self-report link when they can answer the visit's
questionnaires themselves (see ``registry.followup.patient_mail``), in their language; the
link is committed before sending, and deleted again if sending fails.  No
reminder goes out for a visit once it is done or its self-report was sent by the patient.

Because the claim must be durable before the message goes out, :func:`run_reminders`
owns its transactions (commits), like a command; it is only called from ``registry
remind`` and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Table, and_, case, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from registry import audit_capture as capture
from registry.authz import Permission, can
from registry.clock import today as clock_today
from registry.followup.mailer import Mailer, SmtpSettings, build_message
from registry.followup.patient_mail import LinkPlanner, SelfReportLinkText, booking_message
from registry.followup.status import open_visit_prefilter, site_todays, status_expression
from registry.i18n import day, timepoint_name
from registry.models import (
    Patient,
    PatientIdentity,
    Reminder,
    SelfReport,
    Site,
    Timepoint,
    User,
    Visit,
    utcnow,
)
from registry.selfreport.messages import patient_message

PATIENT_KINDS = {"due": "window_open", "overdue": "overdue"}
DIGEST_KIND = "coordinator_digest"
DIGEST_MAX_ROWS = 200
REMINDER_ACTOR = "registry remind"


@dataclass(frozen=True)
class PatientReminder:
    kind: str
    visit_id: int
    recipient: str
    clinic: str
    visit_name: str
    target_date: date
    window_end: date

    def message(self, language: str = "en",
                link: SelfReportLinkText | None = None) -> tuple[str, str]:
        """Subject and body in ``language``: the clinic, the visit's name and dates, the
        patient's self-report link when there is one, nothing clinical."""
        if link is not None:
            return patient_message(self.kind, clinic=self.clinic, visit_name=self.visit_name,
                                   url=link.url, target_date=self.target_date,
                                   window_end=link.expires_on, language=language)
        return booking_message(self.kind, clinic=self.clinic, visit_name=self.visit_name,
                               target_date=self.target_date, window_end=self.window_end,
                               language=language)


@dataclass(frozen=True)
class DigestLine:
    site_code: str
    study_id: str
    visit_name: str
    target_date: date
    days_overdue: int

    def text(self) -> str:
        """The digest's line for this visit, columns aligned, in the language in force."""
        study_id = self.study_id.ljust(14)
        visit = timepoint_name(self.visit_name).ljust(14)
        return ngettext("%(site)s  %(study_id)s %(visit)s target %(target)s  %(num)d days overdue",
                        "%(site)s  %(study_id)s %(visit)s target %(target)s  %(num)d days overdue",
                        self.days_overdue, site=self.site_code, study_id=study_id, visit=visit,
                        target=day(self.target_date))


@dataclass
class Digest:
    user_id: int
    recipient: str
    digest_date: date
    lines: list[DigestLine] = field(default_factory=list)

    def message(self) -> tuple[str, str]:
        """Subject and body in the language in force (a coordinator's e-mail)."""
        total = len(self.lines)
        subject = ngettext("Follow-up digest %(date)s: %(num)d overdue",
                           "Follow-up digest %(date)s: %(num)d overdue", total,
                           date=day(self.digest_date))
        shown = self.lines[:DIGEST_MAX_ROWS]
        listing = "\n".join("  " + line.text() for line in shown)
        more = ("\n  " + ngettext("… and %(num)d more (see the worklist).",
                                  "… and %(num)d more (see the worklist).", total - len(shown))
                if total > len(shown) else "")
        heading = ngettext("Overdue follow-up visits at your sites on %(date)s (%(num)d):",
                           "Overdue follow-up visits at your sites on %(date)s (%(num)d):",
                           total, date=day(self.digest_date))
        body = (f"{heading}\n\n{listing}{more}\n\n"
                + _("Open the worklist in the registry to record contact attempts.") + "\n")
        return subject, body


@dataclass
class RunSummary:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    planned: int = 0
    stuck: list[int] = field(default_factory=list)


def patient_reminders(session: Session, todays: dict[int, date]) -> list[PatientReminder]:
    """Patient reminders to send now (not yet claimed or sent), in one query."""
    if not todays:
        return []
    status = status_expression(todays)
    candidates = (
        select(Visit.id.label("visit_id"), PatientIdentity.email.label("recipient"),
               Site.name.label("clinic"), Timepoint.name.label("visit_name"),
               Visit.target_date, Visit.window_end, status.label("status"))
        .join(Patient, Patient.id == Visit.patient_id)
        .join(PatientIdentity, PatientIdentity.patient_id == Patient.id)
        .join(Site, Site.id == Patient.site_id)
        .join(Timepoint, Timepoint.id == Visit.timepoint_id)
        .where(Patient.site_id.in_(sorted(todays)), *open_visit_prefilter(todays),
               Timepoint.is_baseline.is_(False),
               PatientIdentity.email_reminders.is_(True), PatientIdentity.email.is_not(None),
               PatientIdentity.email != "",
               # The patient already sent the visit's self-report: nothing to remind of.
               ~exists().where(SelfReport.visit_id == Visit.id, SelfReport.state != "open"))
    ).subquery()
    kind = case({status: kind for status, kind in PATIENT_KINDS.items()},
                value=candidates.c.status)
    already = exists().where(Reminder.visit_id == candidates.c.visit_id, Reminder.kind == kind,
                             Reminder.status.in_(("claimed", "sent")))
    rows = session.execute(select(candidates, kind.label("kind"))
                           .where(candidates.c.status.in_(tuple(PATIENT_KINDS)), ~already)
                           .order_by(candidates.c.visit_id))
    return [PatientReminder(kind=row.kind, visit_id=row.visit_id, recipient=row.recipient,
                            clinic=row.clinic, visit_name=row.visit_name,
                            target_date=row.target_date, window_end=row.window_end)
            for row in rows]


def coordinator_digests(session: Session, todays: dict[int, date],
                        digest_date: date) -> list[Digest]:
    """Each follow-up manager's digest of overdue visits at their sites (if any)."""
    if not todays:
        return []
    status = status_expression(todays)
    overdue = (select(Patient.site_id, Site.code, Patient.study_id, Timepoint.name,
                      Visit.target_date, Visit.grace_end, status.label("status"))
               .join(Patient, Patient.id == Visit.patient_id)
               .join(Site, Site.id == Patient.site_id)
               .join(Timepoint, Timepoint.id == Visit.timepoint_id)
               .where(Patient.site_id.in_(sorted(todays)),
                      *open_visit_prefilter(todays))).subquery()
    by_site: dict[int, list[DigestLine]] = {}
    for row in session.execute(select(overdue).where(overdue.c.status == "overdue")
                               .order_by(overdue.c.grace_end, overdue.c.study_id)):
        by_site.setdefault(row.site_id, []).append(DigestLine(
            row.code, row.study_id, row.name, row.target_date,
            (todays[row.site_id] - row.grace_end).days))
    done_today = set(session.scalars(
        select(Reminder.user_id).where(Reminder.kind == DIGEST_KIND,
                                       Reminder.digest_date == digest_date,
                                       Reminder.status.in_(("claimed", "sent")))))
    digests = []
    users = session.scalars(select(User).where(User.active.is_(True))
                            .options(selectinload(User.sites)).order_by(User.id))
    for user in users:
        if user.id in done_today or not can(user, Permission.FOLLOWUP_MANAGE):
            continue
        lines = [line for site_id in sorted(user.site_ids)
                 if can(user, Permission.FOLLOWUP_MANAGE, site_id)
                 for line in by_site.get(site_id, [])]
        if lines:
            lines.sort(key=lambda line: (-line.days_overdue, line.study_id))
            digests.append(Digest(user.id, user.email, digest_date, lines))
    return digests


def _insert_for(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    return insert


def claim(session: Session, *, kind: str, recipient: str, visit_id: int | None = None,
          user_id: int | None = None, digest_date: date | None = None) -> int | None:
    """Claim a reminder and commit the claim; None if another run already has it."""
    table: Table = Reminder.__table__  # type: ignore[assignment]  # declared as a FromClause
    key = {"kind": kind, "visit_id": visit_id, "user_id": user_id, "digest_date": digest_date}
    statement = (_insert_for(session)(table)
                 .values(**key, recipient=recipient, status="claimed", created_at=utcnow())
                 .on_conflict_do_nothing().returning(table.c.id))
    reminder_id = session.execute(statement).scalar()
    if reminder_id is None:  # taken: retry it only if an earlier attempt failed
        match = [table.c[name] == value for name, value in key.items() if value is not None]
        reminder_id = session.execute(
            update(table).where(and_(*match), table.c.status == "failed")
            .values(status="claimed", error=None, recipient=recipient)
            .returning(table.c.id)).scalar()
    session.commit()
    return reminder_id


def _finish(session: Session, reminder_id: int, error: str | None) -> None:
    table: Table = Reminder.__table__  # type: ignore[assignment]  # declared as a FromClause
    values = ({"status": "sent", "sent_at": utcnow(), "error": None} if error is None
              else {"status": "failed", "error": error[:2000]})
    session.execute(update(table).where(table.c.id == reminder_id).values(**values))
    session.commit()


def stuck_claims(session: Session) -> list[int]:
    """Reminders claimed but never marked sent or failed (a run died while sending)."""
    return list(session.scalars(select(Reminder.id).where(Reminder.status == "claimed")
                                .order_by(Reminder.id)))


def _patient_message(planner: LinkPlanner, reminder: PatientReminder) -> tuple[str, str]:
    language, visit = planner.language_and_visit(reminder.visit_id)
    link = planner.issue(visit, language) if visit is not None else None
    return reminder.message(language, link)


def _deliver(session: Session, mailer: Mailer, settings: SmtpSettings, summary: RunSummary,
             echo: Callable[[str], Any], label: str, recipient: str,
             compose: Callable[[], tuple[str, str]],
             on_failure: Callable[[], None] | None = None, **key: Any) -> None:
    """Claim, compose (a patient's link is made), commit, send, record.

    Nothing stays open while the mail server answers (on SQLite a held write lock would
    starve a concurrent run).  If sending fails, ``on_failure`` undoes what compose made
    (the link nobody received), committed with the "failed" mark.
    """
    reminder_id = claim(session, recipient=recipient, **key)
    if reminder_id is None:
        summary.skipped += 1
        return
    subject, body = compose()
    session.commit()
    try:
        mailer.send(build_message(settings, recipient, subject, body))
    except (OSError, ValueError) as error:  # smtplib errors are OSError subclasses
        if on_failure is not None:
            on_failure()
        _finish(session, reminder_id, f"{type(error).__name__}: {error}")
        summary.failed += 1
        echo(_("FAILED  %(label)s to %(recipient)s: %(error)s", label=label, recipient=recipient,
               error=error))
        return
    _finish(session, reminder_id, None)
    summary.sent += 1
    echo(_("sent    %(label)s to %(recipient)s (reminder %(id)s)", label=label,
           recipient=recipient, id=reminder_id))


def run_reminders(session: Session, config: Any, *, dry_run: bool = False,
                  echo: Callable[[str], Any] = print) -> RunSummary:
    """Send (or with ``dry_run`` only list) every reminder that is due now."""
    settings = SmtpSettings.from_config(config)
    # Active sites only: a deactivated site sends neither patient reminders (nobody there
    # records the visits) nor digests.
    todays = site_todays(session, select(Site.id).where(Site.active.is_(True)))
    digest_date = clock_today()
    patients = patient_reminders(session, todays)
    digests = coordinator_digests(session, todays, digest_date)
    summary = RunSummary(planned=len(patients) + len(digests))
    planner = LinkPlanner(session, str(config.get("BASE_URL") or ""))
    if dry_run:
        for reminder in patients:
            language, visit = planner.language_and_visit(reminder.visit_id)
            values = {"kind": reminder.kind, "recipient": reminder.recipient,
                      "visit_id": reminder.visit_id, "visit": reminder.visit_name,
                      "clinic": reminder.clinic, "language": language}
            if visit is not None and planner.can_link(visit, language):
                echo(_("would send %(kind)s to %(recipient)s (visit %(visit_id)s, %(visit)s, "
                       "%(clinic)s, in %(language)s, with a self-report link)", **values))
            else:
                echo(_("would send %(kind)s to %(recipient)s (visit %(visit_id)s, %(visit)s, "
                       "%(clinic)s, in %(language)s)", **values))
        for digest in digests:
            echo(ngettext("would send %(kind)s to %(recipient)s (%(num)d overdue visits, "
                          "%(date)s)",
                          "would send %(kind)s to %(recipient)s (%(num)d overdue visits, "
                          "%(date)s)", len(digest.lines), kind=DIGEST_KIND,
                          recipient=digest.recipient, date=digest.digest_date.isoformat()))
        summary.stuck = stuck_claims(session)
        session.rollback()
        return summary
    session.commit()  # end the read; each claim is its own transaction
    capture.set_actor(session, None, REMINDER_ACTOR)  # the links' audit rows name the run
    with Mailer(settings) as mailer:
        for reminder in patients:
            _deliver(session, mailer, settings, summary, echo,
                     f"{reminder.kind} (visit {reminder.visit_id})", reminder.recipient,
                     partial(_patient_message, planner, reminder), planner.withdraw,
                     kind=reminder.kind, visit_id=reminder.visit_id)
        for digest in digests:
            _deliver(session, mailer, settings, summary, echo,
                     f"{DIGEST_KIND} ({len(digest.lines)} overdue)", digest.recipient,
                     digest.message, kind=DIGEST_KIND, user_id=digest.user_id,
                     digest_date=digest.digest_date)
    return summary


def describe(summary: RunSummary, dry_run: bool) -> Iterable[str]:
    """The run's summary lines (the command prints them), in the language in force."""
    if dry_run:
        yield ngettext("Dry run: %(num)d message(s) would be sent; nothing was sent or "
                       "recorded.",
                       "Dry run: %(num)d message(s) would be sent; nothing was sent or "
                       "recorded.", summary.planned)
        if summary.stuck:
            yield ngettext("%(num)d reminder(s) were claimed by a run that did not finish and "
                           "will not be re-sent: ids %(ids)s",
                           "%(num)d reminder(s) were claimed by a run that did not finish and "
                           "will not be re-sent: ids %(ids)s", len(summary.stuck),
                           ids=summary.stuck[:20])
        return
    yield _("Reminders: %(sent)d sent, %(failed)d failed (retried next run), %(skipped)d "
            "already claimed by another run.", sent=summary.sent, failed=summary.failed,
            skipped=summary.skipped)

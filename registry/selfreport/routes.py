"""The patient's pages at ``/r/<token>``: no sign-in, one self-report per link.

What a page can show is decided by the token alone: the link leads to one self-report
(one visit of one patient), and every URL below carries that token, so a token can never
reach another patient's answers.  The pages show the clinic's name and the visit's name,
nothing identifying, and link nowhere but to each other.

- A wrong, malformed, expired or revoked token, on any ``/r/`` URL, gets the same plain
  404 page (same body, same status), and counts as a failure against the client address;
  an address with ``SELF_REPORT_FAILED_LIMIT`` failures in the window gets 429 for every
  ``/r/`` request until the window ends (``registry.throttle``).  Valid tokens never count,
  so a clinic's patients behind one address are not blocked by each other.
- Every step is saved on the server as the patient goes (even with invalid answers: the
  valid ones are kept and the page says what to fix), so a closed phone loses nothing.
- Submission is idempotent: a second POST (double click, two tabs) shows the same
  thank-you page and saves nothing twice (``service.submit`` locks the report).
- Responses are never cached, send no referrer (the token is in the URL) and ask search
  engines not to index them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from registry import throttle
from registry.db import get_session
from registry.i18n import set_locale, timepoint_name
from registry.models import SelfReport, SelfReportLink
from registry.selfreport import form, service
from registry.services import ValidationFailed
from registry.textpacks import demo_notice, self_reportable
from registry.transactions import writes_on_get
from registry.vocabularies import LANGUAGES

bp = Blueprint("selfreport", __name__)

KIOSK_KEY = "selfreport_kiosk"  # session key: the token a clinic tablet is locked to
PATIENT_ENDPOINTS = frozenset({
    "selfreport.start", "selfreport.step", "selfreport.review", "selfreport.submit_form",
    "selfreport.language", "selfreport.unknown"})
LANGUAGE_NAMES = {"en": "English", "es": "Español"}  # each in its own language


@bp.record_once
def _start_page_writes(state: object) -> None:
    # Opening the link is the event the coordinator's worklist shows ("opened"), and the
    # first opening fixes the instruments offered: the start page's GET writes on purpose.
    writes_on_get(state.app, "selfreport.start")  # type: ignore[attr-defined]


def _throttle_key() -> str:
    return f"selfreport-failed:{request.remote_addr or 'unknown'}"


def _window() -> throttle.Window:
    config = current_app.config
    return throttle.Window(int(config["SELF_REPORT_FAILED_LIMIT"]),
                           int(config["SELF_REPORT_FAILED_WINDOW_SECONDS"]))


@bp.before_request
def _refuse_throttled() -> Response | None:
    """429 for every patient page while the client address is over its failure limit."""
    if request.endpoint not in PATIENT_ENDPOINTS:
        return None
    seconds = throttle.retry_after(get_session(), _throttle_key(), _window())
    if seconds is None:
        return None
    page = _bilingual_page("selfreport/too_many.html", lambda: _("Too many attempts"),
                           retry_minutes=max(1, (seconds + 59) // 60))
    response = Response(page, status=429, mimetype="text/html")
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.after_request
def _private_headers(response: Response) -> Response:
    if request.endpoint in PATIENT_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _bilingual_page(template: str, title: Callable[[], str], **values: object) -> str:
    """A page in every language at once: it cannot tell whose link failed, so it has no
    language of its own (and the same body whatever the reason)."""
    parts, titles = [], []
    for language in sorted(LANGUAGES):
        with force_locale(language):
            # Our own autoescaped template's output, so already safe HTML.
            parts.append((language, Markup(render_template(template, **values))))  # noqa: S704  # nosec B704
            titles.append(title())
    return render_template("selfreport/plain.html", parts=parts, title=" · ".join(titles))


def not_found_page() -> Response:
    """The one 404 page of the patient's pages."""
    return Response(_bilingual_page("selfreport/not_found.html",
                                    lambda: _("This link does not work")),
                    status=404, mimetype="text/html")


def _not_found() -> NoReturn:
    """Count the failure against the address, then the one plain 404 page."""
    db = get_session()
    db.rollback()  # nothing to keep; and see throttle.count_hit on SQLite's write lock
    throttle.count_hit(_throttle_key(), _window())
    abort(not_found_page())


def _link(token: str) -> SelfReportLink:
    """The token's working link (else the 404 page); pages speak the report's language."""
    link = service.find_link(get_session(), token)
    if link is None:
        _not_found()
    set_locale(link.self_report.language)
    return link


def _opened(token: str) -> tuple[SelfReportLink, SelfReport] | Response:
    """Link and report for the form's pages, or where to go instead: the start page when
    the form was never opened or is no longer open (it then says "thank you")."""
    link = _link(token)
    report = link.self_report
    if report.state != "open" or report.opened_at is None:
        return redirect(url_for("selfreport.start", token=token), code=303)
    service.act_as_link(get_session(), link)
    return link, report


def _languages(report: SelfReport) -> list[tuple[str, str]]:
    """Languages the patient may switch to: those with a text for every offered part."""
    db = get_session()
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in sorted(LANGUAGES)
            if code == report.language
            or self_reportable(db, report.instruments, code) == list(report.instruments)]


def _page(template: str, link: SelfReportLink, report: SelfReport, status: int = 200,
          **values: object) -> tuple[str, int]:
    return render_template(template, token=request.view_args["token"],  # type: ignore[index]
                           link=link, report=report, site=report.site,
                           visit_name=_visit_name(report),
                           # After submission the page only thanks: nothing to switch.
                           languages=_languages(report) if report.state == "open" else [],
                           steps=len(report.instruments), demo_notice=demo_notice(),
                           **values), status


def _visit_name(report: SelfReport) -> str:
    timepoint = report.visit.timepoint
    return timepoint_name(timepoint.name) if timepoint is not None else _("Follow-up visit")


@bp.route("/r/<token>")
def start(token: str) -> tuple[str, int]:
    """The start page: clinic and visit, the language switch, Start or Continue; after
    submission only "thank you"."""
    link = _link(token)
    report = link.self_report
    if report.state == "open":
        report = service.open_report(get_session(), link)
    elif session.get(KIOSK_KEY) == token:
        session.pop(KIOSK_KEY, None)
    return _page("selfreport/start.html", link, report,
                 resume_step=form.first_unanswered(report),
                 started=report.started_at is not None)


@bp.route("/r/<token>/<int:step>", methods=["GET", "POST"])
def step(token: str, step: int) -> tuple[str, int] | Response:
    """One section per screen; POST keeps the answers (even partial) and moves on."""
    found = _opened(token)
    if isinstance(found, Response):
        return found
    link, report = found
    if not 1 <= step <= len(report.instruments):
        abort(not_found_page())
    if request.method == "GET":
        return _page("selfreport/step.html", link, report,
                     section=form.section(get_session(), report, step))
    db = get_session()
    go = request.form.get("go", "")
    if go.startswith("language:"):
        _set_language(link, report, go.removeprefix("language:"))
    instrument = report.instruments[step - 1]
    try:
        errors = service.save_answers(db, report, instrument, request.form)
    except service.ReportClosed:
        return redirect(url_for("selfreport.start", token=token), code=303)
    if errors:
        # Keep what was valid even though the page answers 422 (which would roll the
        # request back): a closed phone must lose nothing.
        db.commit()
        return _page("selfreport/step.html", link, report, status=422,
                     section=form.section(db, report, step, request.form, errors))
    if go.startswith("language:"):
        target = url_for("selfreport.step", token=token, step=step)
    elif go == "back":
        target = (url_for("selfreport.step", token=token, step=step - 1) if step > 1
                  else url_for("selfreport.start", token=token))
    elif step < len(report.instruments):
        target = url_for("selfreport.step", token=token, step=step + 1)
    else:
        target = url_for("selfreport.review", token=token)
    return redirect(target, code=303)


@bp.route("/r/<token>/review")
def review(token: str) -> tuple[str, int] | Response:
    """Every answer (or "skipped" / "not answered") with a way back to change it."""
    found = _opened(token)
    if isinstance(found, Response):
        return found
    link, report = found
    return _page("selfreport/review.html", link, report,
                 sections=form.sections(get_session(), report), error=None)


@bp.route("/r/<token>/submit", methods=["POST"])
def submit_form(token: str) -> tuple[str, int] | Response:
    """Send the answers into the visit, once; then the thank-you page (also for a second
    POST of the same form, which saves nothing)."""
    link = _link(token)
    report = link.self_report
    db = get_session()
    if report.state == "open" and report.opened_at is not None:
        service.act_as_link(db, link)
        mode = "self_kiosk" if link.channel == "kiosk" else "self_link"
        try:
            service.submit(db, report, mode=mode)
        except ValidationFailed as error:
            message = next(iter(error.errors.values()), str(error))
            return _page("selfreport/review.html", link, report, status=422,
                         sections=form.sections(db, report), error=message)
    if session.get(KIOSK_KEY) == token:
        session.pop(KIOSK_KEY, None)  # the tablet is free again: next is staff sign-in
    if report.state == "open":  # never opened: the start page first
        return redirect(url_for("selfreport.start", token=token), code=303)
    # The thank-you page at once, not through a redirect: one request less per
    # submission in a reminder campaign; a repeated POST saves nothing (see above).
    return _page("selfreport/start.html", link, report, resume_step=None, started=True)


def _set_language(link: SelfReportLink, report: SelfReport, chosen: str) -> None:
    """Keep the patient's choice on the report (their e-mails and pages follow it)."""
    if chosen in dict(_languages(report)) and chosen != report.language:
        service.act_as_link(get_session(), link)
        report.language = chosen
        get_session().flush()
        set_locale(chosen)


@bp.route("/r/<token>/language", methods=["POST"])
def language(token: str) -> Response:
    """Switch the pages (and the instrument texts) to another language."""
    link = _link(token)
    report = link.self_report
    _set_language(link, report, request.form.get("language", ""))
    back = request.form.get("back", "")
    if back == "review":
        target = url_for("selfreport.review", token=token)
    elif back.isdigit() and 1 <= int(back) <= len(report.instruments):
        target = url_for("selfreport.step", token=token, step=int(back))
    else:
        target = url_for("selfreport.start", token=token)
    return redirect(target, code=303)


@bp.route("/r/", defaults={"rest": ""}, methods=["GET", "POST"])
@bp.route("/r/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str) -> NoReturn:
    """Any other address under /r/: the same 404 page as a wrong token."""
    _not_found()


from registry.selfreport import kiosk  # noqa: E402,F401  - the tablet's view and guard, on bp

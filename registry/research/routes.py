"""Views of the research area: cohort builder, saved cohorts, exports, summaries, charts.

Every view needs ``Permission.RESEARCH`` (researchers and admins).  Researchers see all
sites but only de-identified data: nothing here reads identities, birth dates or dates,
and the counts and summary cells they see are suppressed below the minimum cell size
(``disclosure``).  Downloads are named through ``registry.downloads``; an export's audit
row is written once its response, headers included, is built.  Exports and the summary
judge MCII / MIC / PASS by a threshold set the user picks (default: the study's).

Every worker imports this module when the app starts, also the workers that only serve
clinical pages, so it imports only light modules at the top.  pandas, pyarrow and
matplotlib (about 2 s and 140 MB of a worker) come in with ``export``, ``summary`` and
``charts``, which the views that need them import when they run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

import scoring
from registry.authz import Permission, can, requires
from registry.db import get_session
from registry.downloads import as_download
from registry.followup.completeness import MODE_LABELS
from registry.i18n import current_language
from registry.models import Cohort
from registry.request_guard import MAX_ID
from registry.research import bp, cohorts, disclosure, options
from registry.research.language import EXPORT_LANGUAGES
from registry.research.options import ExportOptions
from registry.services import ValidationFailed

ALL_KEY = "all"
ALL_NAME = cohorts.ALL_PATIENTS  # English in exports and the audit trail; pages translate it


def _free_text_allowed() -> bool:
    return bool(current_app.config.get("EXPORT_ALLOW_FREE_TEXT")) and can(
        current_user, Permission.ADMIN)


def _filters_only(data: MultiDict[str, str]) -> MultiDict[str, str]:
    return MultiDict([(k, v) for k, v in data.items(multi=True) if k in cohorts.FIELD_LABELS])


def _count(definition: dict[str, Any]) -> int | disclosure.Small:
    """The cohort's patient count as the current user may see it."""
    return disclosure.count(cohorts.count_patients(get_session(), definition),
                            disclosure.min_cell_size(current_user))


def _threshold_choices() -> dict[str, Any]:
    """The threshold sets for a select, and the study's default set."""
    return {"threshold_sets": options.threshold_set_choices(),
            "threshold_default": options.default_threshold_set(get_session())}


def _builder(definition: dict[str, Any] | None, errors: dict[str, str],
             count: int | disclosure.Small | None, status: int = 200,
             save_errors: dict[str, str] | None = None) -> tuple[str, int]:
    session = get_session()
    return render_template(
        "research/cohorts.html", choices=cohorts.filter_choices(session),
        values=request.args if request.method == "GET" else request.form,
        definition=definition, errors=errors, count=count, save_errors=save_errors or {},
        saved=cohorts.list_cohorts(session), field_labels=cohorts.FIELD_LABELS,
        pairs=cohorts.as_query_pairs(definition or {}), describe=cohorts.describe,
        min_cell_size=disclosure.min_cell_size(current_user),
    ), status


@bp.route("/", endpoint="cohorts")
@requires(Permission.RESEARCH)
def cohorts_page() -> tuple[str, int]:
    """The builder (filters as query parameters) and the list of saved cohorts."""
    session = get_session()
    try:
        definition = cohorts.parse_definition(session, _filters_only(request.args))
    except ValidationFailed as failed:
        return _builder(None, failed.errors, None, 422)
    return _builder(definition, {}, _count(definition) if request.args else None)


@bp.route("/count")
@requires(Permission.RESEARCH)
def count() -> tuple[Response, int]:
    """Live count for the builder: {"count": n or "< k", "suppressed": bool, ...} or 422
    {"errors": {field: message}}."""
    session = get_session()
    try:
        definition = cohorts.parse_definition(session, _filters_only(request.args))
    except ValidationFailed as failed:
        return jsonify({"errors": failed.errors}), 422
    shown = _count(definition)
    return jsonify({"count": str(shown) if disclosure.is_small(shown) else shown,
                    "suppressed": disclosure.is_small(shown),
                    "description": cohorts.describe(definition)}), 200


@bp.route("/cohorts", methods=["POST"])
@requires(Permission.RESEARCH)
def save_cohort() -> BaseResponse | tuple[str, int]:
    session = get_session()
    try:
        definition = cohorts.parse_definition(session, _filters_only(request.form))
    except ValidationFailed as failed:
        return _builder(None, failed.errors, None, 422)
    try:
        cohort = cohorts.save_cohort(session, name=request.form.get("name", ""),
                                     description=request.form.get("description"),
                                     definition=definition, user_id=current_user.id)
    except ValidationFailed as failed:
        return _builder(definition, {}, _count(definition), 422, save_errors=failed.errors)
    flash(_("Cohort %(name)s saved.", name=repr(cohort.name)), "success")
    return redirect(url_for("research.cohort", key=cohort.id))


def _resolve(key: str) -> tuple[str, dict[str, Any], Cohort | None]:
    """(name, definition, saved cohort) for ``all`` or a saved cohort's id; 404 otherwise."""
    if key == ALL_KEY:
        return ALL_NAME, {}, None
    # ASCII digits only ("²".isdigit() is true, int("²") fails) and within the id column.
    if not (key.isascii() and key.isdigit() and len(key) <= 10 and int(key) <= MAX_ID):
        abort(404)
    cohort = get_session().get(Cohort, int(key))
    if cohort is None:
        abort(404)
    definition = cohorts.parse_definition(get_session(), cohort.definition or {}, stored=True)
    return cohort.name, definition, cohort


def _shown_name(key: str, name: str) -> str:
    """The cohort's name as a page shows it (the all-patients cohort's, translated)."""
    return _(ALL_NAME) if key == ALL_KEY else name


def _export_choices() -> dict[str, Any]:
    """The export form's choices; the language defaults to the page's."""
    return {"formats": options.FORMATS, "shapes": options.SHAPES,
            "languages": EXPORT_LANGUAGES, "language_default": current_language()}


def _cohort_page(key: str, errors: dict[str, str] | None = None,
                 status: int = 200) -> tuple[str, int]:
    try:
        name, definition, cohort = _resolve(key)
    except ValidationFailed as failed:
        return render_template("research/cohort.html", key=key, name=key, cohort=None,
                               definition={}, count=None, errors=failed.errors,
                               free_text_allowed=False, form=request.form,
                               **_export_choices(), **_threshold_choices()), 422
    return render_template(
        "research/cohort.html", key=key, name=_shown_name(key, name), cohort=cohort,
        definition=definition, lines=cohorts.describe(definition), count=_count(definition),
        errors=errors or {}, free_text_allowed=_free_text_allowed(), form=request.form,
        **_export_choices(), **_threshold_choices(),
        builder_url=url_for("research.cohorts") + "?" + urlencode(
            [*cohorts.as_query_pairs(definition), ("count", "1")])), status


@bp.route("/cohorts/<key>")
@requires(Permission.RESEARCH)
def cohort(key: str) -> tuple[str, int]:
    return _cohort_page(key)


@bp.route("/cohorts/<key>/export", methods=["POST"])
@requires(Permission.RESEARCH)
def export(key: str) -> BaseResponse | tuple[str, int]:
    """Build the export and send it as a download.  The audit row is written after the
    response and its headers are built, in the request's transaction, which commits only
    when the response succeeds: a file whose response could not be built leaves no row."""
    from registry.research.export import export_cohort, record_export  # pandas: see above
    from registry.research.writers import ExportTooLarge

    form = request.form
    try:
        name, definition, _cohort = _resolve(key)
    except ValidationFailed as failed:
        return _cohort_page(key, failed.errors, 422)
    project = form.get("project", "") if form.get("pseudonyms") == "project" else None
    chosen = ExportOptions(format=form.get("format", ""), shape=form.get("shape", ""),
                           items=bool(form.get("items")),
                           adverse_events=bool(form.get("adverse_events")),
                           free_text=bool(form.get("free_text")), project=project,
                           thresholds=form.get("thresholds") or None,
                           language=form.get("language") or current_language())
    with tempfile.TemporaryDirectory(prefix="registry-download-") as folder:
        target = Path(folder) / "export"
        try:
            result = export_cohort(get_session(), cohort_name=name, definition=definition,
                                   options=chosen,
                                   pseudonym_key=current_app.config.get("PSEUDONYM_KEY"),
                                   free_text_allowed=_free_text_allowed(), target=target)
        except ValidationFailed as failed:
            return _cohort_page(key, failed.errors, 422)
        except ExportTooLarge as error:
            return _cohort_page(key, {"format": str(error)}, 422)
        content = target.read_bytes()
    mimetype = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "odm": "application/xml"}.get(chosen.format, "application/zip")
    response = as_download(Response(content, mimetype=mimetype), result.filename)
    response.headers["X-Export-SHA256"] = result.sha256
    if result.message:
        response.headers["X-Export-Message"] = result.message
    record_export(get_session(), result, key)
    return response


def _summary_args() -> tuple[str, str | None, str, dict[str, str]]:
    """(score, group, threshold set code, errors by field) of the summary's query."""
    score = request.args.get("score") or options.default_score()
    group = request.args.get("group") or None
    thresholds = request.args.get("thresholds") or options.default_threshold_set(get_session())
    errors = {}
    if score not in scoring.SCORES:
        errors["score"] = _("Score: unknown score %(code)s; choose one from the list.",
                            code=repr(score))
    if group is not None and group not in options.GROUPS:
        errors["group"] = _("Compare groups: unknown grouping %(code)s; use one of %(known)s.",
                            code=repr(group), known=", ".join(options.GROUPS))
    if error := options.threshold_set_error(thresholds):
        errors["thresholds"] = error
    return score, group, thresholds, errors


@bp.route("/cohorts/<key>/summary")
@requires(Permission.RESEARCH)
def summary_page(key: str) -> tuple[str, int]:
    """The cohort's outcome summary: each estimate with its n, shares with Wilson 95 %
    CIs, numbers rounded half-up by ``scoring.format_score`` as on the patient pages."""
    from registry.research.summary import summarise  # pandas: see the module doc

    try:
        name, definition, cohort_row = _resolve(key)
    except ValidationFailed as failed:
        return _cohort_page(key, failed.errors, 422)
    score, group, thresholds, errors = _summary_args()
    k = disclosure.min_cell_size(current_user)
    result = None if errors else disclosure.suppress_summary(
        summarise(get_session(), definition, score=score, group_by=group,
                  thresholds=scoring.threshold_set(thresholds)), k)
    return render_template("research/summary.html", key=key, name=_shown_name(key, name),
                           cohort=cohort_row,
                           result=result, errors=errors, score=score, group=group or "",
                           thresholds=thresholds,
                           threshold_sets=options.threshold_set_choices(),
                           scores=scoring.SCORES, instruments=scoring.INSTRUMENTS,
                           groups=options.GROUPS, chart_kinds=options.CHART_KINDS,
                           min_cell_size=k, suppressed=disclosure.is_small,
                           mode_labels=MODE_LABELS, fmt=scoring.format_score), \
        422 if errors else 200


@bp.route("/cohorts/<key>/charts/<kind>.<fmt>")
@requires(Permission.RESEARCH)
def chart(key: str, kind: str, fmt: str) -> Response:
    from registry.research import charts  # matplotlib: see the module doc
    from registry.research.summary import summarise

    if kind not in options.CHART_KINDS or fmt not in options.CHART_FORMATS:
        abort(404)
    try:
        name, definition, _cohort = _resolve(key)
    except ValidationFailed:
        abort(422)
    score, group, thresholds, errors = _summary_args()
    if errors:
        return Response("; ".join(errors.values()), status=422, mimetype="text/plain")
    result = disclosure.suppress_summary(
        summarise(get_session(), definition, score=score, group_by=group,
                  thresholds=scoring.threshold_set(thresholds)),
        disclosure.min_cell_size(current_user))
    response = Response(charts.render(result, kind, fmt), mimetype=options.CHART_FORMATS[fmt])
    if request.args.get("download"):
        slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower())[:40]
        as_download(response, f"{slug}-{kind}-{score}.{fmt}")
    return response

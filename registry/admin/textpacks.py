"""Admin page of instrument texts: which packs exist per language, and uploading one.

An instrument without a pack in a patient's language is not offered for self-report
(staff entry still works); this page says which those are, and takes a licensed pack as
a JSON file.  A file with problems is refused (422) with every problem listed by its
place in the file, and nothing is saved.
"""

from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import SubmitField

from registry.admin import bp
from registry.authz import Permission, requires
from registry.db import get_session
from registry.request_guard import HostileInput, accepts_uploads
from registry.services import ValidationFailed
from registry.textpack_commands import STATE_LABELS
from registry.textpacks import PackError, load_pack, pack_statuses
from registry.vocabularies import LANGUAGES
from scoring.textpacks import FORMAT

MAX_PACK_BYTES = 512 * 1024  # a 42-item pack in any language is a few dozen kilobytes


class TextPackUploadForm(FlaskForm):
    pack_file = FileField(_l("Text pack file (JSON, one instrument in one language)"),
                          validators=[FileRequired(_l("Choose a text pack file."))])
    submit = SubmitField(_l("Validate and load"))


def _read(upload: FileStorage) -> object:
    """The uploaded JSON document; ValidationFailed naming what is wrong with the file."""
    content = upload.stream.read(MAX_PACK_BYTES + 1)
    if len(content) > MAX_PACK_BYTES:
        raise ValidationFailed({"pack_file": _(
            "The file is larger than %(size)s KB; a text pack is much smaller.",
            size=MAX_PACK_BYTES // 1024)})
    try:
        return json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ValidationFailed({"pack_file": _("The file is not UTF-8 text.")}) from error
    except json.JSONDecodeError as error:
        raise ValidationFailed({"pack_file": _(
            "The file is not valid JSON (line %(line)s, column %(column)s: %(problem)s).",
            line=error.lineno, column=error.colno, problem=error.msg)}) from error


@bp.route("/text-packs", methods=["GET", "POST"])
@accepts_uploads
@requires(Permission.ADMIN)
def text_packs() -> str | Response | tuple[str, int]:
    form = TextPackUploadForm()
    problems: list[str] = []
    if set(request.files) - {"pack_file"}:
        raise HostileInput(_("%(fields)s: a file was sent where text is expected; only "
                             "pack_file takes a file.",
                             fields=", ".join(sorted(set(request.files) - {"pack_file"}))))
    if form.validate_on_submit():
        upload = form.pack_file.data
        name = (upload.filename or "pack.json")[:200]
        try:
            row = load_pack(get_session(), _read(upload), source_name=name,
                            user_id=current_user.id)
        except PackError as error:
            problems = error.problems
            form.pack_file.errors = [ngettext(
                "%(name)s: %(num)d problem; nothing was saved (listed below).",
                "%(name)s: %(num)d problems; nothing was saved (listed below).",
                len(problems), name=name)]
        except ValidationFailed as error:
            form.pack_file.errors = list(error.errors.values())
        else:
            flash(_("Text pack %(instrument)s (%(language)s) loaded from %(name)s.",
                    instrument=row.instrument, language=row.language, name=name), "success")
            return redirect(url_for("admin.text_packs"))
    status = 422 if form.errors else 200
    return render_template("admin/text_packs.html", form=form, problems=problems,
                           statuses=pack_statuses(get_session()), labels=STATE_LABELS,
                           languages=LANGUAGES, pack_format=FORMAT), status


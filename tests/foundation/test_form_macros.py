"""The form macros' hand-written select renders exactly what WTForms' widget renders."""

from __future__ import annotations

import pytest
from flask import render_template_string
from werkzeug.datastructures import MultiDict
from wtforms import SelectField
from wtforms.validators import InputRequired

from registry.followup.forms import WorklistFilterForm
from registry.forms import choices

MACRO = '{% from "_forms.html" import select %}{{ select(f, described_by) }}'


@pytest.mark.parametrize("query", [{}, {"status": "due", "site": "1"}, {"status": "bogus"},
                                   {"site": "9", "timepoint": "m3"}])
def test_select_macro_equals_the_wtforms_widget(app, query):
    with app.test_request_context("/"):
        form = WorklistFilterForm(formdata=MultiDict(query))
        form.site.choices = choices([("1", 'A & <B> "quoted"'), ("2", "C")], blank="All")
        form.timepoint.choices = choices([("m3", "3 months")], blank="All timepoints")
        form.clinician.choices = choices([], blank="Any clinician")
        form.validate()
        for name in ("site", "status", "timepoint", "clinician"):
            field = form[name]
            for described_by in (None, f"{field.id}-error"):
                widget = field(**{"aria-invalid": "true" if field.errors else False,
                                  "aria-describedby": described_by or False})
                macro = render_template_string(MACRO, f=field, described_by=described_by)
                assert macro == str(widget)
                assert macro.startswith("<select")


def test_select_macro_marks_required_fields(app):
    class Form(WorklistFilterForm):
        reason = SelectField("Reason", choices=choices([("a", "A")], blank="Choose"),
                             validators=[InputRequired()])

    with app.test_request_context("/"):
        field = Form(formdata=None).reason
        macro = render_template_string(MACRO, f=field, described_by=None)
        assert macro == str(field(**{"aria-invalid": False, "aria-describedby": False}))
        assert " required" in macro

"""Every user-facing text is marked for translation (``registry.i18n_lint``, run by
``make lint``), and the check finds what it is meant to find."""

from __future__ import annotations

from pathlib import Path

from registry.i18n_lint import check, check_python, check_template


def test_no_unmarked_text_in_the_templates_and_the_registry():
    findings = check()
    assert findings == [], "\n".join(map(str, findings))


def test_template_text_nodes_and_attributes_are_found(tmp_path: Path):
    page = tmp_path / "page.html"
    page.write_text(
        "{% extends 'base.html' %}\n"
        "<h1>{{ _('Marked heading') }}</h1>\n"
        "<p>Plain words</p>\n"
        '<input placeholder="Type here" value="{{ value }}">\n'
        '<input type="submit" value="Send">\n'
        '<button type="submit" name="step" value="next">{{ _(\'Next\') }}</button>\n'
        '<a href="{{ url }}" aria-label="{{ _(\'Open\') }}">KOOS · WOMAC · CSV</a>\n'
        "<td{% if x %} class=\"serious\"{% endif %}>{{ data }} – {{ more }}</td>\n"
        '<div data-text-warning="Your session ends"></div>\n',
        encoding="utf-8")
    found = {(finding.line, finding.text) for finding in check_template(page)}
    assert found == {(3, "Plain words"), (4, "input[placeholder]: Type here"),
                     (5, "input[value]: Send"),
                     (9, "div[data-text-warning]: Your session ends")}


def test_python_messages_are_found(tmp_path: Path):
    module = tmp_path / "views.py"
    module.write_text(
        "from flask import flash\n"
        "flash('Saved.')\n"
        "flash(_('Saved.'))\n"
        "raise ValidationFailed({'visit_date': f'Before {start}.'})\n"
        "raise ValidationFailed({'visit_date': _('Before %(d)s.', d=start)})\n"
        "errors['dose'] = 'Not a number.'\n"
        "name = StringField('Family name', validators=[Length(max=5, message='Too long')])\n"
        "name = StringField(_l('Family name'))\n"
        "flash(LABEL)\n"
        "flash('Shown only in the log')  # i18n: not shown (a test double)\n"
        "raise AccountError('1234')\n",
        encoding="utf-8")
    found = {(finding.line, finding.text) for finding in check_python(module)}
    assert found == {(2, "Saved."), (4, "Before ."), (6, "Not a number."),
                     (7, "Family name"), (7, "Too long")}

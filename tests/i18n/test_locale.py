"""Locale selection: English unless a view sets a known language (``g.locale``)."""

from __future__ import annotations

from flask import g, render_template_string
from flask_babel import gettext, lazy_gettext

from registry.i18n import current_language, select_locale, set_locale

NOTICE = "Demo wording, not the licensed questionnaire."
NOTICE_ES = "Texto de demostración, no el cuestionario con licencia."


def test_english_without_a_choice(app):
    with app.test_request_context():
        assert select_locale() == "en"
        assert gettext(NOTICE) == NOTICE
        assert current_language() == "en"


def test_spanish_when_the_view_sets_g_locale(app):
    with app.test_request_context():
        g.locale = "es"
        assert gettext(NOTICE) == NOTICE_ES
        assert str(lazy_gettext(NOTICE)) == NOTICE_ES
        assert render_template_string("{{ _(text) }}|{{ current_language() }}",
                                      text=NOTICE) == f"{NOTICE_ES}|es"


def test_an_unknown_language_falls_back_to_english(app):
    with app.test_request_context():
        g.locale = "fr"
        assert select_locale() == "en"
        assert gettext(NOTICE) == NOTICE
        g.locale = ["es"]  # not a code at all
        assert select_locale() == "en"


def test_set_locale_applies_even_after_something_was_translated(app):
    with app.test_request_context():
        assert gettext(NOTICE) == NOTICE  # Flask-Babel now caches English for the request
        assert set_locale("es") == "es"
        assert gettext(NOTICE) == NOTICE_ES
        assert set_locale("xx") == "en"
        assert gettext(NOTICE) == NOTICE


def test_staff_pages_stay_english(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html

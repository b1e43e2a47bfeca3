"""Staff choose their language: their own choice, else the browser's, else their sites'.

The Language page is used as a person would: its rendered form, CSRF on, submitted.
Dates and numbers follow the language; stored values and date inputs stay ISO.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from flask import render_template_string
from flask_wtf import FlaskForm

from registry import audit_capture as capture
from registry.i18n import day, moment, number, select_locale
from registry.models import User
from tests.fixtures.webtest import sign_in, submit


@pytest.fixture
def app_settings():
    return {"WTF_CSRF_ENABLED": True}


def html_lang(page) -> str:
    return page.html.find("html")["lang"]


def choose_language(browser, value: str):
    page = browser.get("/account/language")
    form = next(form for form in page.forms.values() if "language" in form.fields)
    form["language"] = value
    response = submit(form)
    assert response.status_int == 302, response.text[:500]
    return response.follow()


def test_the_language_page_saves_the_choice_and_every_page_follows(browser, make_user,
                                                                  site_a, db):
    user = make_user("coordinator", sites=[site_a])
    sign_in(browser, user.email)
    assert html_lang(browser.get("/home")) == "en"

    page = choose_language(browser, "es")
    assert html_lang(page) == "es"
    assert "Idioma guardado." in page.text  # the confirmation is already in Spanish
    home = browser.get("/home")
    assert html_lang(home) == "es"
    assert "Cerrar sesión" in home.text
    assert "Sign out" not in home.text
    db.expire_all()
    assert db.get(User, user.id).language == "es"

    page = choose_language(browser, "en")  # switching back changes every page again
    assert html_lang(browser.get("/home")) == "en"
    assert "Sign out" in browser.get("/home").text


def test_the_choice_beats_the_browser_and_no_choice_follows_it(browser, make_user, site_a):
    user = make_user("clinician", sites=[site_a])
    sign_in(browser, user.email)
    spanish_browser = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}
    assert html_lang(browser.get("/home", headers=spanish_browser)) == "es"
    choose_language(browser, "en")
    assert html_lang(browser.get("/home", headers=spanish_browser)) == "en"
    choose_language(browser, "")  # "the browser's language": the choice is cleared
    assert html_lang(browser.get("/home", headers=spanish_browser)) == "es"
    assert html_lang(browser.get("/home", headers={"Accept-Language": "fr"})) == "en"


def test_without_choice_or_browser_language_the_sites_language_applies(browser, make_user,
                                                                       make_site, db):
    madrid = make_site("MAD", "Clínica Madrid")
    madrid.language = "es"
    with capture.reason(db, "test: the site works in Spanish"):
        db.flush()
    user = make_user("clinician", sites=[madrid])
    sign_in(browser, user.email)
    assert html_lang(browser.get("/home")) == "es"
    assert html_lang(browser.get("/account/language")) == "es"


def test_the_sign_in_page_follows_the_browser(browser):
    assert html_lang(browser.get("/login")) == "en"
    page = browser.get("/login", headers={"Accept-Language": "es-ES"})
    assert html_lang(page) == "es"
    assert "Iniciar sesión" in page.text


def test_an_unknown_language_is_refused_naming_the_field(browser, make_user, site_a, db):
    user = make_user("researcher", sites=[site_a])
    sign_in(browser, user.email)
    page = browser.get("/account/language")
    form = next(form for form in page.forms.values() if "language" in form.fields)
    form["language"].force_value("fr")
    response = submit(form)
    assert response.status_int == 422
    assert "Choose one of the languages listed." in response.text
    db.expire_all()
    assert db.get(User, user.id).language is None


def test_dates_and_numbers_follow_the_language(app):
    when = date(2026, 12, 2)
    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert select_locale() == "es"
        assert day(when) == "2 dic 2026"
        assert moment(datetime(2026, 12, 2, 14, 5)) == "2 dic 2026, 14:05"
        assert number(45.25, 1) in {"45,2", "45,3"}  # the caller rounds; the sign is a comma
        assert number("12.50") == "12,50"
        assert number("—") == "—"
        assert render_template_string("{{ d|day }}", d=when) == "2 dic 2026"
        # A date input keeps its ISO value whatever the language.
        assert render_template_string('<input type="date" value="{{ d.isoformat() }}">',
                                      d=when) == '<input type="date" value="2026-12-02">'
    with app.test_request_context():
        assert day(when) == "2026-12-02"
        assert moment(datetime(2026, 12, 2, 14, 5)) == "2026-12-02 14:05"
        assert number(45.25, 1) == "45.2"


def test_a_decimal_comma_is_a_decimal_sign(app):
    """Spanish speakers write 4,5: the number fields read it as 4.5 (a point works too)."""
    from werkzeug.datastructures import MultiDict

    from registry.forms import NumberField

    class Measured(FlaskForm):
        volume = NumberField("volume")

    with app.test_request_context():
        for typed, expected in (("4,5", 4.5), ("4.5", 4.5), (" 12,25 ", 12.25), ("7", 7.0)):
            form = Measured(formdata=MultiDict({"volume": typed}), meta={"csrf": False})
            assert form.validate(), (typed, form.errors)
            assert form.volume.data == expected
        for typed in ("1.234,5", "4,5,6", "cuatro"):
            form = Measured(formdata=MultiDict({"volume": typed}), meta={"csrf": False})
            assert not form.validate(), typed

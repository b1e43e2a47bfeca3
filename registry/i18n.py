"""Translations (Flask-Babel): English and Spanish, chosen per request.

The staff interface stays English (the languages issue will let staff choose); pages a
patient sees set the patient's language with :func:`set_locale` (or by assigning
``flask.g.locale`` before anything on the page was translated).  Only the codes of
``vocabularies.LANGUAGES`` are ever selected; anything else falls back to English.

Mark strings with ``from flask_babel import gettext as _`` (``lazy_gettext`` at import
time, ``ngettext`` for plurals) in Python and ``{{ _('...') }}`` in templates.  Template
strings are %-formatted (Jinja's "newstyle" gettext): write a literal per cent sign as
``%%`` and pass values by name, ``_('%(n)s of %(total)s', n=1, total=2)``.  The catalogue
is ``registry/translations/es/LC_MESSAGES/messages.po``; ``make translations`` extracts,
updates and compiles it (``registry.i18n_catalogue``).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_request_context
from flask_babel import Babel, get_locale, gettext, refresh

from registry.models.protocol import DEFAULT_TIMEPOINT_NAMES
from registry.vocabularies import LANGUAGES

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DEFAULT_LANGUAGE = "en"


def select_locale() -> str:
    """The request's language: ``g.locale`` when a view set a known code, else English."""
    chosen = getattr(g, "locale", None)
    return chosen if isinstance(chosen, str) and chosen in LANGUAGES else DEFAULT_LANGUAGE


def set_locale(code: str | None) -> str:
    """Translate the rest of this request into ``code`` (unknown or None: English).

    Flask-Babel caches the locale and catalogue of a request once a string has been
    translated; this clears that cache, so a view may call it at any point.  Returns the
    language in force.
    """
    g.locale = code if code in LANGUAGES else DEFAULT_LANGUAGE
    refresh()
    return str(g.locale)


def current_language() -> str:
    """The language code pages are rendered in now (for ``<html lang>``)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def timepoint_name(name: str) -> str:
    """A timepoint's name in the language in force: the default protocol's names are in
    the catalogue (marked in ``registry.models.protocol``); an admin's own names are
    shown as written."""
    return gettext(name) if name in DEFAULT_TIMEPOINT_NAMES else name


def init_app(app: Flask) -> None:
    """Install Flask-Babel with the registry's catalogue and locale selector."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["current_language"] = current_language


__all__ = ["DEFAULT_LANGUAGE", "TRANSLATIONS_DIR", "current_language", "init_app",
           "select_locale", "set_locale", "timepoint_name"]

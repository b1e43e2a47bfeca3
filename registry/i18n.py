"""Translations (Flask-Babel): English and Spanish, chosen per request.

Staff see their own choice, else their browser's language, else their sites' language
(:func:`select_locale`); pages a patient sees set the patient's language with
:func:`set_locale` (or by assigning ``flask.g.locale`` before anything on the page was
translated).  Only the codes of
``vocabularies.LANGUAGES`` are ever selected; anything else falls back to English.

Mark strings with ``from flask_babel import gettext as _`` (``lazy_gettext`` at import
time, ``ngettext`` for plurals) in Python and ``{{ _('...') }}`` in templates.  Template
strings are %-formatted (Jinja's "newstyle" gettext): write a literal per cent sign as
``%%`` and pass values by name, ``_('%(n)s of %(total)s', n=1, total=2)``.  The catalogue
is ``registry/translations/es/LC_MESSAGES/messages.po``; ``make translations`` extracts,
updates and compiles it (``registry.i18n_catalogue``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext, refresh
from flask_login import current_user

from registry import vocabularies
from registry.models.accounts import ROLE_LABELS, Role
from registry.models.protocol import DEFAULT_TIMEPOINT_NAMES
from registry.vocabularies import LANGUAGES
from scoring.labels import reason_label, short_label

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DEFAULT_LANGUAGE = "en"


def select_locale() -> str:
    """The request's language, first known code of:

    1. ``g.locale``, set by a patient-facing view (the patient's language);
    2. the signed-in person's own choice (``User.language``, the Language page);
    3. the browser's ``Accept-Language``;
    4. the language of the person's sites, when they all share one (``Site.language``);
    5. English.
    """
    chosen = getattr(g, "locale", None)
    if isinstance(chosen, str) and chosen in LANGUAGES:
        return chosen
    if not has_request_context():
        return DEFAULT_LANGUAGE
    user = current_user
    if user.is_authenticated and user.language in LANGUAGES:
        return str(user.language)
    browser = request.accept_languages.best_match(list(LANGUAGES))
    if browser:
        return str(browser)
    if user.is_authenticated:
        site_languages = {site.language for site in user.sites if site.active}
        if len(site_languages) == 1 and (only := site_languages.pop()) in LANGUAGES:
            return only
    return DEFAULT_LANGUAGE


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


def label_text(text: Any) -> Any:
    """A label translated when it is rendered: ``N_``-marked vocabulary labels and status
    names become the reader's language; anything the catalogue does not hold (a site's
    name, a number) passes through.  Lazy, so it may be built at import time."""
    if not isinstance(text, str) or not text:
        return text
    return lazy_gettext(text)


def role_name(role: str) -> str:
    """A role as people name it, in the reader's language ("Clinician", "Clínico/a")."""
    return gettext(ROLE_LABELS[Role(role)]) if role in set(Role) else role


def vocab_label(vocabulary: str, code: Any) -> str:
    """A coded value's label in the reader's language: ``vocab_label('SEX', 'female')``
    (the Jinja global); an unknown code is shown as it is."""
    labels = getattr(vocabularies, vocabulary)
    text = labels.get(code)
    return gettext(text) if isinstance(text, str) and text else ("" if code is None
                                                                  else str(code))


def label(text: Any) -> str:
    """The Jinja ``label`` filter: ``{{ vocab.SEX.get(code)|label }}``."""
    if not isinstance(text, str) or not text:
        return "" if text is None else str(text)
    return gettext(text)


def day(value: date | None) -> str:
    """A date as the reader's locale writes it: ISO 8601 in English (unambiguous across
    the registry's English-speaking sites: 2026-12-02), the locale's medium form
    otherwise ("2 dic 2026").  Stored values and date inputs stay ISO."""
    if value is None:
        return ""
    language = current_language()
    if language == DEFAULT_LANGUAGE:
        return value.isoformat()
    return format_date(value, "medium", locale=language)


def moment(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A date and time to the minute: ``fmt`` (strftime) in English, the locale's form
    ("2 dic 2026, 14:05") otherwise.  The caller converts to the zone it shows."""
    if value is None:
        return ""
    language = current_language()
    if language == DEFAULT_LANGUAGE:
        return value.strftime(fmt)
    return format_datetime(value, "d MMM y, HH:mm", locale=language)


def number(value: float | int | Decimal | str | None, digits: int | None = None) -> str:
    """A number with the locale's decimal sign (45.3 / 45,3); ``digits`` fixes the places.
    Text (an already formatted value such as "—") passes through unchanged."""
    if value is None:
        return ""
    if isinstance(value, str):
        if current_language() == DEFAULT_LANGUAGE:
            return value
        try:
            Decimal(value)
        except ArithmeticError:
            return value
        places = len(value.partition(".")[2])
        return format_decimal(Decimal(value), format="#,##0." + "0" * places if places
                              else "#,##0", locale=current_language())
    if current_language() == DEFAULT_LANGUAGE:
        return f"{value:.{digits}f}" if digits is not None else str(value)
    pattern = "#,##0" + ("." + "0" * digits if digits else "") if digits is not None \
        else "#,##0.###"
    return format_decimal(value, format=pattern, locale=current_language())


def short_label_filter(text: str) -> str:
    """The ``short_label`` filter: an instrument's name, description, item, option, anchor,
    subscale, threshold set or responder criterion in the reader's language, from the
    registry's own words in ``scoring.labels`` (English otherwise)."""
    return short_label(text, current_language())


def score_reason_filter(reason: str) -> str:
    """The ``score_reason`` filter: a stored not-scorable reason (``scoring`` writes it in
    English) in the reader's language."""
    return reason_label(reason, current_language())


def init_app(app: Flask) -> None:
    """Install Flask-Babel with the registry's catalogue and locale selector."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["role_name"] = role_name
    app.jinja_env.globals["vocab_label"] = vocab_label
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["short_label"] = short_label_filter
    app.jinja_env.filters["score_reason"] = score_reason_filter
    app.jinja_env.filters["moment"] = moment
    app.jinja_env.filters["number"] = number


__all__ = ["DEFAULT_LANGUAGE", "TRANSLATIONS_DIR", "current_language", "day", "init_app",
           "label", "label_text", "moment", "number", "role_name", "select_locale", "set_locale",
           "timepoint_name", "vocab_label"]

"""The language an export's words are written in (issue 19): English or Spanish.

Data stay language-neutral: column names, codes and values are the same in every
language.  The words around them (the data dictionary's labels and descriptions, value
labels and variable labels in Stata, SPSS and SAS files, the comments and labels of the
syntax files) are written in the export's language: the export runs inside
``in_language(code)`` (Flask-Babel's ``force_locale``), and whatever builds those words
translates its English text with ``gettext`` (``words``) as it goes.  Outside an app
context (plain unit tests) everything stays English.

Instrument items' short labels and answer labels come from the scoring catalogue; their
Spanish wording is the demo text pack's (``scoring.textpacks.demo_pack``, from
``scoring/textpacks_data/demo_labels.es.json``); a label it does not translate stays as
the catalogue has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from flask import has_app_context
from flask_babel import force_locale, get_locale, gettext

from registry.vocabularies import LANGUAGES, N_
from scoring import textpacks

DEFAULT_LANGUAGE = "en"
EXPORT_LANGUAGES: dict[str, str] = dict(LANGUAGES)

# The scoring catalogue's words an export shows (scoring/ is pure: no Babel), marked here
# for the catalogue: score labels, units, and the items of the registry's own instruments.
# A label the catalogue gains later passes through in English until it is added here.
SCORE_WORDS = (
    N_("VAS pain"), N_("NRS pain"), N_("Patient global assessment"), N_("WOMAC Pain"),
    N_("WOMAC Stiffness"), N_("WOMAC Function"), N_("WOMAC Total"), N_("WOMAC Pain (0-100)"),
    N_("WOMAC Stiffness (0-100)"), N_("WOMAC Function (0-100)"), N_("WOMAC Total (0-100)"),
    N_("KOOS Symptoms"), N_("KOOS Pain"), N_("KOOS Function in daily living"),
    N_("KOOS Sport and recreation"), N_("KOOS Quality of life"), N_("WOMAC Pain (from KOOS)"),
    N_("WOMAC Stiffness (from KOOS)"), N_("WOMAC Function (from KOOS)"),
    N_("KOOS-12 Pain"), N_("KOOS-12 Function"), N_("KOOS-12 Quality of life"),
    N_("KOOS-12 Summary knee impact"), N_("Global rating of change"),
    N_("points"), N_("points (interval score)"), N_("points (raw sum)"),
    N_("Knee pain (0 = no pain, 100 = worst imaginable)"),
    N_("Knee pain (0 = no pain, 10 = worst pain imaginable)"),
    N_("Global assessment of the knee (0 = very well, 100 = very poor)"),
    N_("Since your treatment, how is your knee?"),
)


def language_error(code: str) -> str | None:
    """Why ``code`` is not a language an export can be written in (naming them), or None."""
    if code in EXPORT_LANGUAGES:
        return None
    return gettext("Language: unknown language %(code)s; use one of %(known)s.",
                   code=repr(code), known=", ".join(EXPORT_LANGUAGES))


@contextmanager
def in_language(code: str | None) -> Iterator[str]:
    """Translate what runs inside into ``code`` (unknown or None: English); needs an app
    context (a request or the CLI's) to translate, and leaves the page's language as it was
    afterwards.  Yields the language in force."""
    chosen = code if code in EXPORT_LANGUAGES else DEFAULT_LANGUAGE
    if not has_app_context():
        yield DEFAULT_LANGUAGE
        return
    with force_locale(chosen):
        yield chosen


def current() -> str:
    """The language words are being written in now."""
    if not has_app_context():
        return DEFAULT_LANGUAGE
    locale = get_locale()
    return locale.language if locale is not None and locale.language in EXPORT_LANGUAGES \
        else DEFAULT_LANGUAGE


def words(text: str) -> str:
    """``text`` (an English label marked with ``N_`` where it is defined) in the language
    in force; text the catalogue does not hold passes through unchanged."""
    return gettext(text) if text else text


def item_label(instrument: str, item: str, label: str) -> str:
    """An instrument item's short label in the language in force: the demo pack's, else
    the catalogue's translation (``SCORE_WORDS``' item labels), else as it is."""
    for pack in _packs(instrument, demo_only=True):
        found = pack.items.get(item)
        if found is not None and found.text != label:
            return found.text
    return words(label)


def option_label(instrument: str, item: str, code: int, label: str) -> str:
    """An answer option's label in the language in force (the registry's own wording of
    the instrument, else the demo pack's)."""
    for pack in _packs(instrument):
        found = pack.items.get(item)
        if found is not None and code in found.choices:
            return found.choices[code]
    return label


def anchor_labels(instrument: str, item: str,
                  anchors: tuple[str, ...]) -> tuple[str, ...]:
    """The two ends of a line or rating item in the language in force."""
    for pack in _packs(instrument):
        found = pack.items.get(item)
        if found is not None and found.anchors is not None and len(anchors) == 2:
            return found.anchors
    return anchors


def section_label(instrument: str, group: str) -> str:
    """An instrument's item group ("Pain") in the language in force (the demo pack's)."""
    for pack in _packs(instrument, demo_only=True):
        if group in pack.sections:
            return pack.sections[group]
    return group


def _packs(instrument: str, demo_only: bool = False) -> list[textpacks.TextPack]:
    """The text packs with the language in force's words for ``instrument``: the
    registry's own wording (VAS, NRS, PGA, GRC), then the demo pack (short labels)."""
    language = current()
    if language == DEFAULT_LANGUAGE:
        return []
    packs = []
    own = None if demo_only else textpacks.shipped_pack(instrument, language)
    if own is not None:
        packs.append(own)
    with suppress(ValueError):  # an instrument the catalogue no longer has
        packs.append(textpacks.demo_pack(instrument, language))
    return packs


__all__ = ["DEFAULT_LANGUAGE", "EXPORT_LANGUAGES", "anchor_labels", "current", "in_language",
           "item_label", "language_error", "option_label", "section_label", "words"]

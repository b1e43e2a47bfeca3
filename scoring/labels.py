"""The instrument catalogue's short labels in another language, for staff pages.

The catalogue (``scoring.INSTRUMENTS``) holds English short labels: item labels, answer
options, anchors and subscale names.  Their translations are the registry's own words,
never licensed questionnaire text: ``textpacks_data/demo_labels.<language>.json`` (the
words the demo packs use), plus the answer options and anchors of the instruments worded
by the registry itself (``textpacks.OWN_WORDING``), paired with their English pack; the
instruments' names and descriptions and the threshold sets' labels and notes
(``textpacks_data/catalogue_texts.<language>.json``); and the responder criterion texts
and not-scorable reasons, which ``scoring.responder`` and ``scoring.api`` write in English
and the registry stores (``criterion_texts``, ``reason_label``).  Pure: no Flask, no
Babel; the caller gives the language.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from scoring import responder
from scoring.textpacks import LANGUAGES, OWN_WORDING, shipped_pack

SOURCE_LANGUAGE = "en"


def _data_words(name: str, language: str) -> dict[str, str]:
    """English -> ``language`` from ``textpacks_data/<name>.<language>.json``."""
    try:
        text = resources.files("scoring").joinpath(
            "textpacks_data", f"{name}.{language}.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return {english: translated for english, translated in json.loads(text).items()
            if not english.startswith("@") and isinstance(translated, str)}


def _demo_labels(language: str) -> dict[str, str]:
    return _data_words("demo_labels", language)


# The responder criterion's words in Spanish, built like ``scoring.responder`` builds the
# English (same bit masks, same order), so that every one of its texts has a translation.
@dataclass(frozen=True)
class _CriterionWords:
    domains: tuple[str, ...]
    high: tuple[str, ...]
    two: str
    missing: str
    not_met: str
    zero: str


_CRITERION_WORDS = {"es": _CriterionWords(
    domains=("dolor", "función", "global"),
    high=("", "mejora alta del dolor", "mejora alta de la función",
          "mejora alta del dolor y de la función"),
    two="mejora ≥ 20 % y ≥ 10 puntos en {count} de 3: {names}",
    missing="indefinido: sin valor basal y de seguimiento para {names}",
    not_met="no cumplido",
    zero="no cumplido ({names}: basal 0, cambio relativo indefinido)",
)}


def criterion_texts(language: str) -> dict[str, str]:
    """Every OMERACT-OARSI criterion text of ``scoring.responder`` -> ``language``."""
    words = _CRITERION_WORDS.get(language)
    if words is None:
        return {}
    names = responder.subsets(words.domains, ", ")
    translated = [*words.high,
                  *(words.two.format(count=bin(mask).count("1"), names=text)
                    for mask, text in enumerate(names)),
                  *(words.missing.format(names=text) for text in names),
                  words.not_met, *(words.zero.format(names=text) for text in names[1:])]
    english = [*responder.HIGH_TEXTS, *responder.TWO_TEXTS, *responder.MISSING_TEXTS,
               *responder.NOT_MET_TEXTS]
    return dict(zip(english, translated, strict=True))


# The not-scorable reasons of ``scoring.api.reason`` (English pattern -> Spanish format).
_REASONS = {"es": (
    (re.compile(r"^(?P<label>.+): not computed because (?P<parts>.+) could not be scored$"),
     "{label}: no calculado porque no se pudo puntuar {parts}"),
    (re.compile(r"^(?P<label>.+): not answered$"), "{label}: sin responder"),
    (re.compile(r"^(?P<label>.+): (?P<missing>\d+) of (?P<size>\d+) items missing; all "
                r"(?P=size) must be answered$"),
     "{label}: faltan {missing} de {size} ítems; deben responderse los {size}"),
    (re.compile(r"^(?P<label>.+): (?P<missing>\d+) of (?P<size>\d+) items missing; at least "
                r"(?P<need>\d+) answered are needed$"),
     "{label}: faltan {missing} de {size} ítems; se necesitan al menos {need} respuestas"),
)}


def reason_label(reason: str, language: str) -> str:
    """A stored not-scorable reason (``scoring.api.reason``, English) in ``language``;
    unchanged when it has no known form or the language has no wording."""
    for pattern, wording in _REASONS.get(language, ()):
        found = pattern.match(reason)
        if found:
            values = found.groupdict()
            values["label"] = short_label(values["label"], language)
            if "parts" in values:
                values["parts"] = " y ".join(short_label(part, language)
                                             for part in values["parts"].split(" and "))
            return wording.format(**values)
    return reason


def _own_wording(language: str) -> dict[str, str]:
    """Answer options and anchors of the registry's own packs: English -> ``language``."""
    words: dict[str, str] = {}
    for instrument in OWN_WORDING:
        english, translated = (shipped_pack(instrument, SOURCE_LANGUAGE),
                               shipped_pack(instrument, language))
        if english is None or translated is None:
            continue
        for code, item in english.items.items():
            other = translated.items.get(code)
            if other is None:
                continue
            for key, label in item.choices.items():
                if key in other.choices:
                    words.setdefault(label, other.choices[key])
            if item.anchors and other.anchors:
                words.update(zip(item.anchors, other.anchors, strict=True))
    return words


@cache
def labels(language: str) -> Mapping[str, str]:
    """English short label -> its wording in ``language`` (empty for English or a
    language without labels)."""
    if language == SOURCE_LANGUAGE or language not in LANGUAGES:
        return {}
    return {**_own_wording(language), **_demo_labels(language),
            **_data_words("catalogue_texts", language), **criterion_texts(language)}


def short_label(text: str, language: str) -> str:
    """A catalogue short label (item, option, anchor or subscale name) in ``language``;
    the English text when there is no translation."""
    return labels(language).get(text, text)


__all__ = ["criterion_texts", "labels", "reason_label", "short_label"]

"""Text packs: what a patient reads for one instrument in one language (pure, no I/O but
the package's own data files).

The catalogue knows each instrument's items, codes and short labels; the words a patient
reads (instructions, questions, answer labels) come from a text pack, one JSON document per
instrument and language::

    {"format": "koa-registry-textpack/1", "instrument": "koos", "language": "es",
     "title": "...", "instructions": "...", "source": "who licensed it / version",
     "demo": false,
     "sections": {"Pain": "section instructions", ...},           (optional)
     "items": {"P1": {"text": "...", "choices": {"0": "...", ..., "4": "..."}},
               ...}}

Line and rating items (VAS, PGA, NRS) carry ``"anchors": ["low end", "high end"]``
instead of ``choices``.  ``validate_pack`` checks a pack against the catalogue (every item,
every answer code, anchors where the item is a line or rating, plain non-empty text) and
reports every problem with its place.

The registry ships its own wording for VAS pain, patient global, NRS pain and the global
rating of change in English and Spanish (``textpacks_data/``).  KOOS and WOMAC texts are
licensed and never shipped: a site loads its licensed packs, or the demo loads
``demo_pack``s built from the catalogue's short labels (``demo`` true: "demo wording, not
the licensed questionnaire").
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from scoring.instruments import CATALOGUE, INSTRUMENTS, Instrument, Item

FORMAT = "koa-registry-textpack/1"
#: Languages the registry ships its own wording in (the registry's vocabulary of
#: languages must equal this; a test holds them together).
LANGUAGES: tuple[str, ...] = ("en", "es")
#: Instruments whose wording is the registry's own and shipped in every language.
OWN_WORDING: tuple[str, ...] = ("vas", "nrs", "pga", "grc")

FIELDS = ("format", "instrument", "language", "title", "instructions", "source", "demo",
          "sections", "items")
REQUIRED = ("format", "instrument", "language", "title", "instructions", "source", "items")
MAX_LENGTH = {"title": 200, "instructions": 4000, "source": 500, "section": 2000,
              "text": 1000, "label": 200}
_HTML = re.compile(r"<\s*[A-Za-z/!?]|&[A-Za-z#][A-Za-z0-9]*;")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_CODE = re.compile(r"-?[0-9]{1,3}")


class PackError(ValueError):
    """A pack that does not fit the catalogue; ``problems`` name each place and problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ItemText:
    """One question's wording: the text, then answer labels by code or the two anchors."""

    text: str
    choices: Mapping[int, str]
    anchors: tuple[str, str] | None


@dataclass(frozen=True)
class TextPack:
    """A validated pack: every item of ``instrument`` has its text, in ``language``."""

    instrument: str
    language: str
    title: str
    instructions: str
    source: str
    demo: bool
    sections: Mapping[str, str]
    items: Mapping[str, ItemText]


def _text(value: object, place: str, problems: list[str], limit: str) -> str:
    """``value`` as plain text, or "" after adding the problem with its place."""
    if not isinstance(value, str):
        problems.append(f"{place}: text expected, got {_kind(value)}")
        return ""
    text = value.strip()
    if not text:
        problems.append(f"{place}: empty")
    elif len(text) > MAX_LENGTH[limit]:
        problems.append(f"{place}: too long ({len(text)} characters, at most "
                        f"{MAX_LENGTH[limit]})")
    elif _HTML.search(text):
        problems.append(f"{place}: contains HTML markup; plain text only")
    elif _CONTROL.search(text):
        problems.append(f"{place}: contains control characters; plain text only")
    else:
        return text
    return ""


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _span(codes: list[int]) -> str:
    if codes and codes == list(range(codes[0], codes[-1] + 1)):
        return f"{codes[0]}..{codes[-1]}" if len(codes) > 1 else str(codes[0])
    return ", ".join(str(code) for code in codes) or "none"


def _choices(item: Item, value: object, place: str, problems: list[str]) -> dict[int, str]:
    if not isinstance(value, dict):
        problems.append(f"{place}: missing (an object of answer labels by code)"
                        if value is None else f"{place}: an object expected, got {_kind(value)}")
        return {}
    labels: dict[int, str] = {}
    for key, label in value.items():
        if not isinstance(key, str) or not _CODE.fullmatch(key):
            problems.append(f"{place}: {key!r} is not a whole-number code")
            continue
        labels[int(key)] = _text(label, f"{place}.{key}", problems, "label")
    expected = [option.code for option in item.options]
    if sorted(labels) != expected and len(labels) == len(value):
        problems.append(f"{place}: codes {_span(expected)} expected, got {_span(sorted(labels))}")
    return labels


def _anchors(value: object, place: str, problems: list[str]) -> tuple[str, str] | None:
    if not isinstance(value, list) or len(value) != 2:
        problems.append(f"{place}: two labels expected (low end, high end)"
                        + ("" if value is None else f", got {_kind(value)}"))
        return None
    low = _text(value[0], f"{place}.0", problems, "label")
    high = _text(value[1], f"{place}.1", problems, "label")
    return (low, high)


def _item(item: Item, value: object, place: str, problems: list[str]) -> ItemText:
    if not isinstance(value, dict):
        problems.append(f"{place}: an object expected, got {_kind(value)}")
        return ItemText("", {}, None)
    for key in sorted(set(value) - {"text", "choices", "anchors"}):
        problems.append(f"{place}: unknown field {key!r}")
    text = _text(value.get("text"), f"{place}.text", problems, "text")
    if item.kind == "choice":
        if "anchors" in value:
            problems.append(f"{place}.anchors: not used by a choice item (give choices)")
        return ItemText(text, _choices(item, value.get("choices"), f"{place}.choices",
                                       problems), None)
    if "choices" in value:
        problems.append(f"{place}.choices: not used by a {item.kind} item (give anchors)")
    return ItemText(text, {}, _anchors(value.get("anchors"), f"{place}.anchors", problems))


def _instrument(value: object, problems: list[str]) -> Instrument | None:
    entry = [instrument.code for instrument in CATALOGUE if instrument.entry]
    if isinstance(value, str) and value in entry:
        return INSTRUMENTS[value]
    if value is not None:
        problems.append(f"instrument: {value!r} is not one of {', '.join(entry)}")
    return None


def validate_pack(data: object, *, languages: Collection[str] = LANGUAGES) -> TextPack:
    """Check a parsed pack document against the catalogue; PackError lists every problem."""
    if not isinstance(data, dict):
        raise PackError([f"pack: a JSON object expected, got {_kind(data)}"])
    problems: list[str] = [f"{name}: missing" for name in REQUIRED if name not in data]
    problems += [f"unknown field {name!r}" for name in data if name not in FIELDS]
    if "format" in data and data["format"] != FORMAT:
        problems.append(f"format: {data['format']!r} is not {FORMAT!r}")
    instrument = _instrument(data.get("instrument"), problems)
    language = data.get("language")
    if "language" in data and language not in languages:
        problems.append(f"language: {language!r} is not one of {', '.join(languages)}")
    title = _text(data.get("title", "-"), "title", problems, "title")
    instructions = _text(data.get("instructions", "-"), "instructions", problems,
                         "instructions")
    source = _text(data.get("source", "-"), "source", problems, "source")
    demo = data.get("demo", False)
    if not isinstance(demo, bool):
        problems.append(f"demo: true or false expected, got {_kind(demo)}")
    sections = _sections(instrument, data.get("sections", {}), problems)
    items = _items(instrument, data.get("items"), problems) if "items" in data else {}
    if problems or instrument is None:
        raise PackError(problems)
    return TextPack(instrument=instrument.code, language=str(language), title=title,
                    instructions=instructions, source=source, demo=bool(demo),
                    sections=sections, items=items)


def _sections(instrument: Instrument | None, value: object,
              problems: list[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.append(f"sections: an object expected, got {_kind(value)}")
        return {}
    groups = list(dict.fromkeys(item.group for item in instrument.items)) if instrument else []
    sections = {}
    for name, text in value.items():
        if instrument is not None and name not in groups:
            problems.append(f"sections: unknown section {name!r}; expected one of "
                            f"{', '.join(groups)}")
        sections[str(name)] = _text(text, f"sections.{name}", problems, "section")
    return sections


def _items(instrument: Instrument | None, value: object,
           problems: list[str]) -> dict[str, ItemText]:
    if not isinstance(value, dict):
        problems.append(f"items: an object expected, got {_kind(value)}")
        return {}
    if instrument is None:
        return {}
    items = {}
    for item in instrument.items:
        if item.code in value:
            items[item.code] = _item(item, value[item.code], f"items.{item.code}", problems)
        else:
            problems.append(f"items.{item.code}: missing")
    problems += [f"items: unknown item {code!r} (not in {instrument.code})"
                 for code in value if code not in items]
    return items


def pack_data(pack: TextPack) -> dict[str, Any]:
    """The pack as the JSON document ``validate_pack`` reads (for storing or writing)."""
    items: dict[str, Any] = {}
    for code, text in pack.items.items():
        entry: dict[str, Any] = {"text": text.text}
        if text.anchors is not None:
            entry["anchors"] = list(text.anchors)
        else:
            entry["choices"] = {str(key): label for key, label in text.choices.items()}
        items[code] = entry
    data: dict[str, Any] = {"format": FORMAT, "instrument": pack.instrument,
                            "language": pack.language, "title": pack.title,
                            "instructions": pack.instructions, "source": pack.source,
                            "demo": pack.demo}
    if pack.sections:
        data["sections"] = dict(pack.sections)
    data["items"] = items
    return data


def _data_file(name: str) -> Any:
    return json.loads(resources.files("scoring").joinpath("textpacks_data", name)
                      .read_text(encoding="utf-8"))


@cache
def shipped_pack(instrument: str, language: str) -> TextPack | None:
    """The registry's own wording of ``instrument`` in ``language``, if it ships one."""
    if instrument not in OWN_WORDING or language not in LANGUAGES:
        return None
    return validate_pack(_data_file(f"{instrument}.{language}.json"))


def shipped_packs() -> list[TextPack]:
    """Every shipped pack (catalogue order, then language)."""
    return [pack for instrument in CATALOGUE for language in LANGUAGES
            if (pack := shipped_pack(instrument.code, language)) is not None]


@cache
def demo_pack(instrument: str, language: str) -> TextPack:
    """A demo pack from the catalogue's short labels (``demo`` true): for showing the
    self-report of a licensed instrument without its licensed text.

    In Spanish, labels come from ``textpacks_data/demo_labels.es.json``; a label without a
    translation is kept in English.
    """
    words: dict[str, str] = _data_file(f"demo_labels.{language}.json") if language != "en" \
        else {}
    found = INSTRUMENTS.get(instrument)
    if found is None or language not in LANGUAGES:
        raise ValueError(f"no demo pack for {instrument!r} in {language!r}")
    notice = words.get("@notice", "Demo wording, not the licensed questionnaire.")
    recall = words.get(found.recall_period, found.recall_period)
    how = words.get("@instructions", "For each question, choose the answer that best "
                    "describes your knee during the {recall}.").format(recall=recall)
    data = {
        "format": FORMAT, "instrument": found.code, "language": language,
        "title": f"{found.short_name} ({words.get('@demo', 'demo wording')})",
        "instructions": f"{notice} {how}",
        "source": "Registry demo: the catalogue's short labels, not the licensed questionnaire.",
        "demo": True,
        "sections": {group: words.get(group, group)
                     for group in dict.fromkeys(item.group for item in found.items)},
        "items": {item.code: _demo_item(item, words) for item in found.items},
    }
    return validate_pack(data)


def _demo_item(item: Item, words: Mapping[str, str]) -> dict[str, Any]:
    if item.kind == "choice":
        return {"text": words.get(item.label, item.label),
                "choices": {str(option.code): words.get(option.label, option.label)
                            for option in item.options}}
    low, high = item.anchors or ("0", str(item.maximum))
    return {"text": words.get(item.label, item.label),
            "anchors": [words.get(low, low), words.get(high, high)]}


__all__ = ["FORMAT", "LANGUAGES", "OWN_WORDING", "ItemText", "PackError", "TextPack",
           "demo_pack", "pack_data", "shipped_pack", "shipped_packs", "validate_pack"]

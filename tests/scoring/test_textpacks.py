"""Text packs: the format, its validation against the catalogue, the shipped own wording
and the demo packs built from the catalogue's short labels."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

import scoring
from scoring.textpacks import (
    FORMAT,
    LANGUAGES,
    OWN_WORDING,
    PackError,
    demo_pack,
    pack_data,
    shipped_pack,
    shipped_packs,
    validate_pack,
)

ENTRY = [instrument.code for instrument in scoring.recordable_instruments()]


def good(instrument: str = "koos", language: str = "es") -> dict[str, Any]:
    """A valid pack document (the demo pack's) to break one piece at a time."""
    return copy.deepcopy(pack_data(demo_pack(instrument, language)))


def problems_of(data: object) -> list[str]:
    with pytest.raises(PackError) as caught:
        validate_pack(data)
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def test_a_valid_pack_is_read_into_typed_text() -> None:
    pack = validate_pack(good("koos", "es"))
    assert (pack.instrument, pack.language, pack.demo) == ("koos", "es", True)
    assert list(pack.items) == list(scoring.INSTRUMENTS["koos"].item_codes)
    assert pack.items["S4"].choices == {0: "Siempre", 1: "A menudo", 2: "A veces",
                                        3: "Rara vez", 4: "Nunca"}  # S4 runs Always = 0
    assert pack.items["S4"].anchors is None
    assert pack.sections["Pain"] == "Dolor"


def test_pack_data_round_trips() -> None:
    for pack in [*shipped_packs(), demo_pack("womac", "en")]:
        assert validate_pack(json.loads(json.dumps(pack_data(pack)))) == pack


def _drop_choice(data: dict[str, Any]) -> None:
    del data["items"]["P1"]["choices"]["4"]


def _set(path: str, value: Any):
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value
    return change


def _delete(path: str):
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        del target[last]
    return change


def _add_item(data: dict[str, Any]) -> None:
    data["items"]["Z9"] = {"text": "An extra question", "choices": {"0": "No"}}


@pytest.mark.parametrize(("change", "expected"), [
    (_delete("items.P5"), "items.P5: missing"),
    (_drop_choice, "items.P1.choices: codes 0..4 expected, got 0..3"),
    (_set("items.P1.choices.7", "Huge"),
     "items.P1.choices: codes 0..4 expected, got 0, 1, 2, 3, 4, 7"),
    (_set("items.P1.choices.x", "Odd"), "items.P1.choices: 'x' is not a whole-number code"),
    (_set("items.P1.choices.2", ""), "items.P1.choices.2: empty"),
    (_delete("items.P1.choices"), "items.P1.choices: missing (an object of answer labels by "
                                  "code)"),
    (_set("items.P1.anchors", ["a", "b"]), "items.P1.anchors: not used by a choice item "
                                           "(give choices)"),
    (_set("items.P1.colour", "red"), "items.P1: unknown field 'colour'"),
    (_set("items.P1", "Pain"), "items.P1: an object expected, got text"),
    (_set("items.P1.text", "   "), "items.P1.text: empty"),
    (_delete("items.P1.text"), "items.P1.text: text expected, got null"),
    (_set("items.P1.text", "<b>Pain</b>"), "items.P1.text: contains HTML markup; plain text "
                                           "only"),
    (_set("items.P1.text", "Pain &amp; more"), "items.P1.text: contains HTML markup; plain "
                                               "text only"),
    (_set("items.P1.text", "Pain\x07"), "items.P1.text: contains control characters; plain "
                                        "text only"),
    (_set("items.P1.text", "x" * 1001), "items.P1.text: too long (1001 characters, at most "
                                        "1000)"),
    (_add_item, "items: unknown item 'Z9' (not in koos)"),
    (_set("items", []), "items: an object expected, got a list"),
    (_set("language", "fr"), "language: 'fr' is not one of en, es"),
    (_set("format", "koos-text/2"), "format: 'koos-text/2' is not 'koa-registry-textpack/1'"),
    (_set("instrument", "koos12"), "instrument: 'koos12' is not one of "
                                   + ", ".join(ENTRY)),
    (_delete("title"), "title: missing"),
    (_set("instructions", 4), "instructions: text expected, got a number"),
    (_set("source", ""), "source: empty"),
    (_set("demo", "yes"), "demo: true or false expected, got text"),
    (_set("sections.Knees", "Rodillas"), "sections: unknown section 'Knees'; expected one of "
                                         "Symptoms, Pain, Function in daily living, Sport and "
                                         "recreation, Quality of life"),
    (_set("sections", "Dolor"), "sections: an object expected, got text"),
    (_set("licence", "mine"), "unknown field 'licence'"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_each_problem_is_named_by_its_place(change, expected) -> None:
    data = good("koos", "es")
    change(data)
    assert problems_of(data) == [expected]


@pytest.mark.parametrize(("change", "expected"), [
    (_delete("items.VAS.anchors"), "items.VAS.anchors: two labels expected (low end, high "
                                   "end)"),
    (_set("items.VAS.anchors", ["only one"]), "items.VAS.anchors: two labels expected (low "
                                              "end, high end), got a list"),
    (_set("items.VAS.anchors", ["", "Worst"]), "items.VAS.anchors.0: empty"),
    (_set("items.VAS.choices", {"0": "None"}), "items.VAS.choices: not used by a line item "
                                               "(give anchors)"),
])
def test_line_items_need_two_anchors(change, expected) -> None:
    data = pack_data(shipped_pack("vas", "en"))  # type: ignore[arg-type]
    change(data)
    assert problems_of(data) == [expected]


def test_every_problem_is_reported_at_once() -> None:
    data = good("womac", "en")
    del data["items"]["P5"]
    data["items"]["F1"]["choices"]["0"] = "<i>None</i>"
    data["language"] = "de"
    assert problems_of(data) == [
        "language: 'de' is not one of en, es",
        "items.P5: missing",  # items in the catalogue's order
        "items.F1.choices.0: contains HTML markup; plain text only",
    ]


@pytest.mark.parametrize(("data", "kind"), [(None, "null"), ([], "a list"), ("koos", "text"),
                                           (3, "a number")])
def test_a_document_that_is_not_an_object_is_refused(data, kind) -> None:
    assert problems_of(data) == [f"pack: a JSON object expected, got {kind}"]


def test_the_choice_codes_of_the_global_rating_run_from_minus_three() -> None:
    data = pack_data(shipped_pack("grc", "en"))  # type: ignore[arg-type]
    data["items"]["GRC"]["choices"] = {str(code): "x" for code in range(0, 7)}
    assert problems_of(data) == ["items.GRC.choices: codes -3..3 expected, got 0..6"]


@pytest.mark.parametrize("instrument", OWN_WORDING)
@pytest.mark.parametrize("language", LANGUAGES)
def test_own_wording_is_shipped_in_every_language(instrument, language) -> None:
    pack = shipped_pack(instrument, language)
    assert pack is not None
    assert not pack.demo
    item = scoring.INSTRUMENTS[instrument].items[0]
    text = pack.items[item.code]
    if item.kind == "choice":
        assert sorted(text.choices) == [option.code for option in item.options]
    else:
        assert text.anchors is not None
        assert all(text.anchors)
    assert "registry" in pack.source.lower() or "registro" in pack.source.lower()
    if language == "en" and item.anchors:  # the catalogue's anchors, word for word
        assert text.anchors == item.anchors
    if language == "en" and item.options:
        assert dict(text.choices) == {option.code: option.label for option in item.options}


def test_no_licensed_text_is_shipped() -> None:
    """Only the registry's own wordings and the demo labels are in the package data."""
    names = sorted(entry.name for entry in
                   resources.files("scoring").joinpath("textpacks_data").iterdir()
                   if entry.name.endswith(".json"))
    own = sorted(f"{code}.{language}.json" for code in OWN_WORDING for language in LANGUAGES)
    assert names == sorted([*own, "demo_labels.es.json", "catalogue_texts.es.json"])
    for code in ("koos", "womac", "koos_ps"):
        for language in LANGUAGES:
            assert shipped_pack(code, language) is None


def test_the_catalogue_texts_translate_only_the_catalogues_own_words() -> None:
    """``catalogue_texts.es.json`` holds the registry's own texts (instrument names and
    descriptions, threshold sets, the registry-worded instruments' item labels): every key
    is a text of the catalogue itself, so no licensed questionnaire text can hide there."""
    from scoring.thresholds import THRESHOLD_SETS

    text = resources.files("scoring").joinpath(
        "textpacks_data", "catalogue_texts.es.json").read_text(encoding="utf-8")
    keys = {key for key in json.loads(text) if not key.startswith("@")}
    own = {text for instrument in scoring.INSTRUMENTS.values()
           for text in (instrument.name, instrument.description)}
    own |= {text for threshold_set in THRESHOLD_SETS.values()
            for text in (threshold_set.label, threshold_set.note)}
    own |= {item.label for code in OWN_WORDING for item in scoring.INSTRUMENTS[code].items}
    assert keys <= own, sorted(keys - own)


@pytest.mark.parametrize("instrument", [code for code in ENTRY if code not in OWN_WORDING])
@pytest.mark.parametrize("language", LANGUAGES)
def test_demo_packs_are_marked_and_cover_every_item(instrument, language) -> None:
    pack = demo_pack(instrument, language)
    definition = scoring.INSTRUMENTS[instrument]
    assert pack.demo
    notice = {"en": "Demo wording, not the licensed questionnaire.",
              "es": "Texto de demostración, no el cuestionario con licencia."}[language]
    assert pack.instructions.startswith(notice)
    assert list(pack.items) == list(definition.item_codes)
    if language == "en":
        assert [text.text for text in pack.items.values()] == [
            item.label for item in definition.items]
    else:  # every short label and answer label has its Spanish form
        for item in definition.items:
            assert pack.items[item.code].text != item.label or item.label == "Standing"
            assert set(pack.items[item.code].choices.values()).isdisjoint(
                {"None", "Mild", "Never", "Always"})


def test_format_constant_is_the_documented_one() -> None:
    assert FORMAT == "koa-registry-textpack/1"

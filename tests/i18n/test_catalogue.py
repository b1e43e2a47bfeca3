"""The Spanish catalogue is complete, free of fuzzy entries, compiled, and up to date with
the strings the sources mark (the same check as ``make lint``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from registry import i18n_catalogue
from registry.i18n_catalogue import check, po_path


def test_the_catalogue_is_complete_and_up_to_date():
    problems = check()
    assert problems == [], "\n".join(problems)


@pytest.fixture
def copy_of_catalogue(tmp_path, monkeypatch) -> Path:
    """The Spanish catalogue copied to a temporary folder, which the checker then reads."""
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    for suffix in (".po", ".mo"):
        shutil.copy(po_path("es").with_suffix(suffix), folder / f"messages{suffix}")
    real = po_path

    def fake(language: str) -> Path:
        return folder / "messages.po" if language == "es" else real(language)

    monkeypatch.setattr(i18n_catalogue, "po_path", fake)
    return folder / "messages.po"


def _edit(path: Path, change) -> None:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="es")
    change(catalog)
    with path.open("wb") as handle:
        write_po(handle, catalog)


NOTICE = "Demo wording, not the licensed questionnaire."


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c.get(NOTICE).flags.add("fuzzy"), f"'{NOTICE}' is fuzzy"),
    (lambda c: setattr(c.get(NOTICE), "string", ""), f"'{NOTICE}' is not translated"),
    (lambda c: c.delete(NOTICE), f"'{NOTICE}' is marked in the sources but not in the "
                                 "catalogue"),
    (lambda c: c.add("A string nobody marks", "Una cadena"),
     "'A string nobody marks' is no longer marked in the sources"),
    (lambda c: setattr(c.get(NOTICE), "string", "Texto cambiado"),
     "messages.mo: differs from es/messages.po"),
], ids=["fuzzy", "untranslated", "missing", "obsolete", "not compiled"])
def test_the_check_names_each_problem(copy_of_catalogue, change, expected):
    _edit(copy_of_catalogue, change)
    assert any(expected in problem for problem in check()), check()


def test_a_placeholder_lost_in_translation_is_reported(copy_of_catalogue):
    def change(catalog):
        message = next(m for m in catalog if m.id and "%(" in str(m.id))
        message.string = "sin el marcador %(otro)s"
        message.flags.discard("fuzzy")

    _edit(copy_of_catalogue, change)
    assert any("unknown named placeholder" in problem for problem in check()), check()


def test_merge_fills_untranslated_entries_from_fragments(copy_of_catalogue, tmp_path):
    with copy_of_catalogue.open("rb") as handle:
        catalog = read_po(handle, locale="es")
    single = next(m for m in catalog if m.id and not m.pluralizable and m.id != NOTICE)
    plural = next((m for m in catalog if m.pluralizable), None)
    _edit(copy_of_catalogue, lambda c: [setattr(m, "string", "" if not m.pluralizable
                                                else ("",) * c.num_plurals)
                                        for m in c if m.id in {single.id, getattr(
                                            plural, "id", None)}])
    fragment = tmp_path / "es_someone.po"
    entries = [f'msgid "{single.id}"\nmsgstr "Traducido"\n',
               'msgid "Not in any source"\nmsgstr "En ninguna parte"\n',
               f'msgid "{NOTICE}"\nmsgstr "Otra traducción"\n']
    if plural is not None:
        entries.append(f'msgid "{plural.id[0]}"\nmsgid_plural "{plural.id[1]}"\n'
                       'msgstr[0] "Uno"\nmsgstr[1] "Varios"\n')
    fragment.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                        + "\n".join(entries), encoding="utf-8")
    report = i18n_catalogue.merge([fragment], extract_first=False)
    assert report == [
        "es_someone.po: 'Not in any source' is not marked in the sources",
        f"es_someone.po: '{NOTICE}' kept the catalogue's translation "
        "'Texto de demostración, no el cuestionario con licencia.'"]
    with copy_of_catalogue.open("rb") as handle:
        merged = read_po(handle, locale="es")
    assert merged.get(single.id).string == "Traducido"
    if plural is not None:  # two forms given, Spanish has three (CLDR): the last repeats
        assert merged.get(plural.id).string == ("Uno", "Varios", "Varios")
    assert not any("differs from" in problem for problem in check())  # compiled too

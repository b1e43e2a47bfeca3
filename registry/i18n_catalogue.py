"""The translation catalogue: extract, update, merge, compile and check (Babel's API).

``python -m registry.i18n_catalogue update``  extract the marked strings of ``registry/``
    and ``templates/`` (``babel.cfg``) into ``messages.pot``, bring every language's
    ``messages.po`` in line with it (new strings untranslated, removed ones dropped) and
    compile ``messages.mo`` (``make translations``).
``python -m registry.i18n_catalogue merge FRAGMENT.po...``  ``update``, then fill the
    untranslated entries from fragment files (standard .po entries), then compile.
``python -m registry.i18n_catalogue check``  exit 1, naming each problem, when a catalogue
    misses a string the sources mark, keeps one they no longer mark, has an untranslated,
    fuzzy or ill-formatted entry, or its compiled ``.mo`` differs from the ``.po``
    (``make lint`` and ``tests/i18n`` run it).

Locations are written without line numbers, so moving code does not change the files;
the ``.mo`` is kept in the repository, so a fresh clone (or a wheel) translates without a
compile step.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from registry.i18n import TRANSLATIONS_DIR
from registry.vocabularies import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "babel.cfg"
TEMPLATE = TRANSLATIONS_DIR / "messages.pot"
# Flask-Babel's lazy and plural helpers, besides gettext's own names.
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_ngettext": (1, 2),
            "lazy_pgettext": ((1, "c"), 2), "_l": None}
PROJECT = "koa-registry"
HEADER = """\
# Translations of the KOA outcomes registry (every page, message, e-mail and label).
# Spanish: usted register; terms as in docs/glossary-es.md (visit = visita, window =
# ventana, follow-up = seguimiento, adverse event = evento adverso, lot = lote, ...).
# Update with `make translations`; never edit the .mo."""
WIDTH = 100

MessageKey = str | tuple[str, str]


def translated_languages() -> list[str]:
    """Every language with a catalogue: all of ``LANGUAGES`` except the source language."""
    return [code for code in LANGUAGES if code != "en"]


def po_path(language: str) -> Path:
    return TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"


def extract(root: Path = ROOT) -> Catalog:
    """Every string the sources mark for translation (a template catalogue)."""
    with MAPPING.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(MAPPING))
    template = Catalog(project=PROJECT, fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map, options_map, keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",), strip_comment_tags=True):
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)
    return template


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def _write_po(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=WIDTH, sort_output=True, include_lineno=False,
                 ignore_obsolete=True)


def _write_mo(language: str, catalog: Catalog) -> None:
    with po_path(language).with_suffix(".mo").open("wb") as handle:
        write_mo(handle, catalog)


def _catalogue(language: str, template: Catalog) -> Catalog:
    """The language's catalogue brought in line with ``template`` (not yet written)."""
    path = po_path(language)
    if path.exists():
        catalog = _read(path, language)
    else:
        catalog = Catalog(locale=language, project=PROJECT, fuzzy=False,
                          header_comment=HEADER, copyright_holder="the KOA registry",
                          last_translator="KOA registry", language_team=language)
    # No fuzzy matching: a guessed translation of a changed string is worse than none.
    catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
    catalog.obsolete.clear()
    return catalog


def update() -> list[str]:
    """Extract, update every catalogue and compile it; returns the untranslated counts."""
    template = extract()
    if TEMPLATE.exists():
        template.creation_date = _read(TEMPLATE).creation_date
    _write_po(TEMPLATE, template)
    report = []
    for language in translated_languages():
        catalog = _catalogue(language, template)
        _write_po(po_path(language), catalog)
        _write_mo(language, catalog)
        missing = sum(1 for message in catalog if message.id and not _done(message))
        report.append(f"{language}: {len(catalog)} strings, {missing} to translate")
    return report


def _done(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings) and not message.fuzzy


def merge(fragments: Sequence[Path], language: str = "es", *,
          extract_first: bool = True) -> list[str]:
    """``update`` (unless ``extract_first`` is false), then take each untranslated
    entry's translation from the fragments.

    A catalogue's existing translation is kept when a fragment disagrees (reported); a
    fragment entry the sources do not mark is reported and left out.  A plural entry with
    fewer forms than the language has (Spanish: CLDR's one / many / other, where
    translators usually give two) repeats its last form.
    """
    if extract_first:
        update()
    catalog = _read(po_path(language), language)
    report = []
    for fragment in fragments:
        for entry in _read(fragment, language):
            # Babel pads a plural entry to the language's forms with empty strings.
            given = [part for part in entry.string if part] \
                if isinstance(entry.string, list | tuple) else entry.string
            if not entry.id or not given or entry.fuzzy:
                continue
            current = catalog.get(entry.id, entry.context)
            if current is None:
                report.append(f"{fragment.name}: {_show(_key(entry))} is not marked in the "
                              "sources")
            elif not _done(current):
                current.string = _forms(given, current, catalog.num_plurals)
                current.flags.discard("fuzzy")
            elif current.string != _forms(given, current, catalog.num_plurals):
                report.append(f"{fragment.name}: {_show(_key(entry))} kept the catalogue's "
                              f"translation {current.string!r}")
    catalog.revision_date = datetime.now(UTC)
    _write_po(po_path(language), catalog)
    _write_mo(language, catalog)
    return report


def _forms(string: object, message: Message, forms: int) -> str | tuple[str, ...]:
    """A fragment's translation shaped like ``message``: one string, or ``forms`` forms."""
    strings = [str(part) for part in string] if isinstance(string, list | tuple) \
        else [str(string)]
    if not message.pluralizable:
        return strings[0]
    return tuple((strings + strings[-1:] * forms)[:forms])


def _show(key: MessageKey) -> str:
    return repr(key if isinstance(key, str) else f"{key[1]}|{key[0]}")


def _key(message: Message) -> MessageKey:
    """The singular msgid, with its context when it has one."""
    singular = message.id if isinstance(message.id, str) else str(message.id[0])
    return (singular, message.context) if message.context else singular


def _keys(messages: Iterable[Message]) -> set[MessageKey]:
    return {_key(message) for message in messages if message.id}


def check() -> list[str]:
    """Every problem of the catalogues, each naming the file and the string."""
    problems: list[str] = []
    marked = _keys(extract())
    if not TEMPLATE.exists():
        problems.append(f"{TEMPLATE.name}: missing; run `make translations`")
    elif _keys(_read(TEMPLATE)) != marked:
        problems.append(f"{TEMPLATE.name}: not up to date with the sources; run "
                        "`make translations`")
    for language in translated_languages():
        path = po_path(language)
        if not path.exists():
            problems.append(f"{language}: {path.name} missing; run `make translations`")
            continue
        catalog = _read(path, language)
        name = f"{language}/{path.name}"
        have = _keys(catalog)
        problems += [f"{name}: {_show(key)} is marked in the sources but not in the "
                     "catalogue; run `make translations`" for key in sorted(marked - have,
                                                                           key=str)]
        problems += [f"{name}: {_show(key)} is no longer marked in the sources; run "
                     "`make translations`" for key in sorted(have - marked, key=str)]
        for message in catalog:
            if not message.id:
                continue
            shown = _show(_key(message))
            if message.fuzzy:
                problems.append(f"{name}: {shown} is fuzzy (check it, then remove the fuzzy "
                                "flag)")
            elif not _done(message):
                problems.append(f"{name}: {shown} is not translated")
            problems += [f"{name}: {shown}: {error}"
                         for error in message.check(catalog)]
        problems += _compiled_problems(language, catalog)
    return problems


def _compiled_problems(language: str, catalog: Catalog) -> list[str]:
    mo = po_path(language).with_suffix(".mo")
    if not mo.exists():
        return [f"{language}/{mo.name}: missing; run `make translations`"]
    with mo.open("rb") as handle:
        compiled = read_mo(handle)

    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    def pairs(source: Catalog) -> set[tuple[object, object, object]]:
        return {(frozen(m.id), m.context, frozen(m.string)) for m in source
                if m.id and _done(m)}

    def fallback(entry: tuple[object, object, object]) -> bool:
        """Babel compiles an untranslated plural entry as its English forms."""
        ids, strings = entry[0], entry[2]
        return isinstance(ids, tuple) and isinstance(strings, tuple) \
            and set(strings) <= set(ids)

    translated = pairs(catalog)
    extra = {entry for entry in pairs(compiled) - translated if not fallback(entry)}
    if extra or not translated <= pairs(compiled):
        return [f"{language}/{mo.name}: differs from {language}/messages.po; run "
                "`make translations`"]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``update``, ``merge FRAGMENT...`` or ``check``."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args else "check"
    if command == "update" and not args:
        print("\n".join(update()))
        return 0
    if command == "merge" and args:
        report = merge([Path(arg) for arg in args])
        print("\n".join(report or ["Merged; every fragment entry was used."]))
        problems = check()
        print("\n".join(problems or ["The catalogue is complete."]))
        return 1 if problems else 0
    if command == "check" and not args:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    print("usage: python -m registry.i18n_catalogue update | merge FRAGMENT.po... | check",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

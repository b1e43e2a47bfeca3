"""The patient's form, as the pages show it: sections and questions built from the
catalogue (kinds, ranges, codes) and the instrument's text pack (wording, answer labels).

One section per offered instrument, in the order fixed when the form was first opened.
Nothing here writes: the pages read the draft, ``service.save_answers`` stores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy.orm import Session

import scoring
from registry.models import SelfReport
from registry.textpacks import pack_for
from registry.vocabularies import LANGUAGES
from scoring.textpacks import TextPack


@dataclass(frozen=True)
class Choice:
    """One answer box: the stored code and the label the patient reads."""

    code: int
    label: str
    dom_id: str


@dataclass(frozen=True)
class Question:
    """One item on the page: its field name, wording, kind, the draft value and error."""

    name: str  # the form field, "<instrument>.<item>"
    dom_id: str
    number: int
    text: str
    kind: str  # choice | line | rating (scoring.Item.kind)
    minimum: int
    maximum: int
    choices: tuple[Choice, ...]
    anchors: tuple[str, ...]
    value: str  # the current answer as text ("" when none)
    skipped: bool
    error: str | None
    intro: str = ""  # the pack's instructions for the group of items this one opens

    @property
    def skip_name(self) -> str:
        return f"skip.{self.name}"

    @property
    def answer_text(self) -> str:
        """The answer in words, for the review screen."""
        if self.skipped:
            return _("Skipped")
        if self.value == "":
            return _("Not answered")
        for choice in self.choices:
            if str(choice.code) == self.value:
                return (choice.label if choice.label == self.value
                        else f"{choice.label} ({self.value})")
        return _("%(value)s (from %(minimum)s to %(maximum)s)", value=self.value,
                 minimum=self.minimum, maximum=self.maximum)


@dataclass(frozen=True)
class Section:
    """One instrument: one screen of the form."""

    step: int
    instrument: str
    title: str
    instructions: str
    demo: bool
    questions: tuple[Question, ...]

    @property
    def errors(self) -> list[Question]:
        return [question for question in self.questions if question.error]


def _dom_id(instrument: str, item: str) -> str:
    return f"q-{instrument}-{item}"


def _text_of(pack: TextPack | None,
             item: scoring.Item) -> tuple[str, Mapping[int, str], tuple[str, ...]]:
    texts = pack.items.get(item.code) if pack is not None else None
    if texts is None:  # not reached for an offered instrument: it has a pack
        return (item.label, {option.code: option.label for option in item.options},
                tuple(item.anchors))
    return texts.text, dict(texts.choices or {}), tuple(texts.anchors or ())


def _pack(session: Session, instrument: str, language: str) -> TextPack | None:
    """The instrument's text in ``language``; in another language only if that has none
    (the language switch offers only languages with every pack, so this is a fallback)."""
    pack = pack_for(session, instrument, language)
    for other in sorted(LANGUAGES):
        if pack is not None:
            break
        pack = pack_for(session, instrument, other)
    return pack


def section(session: Session, report: SelfReport, step: int,
            values: Mapping[str, str] | None = None,
            errors: Mapping[str, str] | None = None) -> Section:
    """Section ``step`` (1-based) of the report; ``values``: what the patient just sent
    (shown again beside its messages), else the saved draft."""
    code = report.instruments[step - 1]
    instrument = scoring.INSTRUMENTS[code]
    pack = _pack(session, code, report.language)
    draft = (report.draft or {}).get(code, {})
    skipped = set(report.skipped or [])
    questions = []
    intros = dict(pack.sections) if pack is not None else {}
    for number, item in enumerate(instrument.items, start=1):
        name = f"{code}.{item.code}"
        text, labels, anchors = _text_of(pack, item)
        dom_id = _dom_id(code, item.code)
        codes = range(item.minimum, item.maximum + 1) if item.kind != "line" else range(0)
        choices = tuple(Choice(value, labels.get(value, str(value)), f"{dom_id}-{value}")
                        for value in codes)
        if values is not None:
            value = (values.get(name) or "").strip()
            is_skipped = bool(values.get(f"skip.{name}"))
        else:
            saved = draft.get(item.code)
            value = "" if saved is None else str(saved)
            is_skipped = name in skipped
        questions.append(Question(
            name=name, dom_id=dom_id, number=number, text=text, kind=item.kind,
            minimum=item.minimum, maximum=item.maximum, choices=choices, anchors=anchors,
            value=value, skipped=is_skipped, error=(errors or {}).get(name),
            intro=intros.pop(item.group, "")))
    return Section(step=step, instrument=code,
                   title=pack.title if pack is not None else instrument.short_name,
                   instructions=pack.instructions if pack is not None else "",
                   demo=pack.demo if pack is not None else False, questions=tuple(questions))


def sections(session: Session, report: SelfReport) -> list[Section]:
    """Every section with the saved draft (the review screen)."""
    return [section(session, report, step) for step in range(1, len(report.instruments) + 1)]


def first_unanswered(report: SelfReport) -> int | None:
    """The first step with nothing answered or skipped yet (None: all were visited)."""
    draft = report.draft or {}
    skipped = set(report.skipped or [])
    for step, code in enumerate(report.instruments, start=1):
        answers = draft.get(code, {})
        touched = any(value is not None for value in answers.values()) or any(
            name.startswith(f"{code}.") for name in skipped)
        if not touched:
            return step
    return None


__all__ = ["Choice", "Question", "Section", "first_unanswered", "section", "sections"]

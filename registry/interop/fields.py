"""The registry's forms and fields in one neutral description, for REDCap and CDISC ODM.

Instrument forms come from the scoring catalogue: items with their answer options, range
and anchors, then the scores with unit, range, direction and missing rule.  The registry's
own forms (patient, index knee, treatment, visit, adverse event) come from the column specs
of the de-identified export (``registry.research``: ``dictionaryfile.export_specs``), so a
column added to the export is described here too, under the same name.  Nothing here lists
instruments or fields by hand, and only the catalogue's short item labels are used (never
licensed KOOS or WOMAC wording).

Labels, sections and notes are written in the language in force
(``registry.research.language``: ``registry dictionary --language es``); names, codes and
units of measurement are the same in every language.

Names are valid everywhere they go: lower-case letters, digits and ``_``, a letter first,
unique over the whole dictionary (REDCap's rule; also fine as ODM item names).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from flask_babel import gettext as _

import scoring
from registry.research.dictionary import ColumnSpec, direction_of, score_label
from registry.research.language import (
    anchor_labels,
    item_label,
    option_label,
    section_label,
    words,
)
from registry.vocabularies import N_
from scoring import Instrument, Item, ScoreDef
from scoring.model import AnswerOption

FieldKind = Literal["text", "integer", "number", "yesno", "choice", "slider", "score"]
FormLevel = Literal["patient", "event", "visit"]
Choices = tuple[tuple[str, str], ...]

RECORD_ID = "record_id"
YES_NO: Choices = (("0", N_("No")), ("1", N_("Yes")))  # labels translated where used
SCORES_SECTION = N_("Scores (computed by the registry from the answers; not entered)")
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
# Registry forms by the table part of a column's ``source`` ("index_knee.kl_grade"); the
# treatment's product and lot are on the treatment form, every other patients-table column
# on the patient form.
SOURCE_FORMS = {"index_knee": "index_knee", "treatment": "treatment",
                "cell_product": "treatment", "product_lot": "treatment"}
FORM_LABELS = {"patient": N_("Patient"), "index_knee": N_("Index knee"),
               "treatment": N_("Treatment"), "visit": N_("Visit"),
               "adverse_event": N_("Adverse event")}
# Prefixes that keep the visit's and the adverse events' column names apart from the
# patient's ("day", "category", "outcome" …).
FORM_PREFIX = {"visit": "visit_", "adverse_event": "ae_"}
VISIT_KEYS = frozenset({"pid", "timepoint", "unscheduled"})  # the visit, not its fields


@dataclass(frozen=True)
class Field:
    """One field: what REDCap shows as a question and ODM defines as an item."""

    name: str
    label: str
    kind: FieldKind
    column: str  # where the value comes from: an export column, "<instr>_<item>", a score
    choices: Choices = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    note: str = ""
    section: str = ""  # a heading shown above this field (a new item group)
    group: str = ""  # the item group (KOOS subscale, "Scores", or the form)
    anchors: tuple[str, ...] = ()
    instrument: str = ""
    item: str = ""  # the item's code (instrument items)
    score: str = ""  # the score's code (score fields)
    options: tuple[AnswerOption, ...] = ()  # the catalogue's options (choice items)


@dataclass(frozen=True)
class Form:
    """A data-collection form: once per patient, repeated per patient (adverse events), or
    once per visit (the visit itself and every instrument)."""

    name: str
    label: str
    level: FormLevel
    fields: tuple[Field, ...]
    instrument: str = ""
    note: str = ""
    groups: tuple[str, ...] = field(default=())  # item groups in order

    def __post_init__(self) -> None:
        """The item groups in the order their first field comes."""
        if not self.groups:
            groups = tuple(dict.fromkeys(f.group or self.label for f in self.fields))
            object.__setattr__(self, "groups", groups)


def safe_name(text: str) -> str:
    """``text`` as a lower-case name: a–z, 0–9 and ``_``, starting with a letter."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return name if name[:1].isalpha() else f"v_{name}"


def number(value: float | None) -> str:
    """A bound as text: whole numbers without ".0"."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def choices_of(spec: ColumnSpec) -> Choices:
    """A coded column's (code, label) pairs: its ``codes``, else parsed from ``values``."""
    if spec.codes:
        return tuple((str(code), str(label)) for code, label in spec.codes)
    pairs = []
    for part in spec.values.split("; ") if spec.values else ():
        code, _sep, label = part.partition(" = ")
        pairs.append((code.strip(), label.strip()))
    return tuple(pairs)


def option_choices(options: Iterable[AnswerOption]) -> Choices:
    return tuple((str(option.code), option.label) for option in options)


def spec_field(spec: ColumnSpec, name: str, section: str = "") -> Field:
    """A registry field from an export column's spec (type, codes, range, unit)."""
    note = "; ".join(part for part in (spec.unit, spec.missing_rule) if part)
    common: dict[str, Any] = {"name": name, "label": spec.label, "column": spec.column,
                              "unit": spec.unit, "note": note, "section": section,
                              "minimum": spec.minimum, "maximum": spec.maximum}
    if spec.type == "boolean":
        yes_no = tuple((code, words(label)) for code, label in YES_NO)
        return Field(kind="yesno", choices=yes_no, **{**common, "minimum": None,
                                                      "maximum": None})
    choices = choices_of(spec)
    if choices:
        return Field(kind="choice", choices=choices, **common)
    kind: FieldKind = ("integer" if spec.type == "integer"
                       else "number" if spec.type == "number" else "text")
    return Field(kind=kind, **common)


def record_id_field() -> Field:
    return Field(RECORD_ID, _("Record ID: the patient's pseudonym (P- and 12 hex digits)"),
                 "text", "pid", note=_("Same pseudonym as in the export's other tables"),
                 group=words(FORM_LABELS["patient"]))


def registry_forms(specs: Sequence[ColumnSpec]) -> list[Form]:
    """Patient, index knee, treatment, visit and adverse-event forms from the export's
    specs: the ``patients`` table (split by the record each column comes from), the
    ``visits`` table and the ``adverse_events`` table."""
    by_form: dict[str, list[Field]] = {name: [] for name in FORM_LABELS}
    by_form["patient"].append(record_id_field())
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        if spec.column == "pid" or (spec.table, spec.column) in seen:
            continue
        if spec.table == "patients":
            form = SOURCE_FORMS.get(spec.source.partition(".")[0], "patient")
        elif spec.table == "visits":
            if spec.column in VISIT_KEYS:
                continue  # the visit itself: its patient, timepoint, kind
            form = "visit"
        elif spec.table == "adverse_events":
            form = "adverse_event"
        else:
            continue
        seen.add((spec.table, spec.column))
        fields = by_form[form]
        prefix = FORM_PREFIX.get(form, "")
        name = safe_name(spec.column if spec.column.startswith(prefix) else prefix + spec.column)
        fields.append(replace(spec_field(spec, name), group=words(FORM_LABELS[form])))
    levels: dict[str, FormLevel] = {"visit": "visit", "adverse_event": "event"}
    return [Form(name, words(FORM_LABELS[name]), levels.get(name, "patient"), tuple(fields))
            for name, fields in by_form.items() if fields]


def item_field(instrument: Instrument, item: Item, section: str) -> Field:
    """An instrument item: boxes (choice), a 100 mm line (slider) or a whole-number rating."""
    name = safe_name(f"{instrument.code}_{item.code}")
    column = f"{instrument.code}_{item.code}"
    short = item_label(instrument.code, item.code, item.label)
    label = f"{item.code} {short}" if item.code != item.label else short
    common: dict[str, Any] = {"name": name, "column": column, "section": section,
                              "group": item.group, "instrument": instrument.code,
                              "item": item.code, "minimum": float(item.minimum),
                              "maximum": float(item.maximum), "unit": item.unit,
                              "anchors": tuple(item.anchors)}
    if item.options:
        choices = tuple((str(option.code),
                         option_label(instrument.code, item.code, option.code, option.label))
                        for option in item.options)
        return Field(label=label, kind="choice", choices=choices, options=item.options,
                     **common)
    anchors = anchor_labels(instrument.code, item.code, tuple(item.anchors))
    common["anchors"] = anchors
    ends = (f"{item.minimum} = {anchors[0]}; {item.maximum} = {anchors[1]}"
            if anchors else "")
    whole = (_("whole %(unit)s", unit=words(item.unit)) if item.unit and item.unit != "points"
             else _("whole numbers"))
    note = "; ".join(part for part in (ends, whole) if part)
    kind: FieldKind = "slider" if item.kind == "line" and (item.minimum, item.maximum) == (0, 100) \
        else "integer"
    return Field(label=label, kind=kind, note=note, **common)


def score_field(instrument: Instrument, score: ScoreDef, section: str) -> Field:
    """A score: a number the registry computes (read-only where data are entered)."""
    note = (f"{words(score.unit)}, {number(score.minimum)}–{number(score.maximum)}, "
            f"{direction_of(score.code)}. {score.missing_rule}")
    return Field(score.code, score_label(score.code), "score", score.code,
                 minimum=score.minimum, maximum=score.maximum, unit=score.unit, note=note,
                 section=section, group=_("Scores"), instrument=instrument.code,
                 score=score.code)


def instrument_form(instrument: Instrument) -> Form:
    """One instrument: its items (when it is answered on a form of its own), its scores."""
    fields: list[Field] = []
    group = None
    if instrument.entry:
        for item in instrument.items:
            section = section_label(instrument.code, item.group) if item.group != group else ""
            group = item.group
            fields.append(item_field(instrument, item, section))
    sources = [scoring.INSTRUMENTS[code].short_name for code in instrument.derived_from]
    section = words(SCORES_SECTION)
    if not instrument.entry and sources:
        codes = ", ".join(instrument.item_codes)
        section = _("%(section)s; scored from the %(sources)s answers (items %(items)s)",
                    section=section, sources=", ".join(sources), items=codes)
    for index, score in enumerate(instrument.scores):
        fields.append(score_field(instrument, score, section if index == 0 else ""))
    recall = f"Recall period: {instrument.recall_period}. " if instrument.recall_period else ""
    return Form(safe_name(instrument.code), instrument.short_name, "visit", tuple(fields),
                instrument=instrument.code,
                note=f"{recall}{instrument.description} Version {instrument.version}.")


def all_forms(specs: Sequence[ColumnSpec]) -> list[Form]:
    """Registry forms, then one form per instrument in catalogue order; names checked."""
    forms = registry_forms(specs) + [instrument_form(i) for i in scoring.INSTRUMENTS.values()]
    check_names(forms)
    return forms


def check_names(forms: Sequence[Form]) -> None:
    """ValueError unless every form and field name is valid and unique."""
    names = [f.name for form in forms for f in form.fields]
    bad = [name for name in names + [form.name for form in forms]
           if not NAME_PATTERN.fullmatch(name)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if bad or duplicates:
        raise ValueError(f"invalid field names {bad}, duplicates {duplicates}")


def answer_list_key(choices: Choices) -> str:
    """A stable key for an answer list, from its labels ("none_mild_moderate_…"): items
    that share their options share one code list (ODM) and one code system (FHIR)."""
    return safe_name("_".join(label for _code, label in choices))

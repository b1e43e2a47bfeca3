"""CDISC ODM 1.3.2: the study's metadata, and the file that carries a de-identified export.

The metadata (``Study`` → ``MetaDataVersion``) comes from the export's forms
(``fields.all_forms``: the registry's forms from the export's column specs, one form per
instrument of the catalogue) and the protocol's timepoints:

- ``Protocol`` and ``StudyEventDef``: ``SE.REGISTRY`` (Common: patient, index knee,
  treatment, adverse events), one Scheduled event per timepoint (``SE.TP.<code>``) and
  ``SE.UNSCHEDULED`` (repeating), each with the visit form and every instrument's form;
- ``FormDef`` → ``ItemGroupDef`` (an instrument's item groups, e.g. the KOOS subscales,
  then its scores; adverse events repeat) → ``ItemDef`` (data type, question = the short
  label, measurement unit, range checks, an ``Alias`` with the export's column name) →
  ``CodeList`` (answer options and vocabularies; items with the same answers share one).

``odmdata`` streams the ``ClinicalData``; ``write_odm`` puts both in one file with the
export's manifest in a closing comment (the manifest and audit row are the export's own).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import registry
from registry.interop.fields import (
    RECORD_ID,
    Choices,
    Field,
    Form,
    all_forms,
    answer_list_key,
    safe_name,
)
from registry.interop.fields import number as bound
from registry.interop.xmltext import attr, text
from registry.research.dataset import TimepointInfo
from registry.research.dictionary import ColumnSpec
from registry.research.writers import BinarySink, HashingWriter

ODM_NAMESPACE = "http://www.cdisc.org/ns/odm/v1.3"
STUDY_OID = "ST.KOA_REGISTRY"
MDV_OID = "MDV.1"
REGISTRY_EVENT = "SE.REGISTRY"
UNSCHEDULED_EVENT = "SE.UNSCHEDULED"
DATA_TYPES = {"text": "text", "integer": "integer", "number": "float", "yesno": "integer",
              "slider": "integer", "score": "float"}


def event_oid(code: str) -> str:
    return f"SE.TP.{code}"


def form_oid(form: Form) -> str:
    return f"F.{form.name.upper()}"


def group_oid(form: Form, group: str) -> str:
    if not form.instrument:
        return f"IG.{form.name.upper()}"
    return f"IG.{form.name.upper()}.{safe_name(group).upper()}"


def item_oid(item: Field) -> str:
    return f"IT.{item.name.upper()}"


def unit_oid(unit: str) -> str:
    return f"MU.{safe_name(unit).upper()}"


def odm_forms(specs: Sequence[ColumnSpec]) -> list[Form]:
    """The export's forms; the record id is the ``SubjectKey`` in ODM, not an item."""
    return [Form(form.name, form.label, form.level,
                 tuple(f for f in form.fields if f.name != RECORD_ID),
                 form.instrument, form.note) for form in all_forms(specs)]


def is_integer_code(code: str) -> bool:
    return code.lstrip("-").isdigit()


class CodeLists:
    """The code lists of the forms: one per distinct answer list, named after its labels."""

    def __init__(self, forms: Iterable[Form]) -> None:
        self.by_choices: dict[Choices, str] = {}
        for form in forms:
            for item in form.fields:
                if item.choices and item.choices not in self.by_choices:
                    oid = f"CL.{answer_list_key(item.choices).upper()}"
                    while oid in self.by_choices.values():
                        oid += "_"
                    self.by_choices[item.choices] = oid

    def oid(self, item: Field) -> str:
        return self.by_choices[item.choices]

    def xml(self) -> Iterable[str]:
        for choices, oid in self.by_choices.items():
            kind = "integer" if all(is_integer_code(code) for code, _ in choices) else "text"
            yield f'<CodeList OID="{attr(oid)}" Name="{attr(oid[3:].lower())}" DataType="{kind}">'
            for code, label in choices:
                yield (f'<CodeListItem CodedValue="{attr(code)}"><Decode>'
                       f'<TranslatedText xml:lang="en">{text(label)}</TranslatedText>'
                       "</Decode></CodeListItem>")
            yield "</CodeList>"


def data_type(item: Field) -> str:
    if item.choices:
        return "integer" if all(is_integer_code(code) for code, _ in item.choices) else "text"
    return DATA_TYPES[item.kind]


def translated(tag: str, value: str) -> str:
    return f'<{tag}><TranslatedText xml:lang="en">{text(value)}</TranslatedText></{tag}>'


def item_def(item: Field, codelists: CodeLists) -> str:
    """An ``ItemDef``: type, description, question, unit, range checks, code list, alias."""
    parts = [f'<ItemDef OID="{item_oid(item)}" Name="{attr(item.name)}" '
             f'DataType="{data_type(item)}">']
    if item.note:
        parts.append(translated("Description", item.note))
    parts.append(translated("Question", item.label))
    if item.unit:
        parts.append(f'<MeasurementUnitRef MeasurementUnitOID="{attr(unit_oid(item.unit))}"/>')
    if not item.choices and item.kind != "yesno":
        for comparator, limit in (("GE", item.minimum), ("LE", item.maximum)):
            if limit is not None:
                parts.append(f'<RangeCheck Comparator="{comparator}" SoftHard="Hard">'
                             f"<CheckValue>{bound(limit)}</CheckValue></RangeCheck>")
    if item.choices:
        parts.append(f'<CodeListRef CodeListOID="{attr(codelists.oid(item))}"/>')
    context = "registry export score code" if item.score else "registry export column"
    parts.append(f'<Alias Context="{context}" Name="{attr(item.column)}"/>')
    parts.append("</ItemDef>")
    return "".join(parts)


def visit_forms(forms: Sequence[Form]) -> list[Form]:
    return [form for form in forms if form.level == "visit"]


def event_defs(forms: Sequence[Form], timepoints: Sequence[TimepointInfo]) -> Iterable[str]:
    """``StudyEventDef``s: the registry event, one per timepoint, the unscheduled one."""
    registry_forms = [form for form in forms if form.level != "visit"]
    at_visits = visit_forms(forms)

    def refs(chosen: Sequence[Form]) -> str:
        return "".join(f'<FormRef FormOID="{form_oid(form)}" Mandatory="No" '
                       f'OrderNumber="{n}"/>' for n, form in enumerate(chosen, start=1))

    yield (f'<StudyEventDef OID="{REGISTRY_EVENT}" Name="Enrolment, treatment and adverse '
           f'events" Repeating="No" Type="Common">'
           f'{translated("Description", "Once per patient; day 0 is the treatment date.")}'
           f"{refs(registry_forms)}</StudyEventDef>")
    for tp in timepoints:
        note = f"Target: day {tp.target_day} after treatment" + (" (baseline)"
                                                                 if tp.is_baseline else "")
        yield (f'<StudyEventDef OID="{attr(event_oid(tp.code))}" Name="{attr(tp.name)}" '
               f'Repeating="No" Type="Scheduled">{translated("Description", note)}'
               f"{refs(at_visits)}</StudyEventDef>")
    yield (f'<StudyEventDef OID="{UNSCHEDULED_EVENT}" Name="Unscheduled visit" '
           f'Repeating="Yes" Type="Unscheduled">'
           f'{translated("Description", "A visit outside the protocol timepoints.")}'
           f"{refs(at_visits)}</StudyEventDef>")


def form_defs(forms: Sequence[Form]) -> Iterable[str]:
    for form in forms:
        groups = "".join(f'<ItemGroupRef ItemGroupOID="{attr(group_oid(form, group))}" '
                         f'Mandatory="No" OrderNumber="{n}"/>'
                         for n, group in enumerate(form.groups, start=1))
        note = translated("Description", form.note) if form.note else ""
        yield (f'<FormDef OID="{form_oid(form)}" Name="{attr(form.label)}" Repeating="No">'
               f"{note}{groups}</FormDef>")


def group_defs(forms: Sequence[Form]) -> Iterable[str]:
    for form in forms:
        for group in form.groups:
            members = [f for f in form.fields if (f.group or form.label) == group]
            repeating = "Yes" if form.level == "event" else "No"
            refs = "".join(f'<ItemRef ItemOID="{item_oid(f)}" Mandatory="No" '
                           f'OrderNumber="{n}"/>' for n, f in enumerate(members, start=1))
            name = group if form.instrument else form.label
            yield (f'<ItemGroupDef OID="{attr(group_oid(form, group))}" '
                   f'Name="{attr(f"{form.label}: {name}" if form.instrument else name)}" '
                   f'Repeating="{repeating}">{refs}</ItemGroupDef>')


def metadata(forms: Sequence[Form], timepoints: Sequence[TimepointInfo], *,
             study_description: str, protocol_name: str, versions: str) -> str:
    """``<Study>`` with its ``GlobalVariables``, units and ``MetaDataVersion``."""
    codelists = CodeLists(forms)
    units = sorted({f.unit for form in forms for f in form.fields if f.unit})
    events = [REGISTRY_EVENT, *(event_oid(tp.code) for tp in timepoints), UNSCHEDULED_EVENT]
    parts = [
        f'<Study OID="{STUDY_OID}"><GlobalVariables>',
        "<StudyName>KOA outcomes registry</StudyName>",
        f"<StudyDescription>{text(study_description)}</StudyDescription>",
        f"<ProtocolName>{text(protocol_name)}</ProtocolName></GlobalVariables>",
        "<BasicDefinitions>",
        *(f'<MeasurementUnit OID="{attr(unit_oid(unit))}" Name="{attr(unit)}">'
          f'<Symbol><TranslatedText xml:lang="en">{text(unit)}</TranslatedText></Symbol>'
          "</MeasurementUnit>" for unit in units),
        "</BasicDefinitions>",
        f'<MetaDataVersion OID="{MDV_OID}" Name="Registry forms and instrument catalogue" '
        f'Description="{attr(versions)}">',
        "<Protocol>",
        translated("Description", "Days since treatment (day 0) replace every date."),
        *(f'<StudyEventRef StudyEventOID="{attr(oid)}" Mandatory="No" OrderNumber="{n}"/>'
          for n, oid in enumerate(events, start=1)),
        "</Protocol>",
        *event_defs(forms, timepoints),
        *form_defs(forms),
        *group_defs(forms),
        *(item_def(item, codelists) for form in forms for item in form.fields),
        *codelists.xml(),
        "</MetaDataVersion></Study>",
    ]
    return "".join(parts)


def header(description: str) -> str:
    """The XML declaration and the ``ODM`` start tag of a snapshot made now."""
    now = datetime.now(UTC).replace(microsecond=0)
    file_oid = f"KOA.EXPORT.{now.strftime('%Y%m%dT%H%M%SZ')}"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ODM xmlns="{ODM_NAMESPACE}" ODMVersion="1.3.2" FileType="Snapshot" '
            f'Granularity="All" FileOID="{file_oid}" CreationDateTime="{now.isoformat()}" '
            f'Originator="KOA outcomes registry" SourceSystem="KOA outcomes registry" '
            f'SourceSystemVersion="{attr(registry.__version__)}" '
            f'Description="{attr(description)}">\n')


def manifest_comment(manifest: dict[str, Any]) -> str:
    """The manifest as a closing XML comment ("--" never appears inside: JSON-escaped)."""
    body = json.dumps(manifest, ensure_ascii=False, indent=1, default=str)
    return "\n<!-- manifest\n" + body.replace("--", "-\\u002d") + "\n-->\n"


def write_odm(target: Path, *, forms: Sequence[Form], timepoints: Sequence[TimepointInfo],
              study_description: str, protocol_name: str, versions: str,
              clinical: Callable[[BinarySink], dict[str, int]],
              manifest: Callable[[dict[str, int]], dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Write the ODM file: header, metadata, ``clinical(sink)`` (returns its counts), the
    manifest (``manifest(counts)``, made once the data are written) as a comment.  Returns
    the manifest and the file's SHA-256, taken as it is written (never re-read)."""
    description = ("De-identified export: pseudonymous SubjectKeys, days since treatment "
                   "instead of dates; " + study_description)
    with target.open("wb", buffering=1 << 20) as file:
        sink = HashingWriter(file)
        sink.write(header(description).encode())
        sink.write(metadata(forms, timepoints, study_description=study_description,
                            protocol_name=protocol_name, versions=versions).encode())
        sink.write(f'\n<ClinicalData StudyOID="{STUDY_OID}" MetaDataVersionOID="{MDV_OID}">\n'
                   .encode())
        counts = clinical(sink)
        sink.write(b"</ClinicalData>\n</ODM>")
        facts = manifest(counts)
        sink.write(manifest_comment(facts).encode())
    return facts, sink.digest.hexdigest()

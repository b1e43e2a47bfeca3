"""REDCap's data dictionary: the registry's forms as the 18-column CSV REDCap uploads.

One row per field, forms in order: the registry's own (patient with ``record_id`` first,
index knee, treatment, visit, adverse event), then one form per instrument of the catalogue
(``fields.all_forms``).  Choice items are radio buttons ("0, None | 1, Mild | …", the
catalogue's codes and short labels), consecutive items of a group with the same answers
form a matrix; a 0–100 mm line is a slider that shows its number; a whole-number rating
(NRS 0–10) and every score are text fields with validation and min/max; scores are marked
``@READONLY`` (the registry computes them; REDCap should not).  Registry fields follow the
export's column specs: coded columns are dropdowns, booleans yes/no (0/1).

Names follow REDCap's rules (lower-case letters, digits, ``_``, a letter first, unique);
all are at most 26 characters, REDCap's recommendation (checked by the tests).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import IO

from registry.interop.fields import Field, Form, all_forms, number, safe_name
from registry.research.dictionary import ColumnSpec

HEADER = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min",
    "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)",
    "Matrix Group Name", "Matrix Ranking?", "Field Annotation",
]
VALIDATION = {"integer": "integer", "number": "number", "score": "number"}
READ_ONLY = "@READONLY"


def field_type(form: Form, item: Field) -> str:
    """REDCap's field type: instrument answers as radio buttons, registry codes as a
    dropdown, booleans yes/no, a 0–100 line as a slider, anything else a text box."""
    if item.kind == "choice":
        return "radio" if form.instrument else "dropdown"
    return {"yesno": "yesno", "slider": "slider"}.get(item.kind, "text")


def choices_text(item: Field) -> str:
    """"code, label | code, label …"; a slider's labels "left | | right"."""
    if item.kind == "choice":
        return " | ".join(f"{code}, {label}" for code, label in item.choices)
    if item.kind == "slider" and item.anchors:
        return f"{item.anchors[0]} | | {item.anchors[1]}"
    return ""


def matrix_groups(form: Form) -> dict[str, str]:
    """Field name -> matrix group for runs of two or more consecutive choice items of one
    group with the same answers (REDCap shows them as one grid)."""
    runs: list[list[Field]] = []
    for item in form.fields:
        last = runs[-1][-1] if runs else None
        if (item.kind == "choice" and item.instrument and last is not None
                and last.kind == "choice" and last.group == item.group
                and last.choices == item.choices and not item.section):
            runs[-1].append(item)
        else:
            runs.append([item])
    groups: dict[str, str] = {}
    used: dict[str, int] = {}
    for run in runs:
        if len(run) < 2 or run[0].kind != "choice" or not run[0].instrument:
            continue
        base = safe_name(f"{form.name}_{run[0].group}")
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base}_{used[base]}"
        groups.update({item.name: name for item in run})
    return groups


def rows(forms: Sequence[Form]) -> Iterator[list[str]]:
    """The dictionary's rows (after the header)."""
    for form in forms:
        matrices = matrix_groups(form)
        for index, item in enumerate(form.fields):
            section = item.section
            if index == 0 and form.note:
                section = f"{form.label}: {form.note}" + (f" — {section}" if section else "")
            kind = field_type(form, item)
            numeric = item.kind in VALIDATION
            yield [
                item.name, form.name, section, kind, item.label, choices_text(item),
                item.note,
                VALIDATION.get(item.kind, "number" if kind == "slider" else ""),
                number(item.minimum) if numeric else "",
                number(item.maximum) if numeric else "",
                "", "", "", "", "", matrices.get(item.name, ""), "",
                READ_ONLY if item.kind == "score" else "",
            ]


def write(specs: Sequence[ColumnSpec], sink: IO[bytes]) -> int:
    """Write the REDCap data dictionary (UTF-8, no BOM: the header is REDCap's exactly);
    the number of fields."""
    forms = all_forms(specs)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for row in rows(forms):
        writer.writerow(row)
        count += 1
    sink.write(text.getvalue().encode("utf-8"))
    return count

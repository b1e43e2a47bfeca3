"""The data dictionary: one described column per exported column, built with the tables.

Score and item columns are described from ``scoring.SCORES`` / ``scoring.INSTRUMENTS``
(label, unit, range, direction, kind, missing rule, instrument, citation), threshold flags
from the export's chosen ``scoring.ThresholdSet`` (each threshold's citation and note),
coded columns from ``registry.vocabularies``; nothing here lists scores or instruments by
hand, and nothing is cached, so an instrument added to the catalogue is described at once.
Variable names valid in Stata, SPSS and SAS (at most 32 characters) and Stata's labels (at
most 80 characters) are derived here too.

Labels and descriptions are written in the language in force (``registry.research.language``:
an export in Spanish builds its specs inside ``in_language("es")``); names, codes, types,
ranges and ``source`` (where a value comes from: tables, functions, citations) stay as
they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import pandas as pd
from flask_babel import gettext as _

import scoring
from registry.research.language import anchor_labels, item_label, option_label, words
from registry.research.missing import SCORE_REASONS
from registry.vocabularies import COLLECTION_MODES, N_
from scoring import FLAG_KINDS, Threshold, ThresholdKind
from scoring.change import find_threshold

STATA_NAME_MAX = 32
# Our names stop 4 characters short: pyreadstat names a Stata value-label set after its
# variable plus a running number, and that name must fit Stata's 32 characters too.
NAME_MAX = STATA_NAME_MAX - 4
STATA_LABEL_MAX = 80
FLAG_NAMES: dict[str, str] = {  # translated where used (``words``)
    "mcii": N_("minimal clinically important improvement reached"),
    "mic": N_("minimal important change reached"),
    "pass": N_("patient acceptable symptom state reached"),
}
ITEM_MISSING = N_("empty when the item was not answered")


@dataclass(frozen=True)
class ColumnSpec:
    """What a researcher needs to know about one column of one table."""

    table: str
    column: str
    label: str
    type: str  # string, integer, number, boolean, category
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    direction: str = ""
    kind: str = ""  # item kind (choice, line, rating) or what a score column holds
    missing_rule: str = ""  # when the cell is empty
    instrument: str = ""
    source: str = ""
    values: str = ""  # coded values: "code = label; …"
    stata_name: str = ""  # the variable's name in Stata, SPSS and SAS files and syntax
    spss_name: str = ""  # (one name valid in all three: ``stata_names``)
    sas_name: str = ""
    # Coded text as numbers in the Stata, SPSS and SAS files: "1 = female (Female); …".
    numeric_codes: str = ""
    # Coded values as (code, label) pairs, for value labels in Stata / SPSS / SAS and the
    # syntax files (``values`` is the same as text for the dictionary).
    codes: tuple[tuple[Any, str], ...] = ()
    # The companion column holding why this column's value is missing
    # (``registry.research.missing.SCORE_REASONS`` codes); "" when it has none.
    reason_column: str = ""

    def __post_init__(self) -> None:
        """Booleans are coded 0 = No, 1 = Yes; ``values`` is ``codes`` as text."""
        if self.type == "boolean" and not self.codes:
            object.__setattr__(self, "codes", boolean_codes())
        if self.codes and not self.values:
            object.__setattr__(self, "values", coded(dict(self.codes)))


# A boolean column's codes: 0/1 in CSV, Stata, SPSS and SAS; false/true in Parquet and
# Excel (see ``ENCODINGS``).
BOOLEAN_CODES: tuple[tuple[Any, str], ...] = ((0, N_("No")), (1, N_("Yes")))


def boolean_codes() -> tuple[tuple[Any, str], ...]:
    """``BOOLEAN_CODES`` with their labels in the language in force."""
    return tuple((code, words(label)) for code, label in BOOLEAN_CODES)


def coded(vocabulary: Mapping[Any, str]) -> str:
    return "; ".join(f"{code} = {label}" for code, label in vocabulary.items())


def vocab(vocabulary: Mapping[Any, str]) -> dict[str, Any]:
    """A coded column's ``values`` (text) and ``codes`` (pairs), to pass to ColumnSpec;
    the labels (``N_``-marked vocabulary labels) in the language in force."""
    translated = {code: words(str(label)) for code, label in vocabulary.items()}
    return {"values": coded(translated), "codes": tuple(translated.items())}


def at_timepoint(label: str, timepoint: str | None) -> str:
    """``label`` of a value at ``timepoint`` ("KOOS Pain at 3 months"); ``label`` alone
    without one."""
    if not timepoint:
        return label
    return _("%(label)s at %(timepoint)s", label=label, timepoint=timepoint)


def timepoint_mark() -> str:
    """What ``at_timepoint`` puts between a label and its timepoint (" at " in English):
    ``stata_label`` keeps what follows it when it shortens a label."""
    sample = _("%(label)s at %(timepoint)s", label="\0", timepoint="\1")
    start, end = sample.find("\0"), sample.find("\1")
    return sample[start + 1:end] if 0 <= start < end else " at "


def score_label(score_code: str) -> str:
    """A score's label in the language in force."""
    return words(scoring.SCORES[score_code].label)


def direction_of(score_code: str) -> str:
    return _("higher is better") if scoring.SCORES[score_code].higher_is_better \
        else _("higher is worse")


def score_spec(table: str, column: str, score_code: str, timepoint: str | None,
               kind: str = "value", thresholds: scoring.ThresholdSet | None = None,
               reason_column: str = "") -> ColumnSpec:
    """A score value, its baseline, change, or a threshold flag (``kind``), from
    ``scoring.SCORES``; flags cite the chosen ``thresholds`` set; ``reason_column``: the
    column saying why a cell is empty."""
    spec = _score_spec(table, column, score_code, timepoint, kind, thresholds)
    return replace(spec, reason_column=reason_column) if reason_column else spec


def _score_spec(table: str, column: str, score_code: str, timepoint: str | None,
                kind: str, thresholds: scoring.ThresholdSet | None) -> ColumnSpec:
    score = scoring.SCORES[score_code]
    instrument = scoring.INSTRUMENTS[score.instrument]
    label = at_timepoint(score_label(score_code), timepoint)
    unit = words(score.unit)
    derived_missing = _("empty when the score or its baseline is missing; score: %(rule)s",
                        rule=score.missing_rule)
    if kind == "value":
        return ColumnSpec(table, column, label, "number", unit=unit,
                          minimum=score.minimum, maximum=score.maximum,
                          direction=direction_of(score_code), kind="score",
                          missing_rule=score.missing_rule, instrument=instrument.name,
                          source=f"score_value {score_code} ({instrument.version}); "
                                 f"{score.citation}")
    if kind == "baseline":
        return ColumnSpec(table, column, at_timepoint(score_label(score_code), _("baseline")),
                          "number", unit=unit, minimum=score.minimum, maximum=score.maximum,
                          direction=direction_of(score_code), kind="score at baseline",
                          missing_rule=score.missing_rule, instrument=instrument.name,
                          source=f"score_value {score_code} at the baseline visit")
    span = score.maximum - score.minimum
    if kind == "change":
        return ColumnSpec(table, column, _("%(label)s: change from baseline", label=label),
                          "number", unit=unit, minimum=-span, maximum=span,
                          direction=_("follow-up minus baseline; %(direction)s",
                                      direction=direction_of(score_code)),
                          kind="change from baseline", missing_rule=derived_missing,
                          instrument=instrument.name, source="scoring.change_frame: absolute")
    if kind == "relative":
        return ColumnSpec(table, column, _("%(label)s: relative change", label=label),
                          "number", unit=_("fraction of baseline"),
                          direction=_("change / baseline; empty when baseline is 0"),
                          kind="relative change", missing_rule=derived_missing,
                          instrument=instrument.name, source="scoring.change_frame: relative")
    if kind == "improvement":
        return ColumnSpec(table, column, _("%(label)s: improvement", label=label), "number",
                          unit=unit, minimum=-span, maximum=span,
                          direction=_("positive = better (direction-aware change)"),
                          kind="improvement", missing_rule=derived_missing,
                          instrument=instrument.name,
                          source="scoring.change_frame: improvement")
    flag = flag_kind(kind)
    chosen = thresholds or scoring.threshold_set(scoring.DEFAULT_THRESHOLD_SET)
    return ColumnSpec(table, column, _("%(label)s: %(flag)s", label=label,
                                       flag=words(FLAG_NAMES[flag])), "boolean",
                      kind=f"{flag} flag",
                      missing_rule=_("%(rule)s; empty without a threshold", rule=derived_missing),
                      instrument=instrument.name,
                      source=f"scoring.change_frame: {flag}; "
                             f"{threshold_text(chosen, score_code, flag)}")


def flag_kind(kind: str) -> ThresholdKind:
    """``kind`` as one of scoring's flag kinds (ValueError for anything else)."""
    for flag in FLAG_KINDS:
        if flag == kind:
            return flag
    raise ValueError(f"unknown score column kind {kind!r}")


def threshold_text(chosen: scoring.ThresholdSet, score_code: str, kind: ThresholdKind) -> str:
    """The threshold a flag uses, with the set, citation and note (or that there is none)."""
    threshold = find_threshold(chosen.thresholds, score_code, kind)
    named = f"threshold set {chosen.code} ({chosen.label}, version {chosen.version})"
    if threshold is None:
        return f"{named}: no threshold for this score, always empty"
    score = scoring.SCORES[score_code]
    if kind == "pass":
        rule = f"follow-up score at {'least' if score.higher_is_better else 'most'}"
    else:
        rule = "improvement of at least"
    relative = (f" or {threshold.relative_percent} % of baseline"
                if threshold.relative_percent is not None else "")
    note = f"; {threshold.note}" if threshold.note else ""
    return (f"{named}: {rule} {threshold.absolute} {score.unit}{relative}; "
            f"{threshold.citation.rstrip('.')}{note}")


def flag_kinds(score_code: str, thresholds: Sequence[Threshold]) -> list[str]:
    """The threshold flags that exist for a score under the chosen set (MCII, MIC, PASS)."""
    return [kind for kind in FLAG_KINDS
            if find_threshold(thresholds, score_code, kind) is not None]


def item_spec(table: str, column: str, instrument_code: str, item_code: str,
              timepoint: str | None = None) -> ColumnSpec:
    """An item's answer column, from ``scoring.INSTRUMENTS`` (codes, range, kind, anchors);
    short labels and answer labels in the language in force (``language``)."""
    instrument = scoring.INSTRUMENTS[instrument_code]
    item = instrument.item(item_code)
    label = item_label(instrument.code, item.code, item.label)
    source = f"instrument_response.answers {item.code} ({instrument.version})"
    common: dict[str, Any] = {"instrument": instrument.name, "kind": item.kind,
                              "missing_rule": words(ITEM_MISSING), "source": source}
    if item.options:
        return ColumnSpec(table, column,
                          at_timepoint(f"{instrument.short_name} {item.code} {label}",
                                       timepoint),
                          "integer", minimum=item.minimum, maximum=item.maximum,
                          **vocab({option.code: option_label(instrument.code, item.code,
                                                             option.code, option.label)
                                   for option in item.options}),
                          **common)
    anchors = anchor_labels(instrument.code, item.code, tuple(item.anchors))
    direction = (f"{item.minimum} = {anchors[0]}; {item.maximum} = {anchors[1]}"
                 if anchors else "")
    return ColumnSpec(table, column, at_timepoint(f"{instrument.short_name} {label}", timepoint),
                      "integer", unit=words(item.unit), minimum=item.minimum,
                      maximum=item.maximum, direction=direction, **common)


def mode_spec(table: str, column: str, timepoint: str | None = None) -> ColumnSpec:
    """The visit's mode of collection (who answered, how), coded by
    ``registry.vocabularies.COLLECTION_MODES``."""
    return ColumnSpec(table, column,
                      at_timepoint(_("Mode of collection of the answers"), timepoint),
                      "category", kind="mode of administration",
                      missing_rule=_("empty when not recorded (visits recorded before modes "
                                     "were recorded)") if not timepoint else
                      _("empty when not recorded (visits recorded before modes were "
                        "recorded), or without a visit"),
                      source="visit.collection_mode", **vocab(COLLECTION_MODES))


def reason_spec(table: str, column: str, of: str, change: bool = False) -> ColumnSpec:
    """A reason column: why ``of`` (and, with ``change``, its change from baseline) is
    empty, coded by ``missing.SCORE_REASONS``."""
    label = (_("Why %(column)s or its change from baseline is missing", column=of) if change
             else _("Why %(column)s is missing", column=of))
    return ColumnSpec(table, column, label, "category",
                      kind="missing-value reason",
                      missing_rule=_("empty where no change is computed (baseline rows)")
                      if of == "change" else "",
                      source="registry.research.missing: score stored, visit status at "
                             "export (registry.followup.status)",
                      **vocab({reason.code: reason.label for reason in SCORE_REASONS}))


# How each format writes booleans, missing values and text (the manifest's "encodings").
ENCODINGS: dict[str, dict[str, str]] = {
    "csv": {"booleans": "0 = false, 1 = true",
            "missing": "empty cell; why: the companion reason column (missing.SCORE_REASONS)",
            "coded": "the code as text (value labels in the data dictionary)",
            "text": "UTF-8 with a byte-order mark (Excel reads it as UTF-8); text that a "
                    "spreadsheet would run as a formula starts with '"},
    "parquet": {"booleans": "boolean (true / false)",
                "missing": "null; why: the companion reason column",
                "coded": "dictionary-encoded text (the codes)",
                "text": "UTF-8, exactly as entered"},
    "xlsx": {"booleans": "TRUE / FALSE (Excel booleans)",
             "missing": "empty cell; why: the companion reason column",
             "coded": "the code as text",
             "text": "as entered; text that Excel would run as a formula starts with '"},
    "dta": {"booleans": "0 / 1 with value labels No / Yes",
            "missing": "extended missing values .a, .b, … labelled with the reason "
                       "(missing.SCORE_REASONS); plain . where no reason applies",
            "coded": "numeric codes with value labels",
            "text": "UTF-8 (format 118)"},
    "sav": {"booleans": "0 / 1 with value labels No / Yes",
            "missing": "user-missing codes -901 … -907 (range -999 to -901) labelled with the "
                       "reason; system-missing where no reason applies",
            "coded": "numeric codes with value labels",
            "text": "UTF-8"},
    "xpt": {"booleans": "0 / 1",
            "missing": "plain missing (.); the SAS program sets .A, .B, … from the reason "
                       "columns and applies the formats",
            "coded": "numeric codes of length 3 (exact for whole numbers up to 65,535 and "
                     "every missing value); formats in the SAS program",
            "numbers": "IBM floating point of length 8",
            "text": "ASCII / Latin-1 as XPORT allows (see the SAS program)"},
}


# Words Stata, SPSS or SAS keep for themselves (compared case-insensitively).
RESERVED_NAMES = frozenset({
    "all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with",  # SPSS
    "byte", "double", "float", "if", "in", "int", "long", "using", "strl",  # Stata
})


def stata_names(columns: Iterable[str]) -> dict[str, str]:
    """A variable name per column that Stata, SPSS and SAS all accept: a letter first, then
    letters, digits and _, at most ``NAME_MAX`` characters, no reserved word, unique even
    when case is ignored (SPSS and SAS ignore it).  One name for the three, so the dictionary, the
    files and the syntax files agree."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        base = re.sub(r"[^A-Za-z0-9_]", "_", column)
        if not base[:1].isalpha():
            base = f"v_{base}"
        if base.lower() in RESERVED_NAMES or re.fullmatch(r"str\d+", base.lower()):
            base = f"{base}_"
        name = base[:NAME_MAX]
        number = 1
        while name.lower() in used:
            suffix = f"_{number}"
            name = base[:NAME_MAX - len(suffix)] + suffix
            number += 1
        used.add(name.lower())
        names[column] = name
    return names


def stata_label(label: str, limit: int = STATA_LABEL_MAX) -> str:
    """``label`` in at most ``limit`` characters (Stata: 80), UTF-8 kept (format 118).

    A long label loses the middle of its first part, never its end: " at 3 months" and
    what follows it (": change from baseline") stay, and so does the start, which names
    the instrument and item ("KOOS P1 …"), so labels that differ stay different."""
    text = " ".join(label.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(timepoint_mark())
    tail = text[cut:] if cut > 0 and len(text) - cut <= limit // 2 else ""
    head = text[:len(text) - len(tail)]
    room = limit - len(tail) - 1  # one character for the ellipsis
    if not tail:  # no timepoint: keep the start and the last few words
        keep_end = room // 3
        return head[:room - keep_end].rstrip() + "…" + head[len(head) - keep_end:].lstrip()
    return head[:room].rstrip() + "…" + tail


DICTIONARY_COLUMNS = [spec_field.name for spec_field in fields(ColumnSpec)
                      if spec_field.name != "codes"]  # "values" holds them as text


def dictionary_frame(specs: Iterable[ColumnSpec]) -> pd.DataFrame:
    """One row per described column."""
    return pd.DataFrame([asdict(spec) for spec in specs], columns=DICTIONARY_COLUMNS)

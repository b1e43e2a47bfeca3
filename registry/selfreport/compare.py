"""The review page's table: the patient's answers and scores next to the staff's."""

from __future__ import annotations

from dataclasses import dataclass

import scoring
from registry.models import SelfReport, Visit
from registry.scores import compute_scores
from registry.selfreport.service import draft_answers


@dataclass(frozen=True)
class Row:
    instrument: str
    label: str
    staff: str
    patient: str
    differs: bool
    is_score: bool = False


def _answer(item: scoring.Item, value: object) -> str:
    if value is None:
        return "—"
    for option in item.options:
        if option.code == value:
            return f"{value} ({option.label})"
    return f"{value} {item.unit}".rstrip()


def comparison(visit: Visit, report: SelfReport) -> list[Row]:
    """Item by item, then score by score, for each instrument the patient answered."""
    staff = {response.instrument: response for response in visit.responses}
    patient_answers = draft_answers(report)
    skipped = set(report.skipped or [])
    rows: list[Row] = []
    for code, answers in patient_answers.items():
        instrument = scoring.INSTRUMENTS[code]
        recorded = staff.get(code)
        for item in instrument.items:
            staff_text = _answer(item, recorded.answers.get(item.code)) if recorded else "—"
            mine = _answer(item, answers.get(item.code))
            if f"{code}.{item.code}" in skipped:
                mine = "skipped"
            rows.append(Row(instrument.short_name, item.label, staff_text, mine,
                            differs=staff_text != mine and not (mine == "skipped"
                                                                 and staff_text == "—")))
        stored = {score.score_code: score.value for score in recorded.scores} \
            if recorded else {}
        for score_code, (value, _reason) in compute_scores(code, answers).items():
            definition = scoring.SCORES[score_code]
            staff_value = stored.get(score_code)
            rows.append(Row(instrument.short_name, definition.label,
                            scoring.format_score(staff_value) if score_code in stored
                            else "—",
                            scoring.format_score(value), differs=staff_value != value,
                            is_score=True))
    return rows

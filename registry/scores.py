"""Saving questionnaire answers with the scores ``scoring/`` computes from them.

The only place that writes ``ScoreValue`` rows: the web forms, the demo loader and any
import go through ``save_response`` / ``save_responses``, so stored scores always come
from ``scoring/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

import scoring
from registry.models import InstrumentResponse, ScoreValue, Visit
from registry.services import ValidationFailed

Scores = dict[str, tuple[float | None, str | None]]


class InvalidAnswers(ValidationFailed):
    """An answer outside ``instrument``'s codes; ``errors`` maps item code -> message."""

    def __init__(self, instrument: str, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.instrument = instrument


def compute_scores(instrument: str, answers: Mapping[str, Any]) -> Scores:
    """score code -> (value, reason it could not be computed) for one response: the
    instrument's scores and those of the instruments the catalogue derives from it
    (KOOS answers give KOOS-12 and KOOS JR too)."""
    return dict(scoring.score_with_derived(instrument, answers))


def save_response(session: Session, visit: Visit, instrument: str,
                  answers: Mapping[str, Any]) -> InstrumentResponse:
    """Create or replace the visit's response to ``instrument`` and its scores.

    Raises InvalidAnswers (a ValidationFailed: item code -> message) for an answer
    outside the instrument's codes; nothing is written then.
    """
    return save_responses(session, visit, {instrument: answers})[instrument]


def save_responses(session: Session, visit: Visit,
                   answers: Mapping[str, Mapping[str, Any]]) -> dict[str, InstrumentResponse]:
    """Create or replace the visit's responses (instrument -> answers) and their scores.

    Every instrument is validated and scored before anything is written; then one flush
    writes the responses (one audit batch) and the updated scores, and the new scores
    of all instruments are inserted in one executemany statement (the ORM would insert
    them one row at a time on SQLite, to learn each id).  Raises InvalidAnswers for the
    first instrument with an answer outside its codes; nothing is written then.
    """
    for instrument, items in answers.items():
        errors = scoring.validate_answers(instrument, items)
        if errors:
            raise InvalidAnswers(instrument, errors)
    current = {response.instrument: response for response in visit.responses}
    saved: dict[str, InstrumentResponse] = {}
    to_insert: dict[str, Scores] = {}
    for instrument, items in answers.items():
        definition = scoring.INSTRUMENTS[instrument]
        clean = {item.code: items.get(item.code) for item in definition.items}
        scores = compute_scores(instrument, clean)
        response = current.get(instrument)
        if response is None:
            response = InstrumentResponse(instrument=instrument, answers=clean,
                                          scoring_version=definition.version)
            visit.responses.append(response)
            to_insert[instrument] = scores
        else:
            response.answers = clean
            response.scoring_version = definition.version
            existing = {score.score_code: score for score in response.scores}
            for score_code, (value, reason) in scores.items():
                score = existing.get(score_code)
                if score is not None:
                    score.value, score.reason = value, reason
                else:
                    to_insert.setdefault(instrument, {})[score_code] = (value, reason)
        saved[instrument] = response
    session.flush()  # the responses' ids, for their new scores
    rows = [{"response_id": saved[instrument].id, "visit_id": visit.id,
             "patient_id": visit.patient_id, "score_code": score_code, "value": value,
             "reason": reason}
            for instrument, scores in to_insert.items()
            for score_code, (value, reason) in scores.items()]
    if rows:
        # render_nulls: one statement even when some rows have a null value or reason.
        session.execute(insert(ScoreValue).execution_options(render_nulls=True), rows)
        for instrument in to_insert:
            session.expire(saved[instrument], ["scores"])  # reload with the inserted rows
    return saved

"""Saving questionnaire answers with the scores ``scoring/`` computes from them.

The only place that writes ``ScoreValue`` rows: the web forms, the demo loader and any
import go through ``save_response``, so stored scores always come from ``scoring/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

import scoring
from registry.models import InstrumentResponse, ScoreValue, Visit
from registry.services import ValidationFailed

# Instruments whose answers also yield the scores of another instrument (their items
# are a subset of the KOOS; Gandek 2019, Lyman 2016).
DERIVED_INSTRUMENTS: dict[str, tuple[str, ...]] = {"koos": ("koos12", "koosjr")}


def compute_scores(instrument: str, answers: Mapping[str, Any]) -> dict[str, tuple[float | None,
                                                                               str | None]]:
    """score code -> (value, reason it could not be computed) for one response."""
    results: dict[str, tuple[float | None, str | None]] = {}
    for code in (instrument, *DERIVED_INSTRUMENTS.get(instrument, ())):
        scored = scoring.score_response(code, answers)
        for score_code, value in scored.values.items():
            results[score_code] = (value, scored.reasons.get(score_code))
    return results


def save_response(session: Session, visit: Visit, instrument: str,
                  answers: Mapping[str, Any]) -> InstrumentResponse:
    """Create or replace the visit's response to ``instrument`` and its scores.

    Raises ValidationFailed (item code -> message) for an answer outside the
    instrument's codes; nothing is written then.
    """
    errors = scoring.validate_answers(instrument, answers)
    if errors:
        raise ValidationFailed(errors)
    definition = scoring.INSTRUMENTS[instrument]
    clean = {item.code: answers.get(item.code) for item in definition.items}
    response = next((r for r in visit.responses if r.instrument == instrument), None)
    if response is None:
        response = InstrumentResponse(instrument=instrument, answers=clean,
                                      scoring_version=definition.version)
        visit.responses.append(response)
    else:
        response.answers = clean
        response.scoring_version = definition.version
    session.flush()
    existing = {score.score_code: score for score in response.scores}
    for score_code, (value, reason) in compute_scores(instrument, clean).items():
        score = existing.get(score_code)
        if score is None:
            response.scores.append(ScoreValue(visit_id=visit.id, patient_id=visit.patient_id,
                                              score_code=score_code, value=value, reason=reason))
        else:
            score.value, score.reason = value, reason
    session.flush()
    return response

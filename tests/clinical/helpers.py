"""Form data builders for the clinical tests (what a browser would post)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import scoring
from registry.vocabularies import ELIGIBILITY_CRITERIA


def enrol_data(site_id: int, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "site_id": str(site_id), "family_name": "Nordmann", "given_name": "Kari",
        "medical_record_number": "MRN-4711", "phone": "+47 555 12345",
        "email": "kari@example.org", "preferred_contact": "phone", "sex": "female",
        "birth_date": "1958-03-14", "height_cm": "165", "weight_kg": "72",
        "laterality": "right", "kl_grade": "3", "consent_date": "2026-01-10",
        "outside_indication_justification": "",
    }
    for code, (_label, expected) in ELIGIBILITY_CRITERIA.items():
        data[f"elig_{code}"] = "yes" if expected else "no"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def treatment_data(**overrides: Any) -> dict[str, Any]:
    """The treatment form's values; a cell therapy also needs ``lot_id``."""
    data: dict[str, Any] = {
        "treatment_date": "2026-01-20", "treatment_type": "cell_therapy",
        "cell_dose_million": "25", "injections": "1",
        "co_interventions": ["physiotherapy"], "operator": "Dr Hansen", "notes": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def all_items(instrument: str, value: int | None) -> dict[str, int | None]:
    return {item.code: value for item in scoring.INSTRUMENTS[instrument].items}


def visit_data(visit_date: date | str, answers: Mapping[str, Mapping[str, Any]], *,
               version: int | str | None, reason: str | None = None) -> dict[str, str]:
    """Post data for the visit form: ``answers`` = instrument -> item -> value."""
    data = {"visit_date": str(visit_date), "version": "" if version is None else str(version)}
    if reason is not None:
        data["reason"] = reason
    data.update(answer_fields(answers))
    return data


def answer_fields(answers: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The visit form's answer fields (``<instrument>-<item>``) for ``answers``
    (instrument -> item -> value; None = not answered)."""
    return {f"{instrument}-{item}": "" if value is None else str(value)
            for instrument, items in answers.items() for item, value in items.items()}

"""FHIR R4 resources from the catalogue: Questionnaires, QuestionnaireResponses, Observations.

Plain dictionaries (JSON as FHIR R4 defines it; the tests parse them with ``fhir.resources``):

- ``questionnaire``: an instrument, ``linkId`` = the item's code, ``text`` = its short label
  (never licensed wording), answer options from the catalogue's codes and labels (one code
  system per answer list, ``ordinalValue`` = the stored code), a 100 mm line or a rating as
  an integer with min/max (and the unit), LOINC codes where verified (``loinc``);
- ``response``: one instrument answered at one visit, answers exactly as stored;
- ``observation``: one stored score, coded by LOINC where verified and always by the
  registry's score code system, ``valueQuantity`` with a UCUM unit, ``derivedFrom`` the
  response it was scored from, effective at the visit date.

Canonical URLs are the registry's own: ``<BASE_URL>/fhir/...`` (``canonical_base``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from registry.interop import loinc
from registry.interop.fields import answer_list_key, option_choices
from scoring import Instrument, Item, ScoreDef

Resource = dict[str, Any]
UCUM = "http://unitsofmeasure.org"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
SURVEY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                      "code": "survey", "display": "Survey"}]}
DEFAULT_BASE = "http://127.0.0.1:5000"
# The registry's units -> UCUM (scores in points are dimensionless: "{score}").
UCUM_CODES = {"mm": "mm", "points": "{score}", "points (raw sum)": "{score}",
              "points (interval score)": "{score}"}


def canonical_base(base_url: str | None) -> str:
    """The registry's FHIR namespace: its public address (``BASE_URL``) + ``/fhir``."""
    return (base_url or DEFAULT_BASE).rstrip("/") + "/fhir"


def resource_id(code: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from a catalogue code."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", code)[:64]


def questionnaire_url(instrument: Instrument, base: str) -> str:
    return f"{base}/Questionnaire/{resource_id(instrument.code)}"


def score_system(base: str) -> str:
    return f"{base}/CodeSystem/scores"


def answer_coding(item: Item, code: int, base: str) -> Resource:
    """The coding of one answer box: code = the stored code, display = its short label."""
    option = next(o for o in item.options if o.code == code)
    key = answer_list_key(option_choices(item.options))
    return {"system": f"{base}/CodeSystem/answers-{key.replace('_', '-')}",
            "code": str(option.code), "display": option.label,
            "extension": [{"url": ORDINAL, "valueDecimal": option.code}]}


def question(instrument: Instrument, item: Item, base: str) -> Resource:
    """One Questionnaire item."""
    entry: Resource = {"linkId": item.code, "text": item.label, "required": False}
    verified = loinc.ITEMS.get((instrument.code, item.code))
    if verified is not None:
        entry["code"] = [{"system": loinc.SYSTEM, "code": verified.code}]
    if item.options:
        entry["type"] = "choice"
        entry["answerOption"] = [{"valueCoding": answer_coding(item, option.code, base)}
                                 for option in item.options]
        return entry
    entry["type"] = "integer"
    extensions: list[Resource] = [{"url": MIN_VALUE, "valueInteger": item.minimum},
                                  {"url": MAX_VALUE, "valueInteger": item.maximum}]
    if item.unit in UCUM_CODES:
        extensions.append({"url": UNIT, "valueCoding": {
            "system": UCUM, "code": UCUM_CODES[item.unit], "display": item.unit}})
    entry["extension"] = extensions
    return entry


def questionnaire(instrument: Instrument, base: str) -> Resource:
    """The instrument as a FHIR R4 Questionnaire (short labels only)."""
    resource: Resource = {
        "resourceType": "Questionnaire",
        "id": resource_id(instrument.code),
        "url": questionnaire_url(instrument, base),
        "version": instrument.version,
        "name": re.sub(r"[^A-Z0-9_]", "_", instrument.code.upper()),
        "title": instrument.name,
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "KOA outcomes registry",
        "description": instrument.description or instrument.name,
    }
    if instrument.note:
        resource["copyright"] = instrument.note
    verified = loinc.INSTRUMENTS.get(instrument.code)
    if verified is not None:
        resource["code"] = [{"system": loinc.SYSTEM, "code": verified.code,
                             "display": verified.display}]
    resource["item"] = [question(instrument, item, base) for item in instrument.items]
    return resource


def answer_value(item: Item, value: Any, base: str) -> Resource | None:
    """A stored answer as a QuestionnaireResponse answer (None when not answered)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    number = int(value)
    if any(option.code == number for option in item.options):
        return {"valueCoding": answer_coding(item, number, base)}
    return {"valueInteger": number}  # a rating or a line (or a code no box has)


def response(instrument: Instrument, answers: Mapping[str, Any], *, subject: str,
             authored: date | None, base: str) -> Resource:
    """One instrument answered at one visit: every answered item, as stored."""
    items = []
    for item in instrument.items:
        answer = answer_value(item, answers.get(item.code), base)
        if answer is not None:
            items.append({"linkId": item.code, "text": item.label, "answer": [answer]})
    resource: Resource = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire_url(instrument, base)}|{instrument.version}",
        "status": "completed",
        "subject": {"reference": subject},
        "item": items,
    }
    if authored is not None:
        resource["authored"] = authored.isoformat()
    return resource


def observation(score: ScoreDef, value: float, *, subject: str, derived_from: str | None,
                effective: date | None, base: str) -> Resource:
    """One stored score as an Observation (a survey result)."""
    codings: list[Resource] = []
    verified = loinc.SCORES.get(score.code)
    if verified is not None:
        codings.append({"system": loinc.SYSTEM, "code": verified.code,
                        "display": verified.display})
    codings.append({"system": score_system(base), "code": score.code, "display": score.label})
    quantity: Resource = {"value": value, "unit": score.unit}
    if score.unit in UCUM_CODES:
        quantity |= {"system": UCUM, "code": UCUM_CODES[score.unit]}
    resource: Resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [SURVEY],
        "code": {"coding": codings, "text": score.label},
        "subject": {"reference": subject},
        "valueQuantity": quantity,
    }
    if effective is not None:
        resource["effectiveDateTime"] = effective.isoformat()
    if derived_from is not None:
        resource["derivedFrom"] = [{"reference": derived_from}]
    return resource


def dumps(resource: Resource) -> bytes:
    """JSON as FHIR servers exchange it (UTF-8, keys in the order built)."""
    return (json.dumps(resource, ensure_ascii=False, indent=1) + "\n").encode()

"""Readable words for the audit trail: actions, changed fields and stored values.

The trail stores column names and JSON text (``audit_capture.encode``); a person reads
"KL grade: 2 — minimal → 3 — moderate".  Coded values take their labels from
``registry.vocabularies`` (the one list of codes), questionnaire answers from the scoring
catalogue (item short labels and answer labels: never the licensed question texts).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Any

from flask_babel import gettext

import scoring
from registry import vocabularies as vocab
from registry.i18n import current_language, day, moment
from registry.models import ROLE_LABELS
from registry.vocabularies import N_

REDACTED = "[redacted]"
# A moment as ``audit_capture.encode`` writes it (ISO 8601 with time and offset).
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
# A date as ``audit_capture.encode`` writes it (shown as the reader's locale writes dates).
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

ACTIONS: dict[str, str] = {
    "create": N_("Created"), "update": N_("Changed"), "delete": N_("Deleted"),
    "login": N_("Signed in"), "logout": N_("Signed out"),
    "login_failed": N_("Sign-in failed"),
    "login_refused_inactive": N_("Sign-in refused: account inactive"),
    "login_refused_locked": N_("Sign-in refused: account locked"),
    "account_locked": N_("Account locked"), "account_unlocked": N_("Account unlocked"),
    "password_changed": N_("Password changed"), "export": N_("Export"),
    "audit_export": N_("Audit trail exported"),
    "self_report_kiosk": N_("Self-report opened on the clinic tablet"),
}

# Per record type: column -> label (columns not listed are humanised: "lot_number" ->
# "Lot number").
FIELDS: dict[str, dict[str, str]] = {
    "patient": {"study_id": N_("Study ID"), "birth_date": N_("Birth date"),
                "height_cm": N_("Height (cm)"), "weight_kg": N_("Weight (kg)"),
                "bmi": N_("BMI"), "consent_date": N_("Consent date"),
                "outside_indication_justification": N_("Justification (outside the "
                                                       "usual indication)"),
                "withdrawn_on": N_("Withdrawn on"), "withdrawal_reason": N_(
                    "Withdrawal reason")},
    "patient_identity": {"medical_record_number": N_("Record number"),
                         "email": N_("E-mail"), "email_reminders": N_("E-mail reminders")},
    "index_knee": {"laterality": N_("Index knee"), "kl_grade": N_("KL grade")},
    "treatment": {"cell_dose_million": N_("Cell dose (million)"),
                  "co_interventions": N_("Co-interventions"),
                  "treatment_type": N_("Treatment type"), "lot_id": N_("Product lot"),
                  "lot_justification": N_("Justification for this lot"),
                  "delivery_site": N_("Site of delivery"),
                  "image_guidance": N_("Image guidance"),
                  "volume_ml": N_("Injected volume (mL)"),
                  "injection_interval_days": N_("Interval between injections (days)"),
                  "anaesthesia": N_("Anaesthesia")},
    "cell_product": {"name": N_("Product name"), "origin": N_("Origin"),
                     "tissue_source": N_("Tissue source"), "preparation": N_("Preparation"),
                     "minimally_manipulated": N_("Minimally manipulated"),
                     "regulatory_status": N_("Regulatory status"),
                     "authorisation_reference": N_("Authorisation reference")},
    "product_lot": {"lot_number": N_("Lot or batch number"),
                    "release_status": N_("Release status"),
                    "status_reason": N_("Reason for the status"),
                    "status_date": N_("Date of the release status"),
                    "expiry_date": N_("Expiry date"), "site_id": N_("Site that may use it")},
    "lot_recall_review": {"note": N_("What the review found and decided")},
    "visit": {"visit_date": N_("Visit date"), "out_of_window": N_("Outside the window"),
              "appointment_date": N_("Booked appointment"), "clinician_id": N_("Clinician"),
              "collection_mode": N_("How the answers were collected"),
              "not_applicable_reason": N_("Not applicable because")},
    "adverse_event": {"onset_date": N_("Onset date"), "severity_grade": N_("Severity grade"),
                      "serious_criterion": N_("Serious because"),
                      "action_taken": N_("Action taken"),
                      "resolution_date": N_("Resolution date"),
                      "reviewed_at": N_("Reviewed at")},
    "contact_attempt": {"attempted_on": N_("Attempted on"),
                        "appointment_date": N_("Appointment date")},
    # Administration records: labels as the column names read in English.
    "app_user": {"email": N_("Email"), "full_name": N_("Full name"), "role": N_("Role"),
                 "active": N_("Active"), "failed_logins": N_("Failed logins"),
                 "locked_until": N_("Locked until"),
                 "password_changed_at": N_("Password changed at"),
                 "last_login_at": N_("Last login at"),
                 "must_change_password": N_("Must change password"),
                 "language": N_("Language")},
    "site": {"code": N_("Code"), "name": N_("Name"), "timezone": N_("Timezone"),
             "language": N_("Language"), "active": N_("Active")},
    "protocol": {"name": N_("Name"), "description": N_("Description"),
                 "threshold_set": N_("Threshold set")},
    "timepoint": {"name": N_("Name"), "instruments": N_("Instruments"),
                  "target_day": N_("Target day"), "window_start_day": N_("Window start day"),
                  "window_end_day": N_("Window end day"), "grace_days": N_("Grace days")},
}

# (record type, column) -> the vocabulary of its codes.
CODES: dict[tuple[str, str], Mapping[Any, str]] = {
    ("patient", "sex"): vocab.SEX, ("patient", "status"): vocab.PATIENT_STATUS,
    ("patient", "withdrawal_reason"): vocab.WITHDRAWAL_REASONS,
    ("patient", "language"): vocab.LANGUAGES,
    ("patient_identity", "preferred_contact"): vocab.CONTACT_PREFERENCES,
    ("index_knee", "laterality"): vocab.LATERALITY, ("index_knee", "kl_grade"): vocab.KL_GRADES,
    ("treatment", "cell_source"): vocab.CELL_SOURCES,
    ("treatment", "co_interventions"): vocab.CO_INTERVENTIONS,
    ("treatment", "treatment_type"): vocab.TREATMENT_TYPES,
    ("treatment", "delivery_site"): vocab.DELIVERY_SITES,
    ("treatment", "image_guidance"): vocab.IMAGE_GUIDANCE,
    ("treatment", "anaesthesia"): vocab.ANAESTHESIA,
    ("cell_product", "origin"): vocab.PRODUCT_ORIGINS,
    ("cell_product", "tissue_source"): vocab.TISSUE_SOURCES,
    ("cell_product", "preparation"): vocab.PREPARATIONS,
    ("product_lot", "release_status"): vocab.LOT_STATUSES,
    ("visit", "status"): vocab.VISIT_STATUS, ("visit", "collection_mode"): vocab.COLLECTION_MODES,
    ("adverse_event", "category"): vocab.AE_CATEGORIES,
    ("adverse_event", "severity_grade"): vocab.AE_GRADES,
    ("adverse_event", "serious_criterion"): vocab.AE_SERIOUS_CRITERIA,
    ("adverse_event", "relatedness"): vocab.AE_RELATEDNESS,
    ("adverse_event", "action_taken"): vocab.AE_ACTIONS,
    ("adverse_event", "outcome"): vocab.AE_OUTCOMES,
    ("contact_attempt", "method"): vocab.CONTACT_METHODS,
    ("contact_attempt", "outcome"): vocab.CONTACT_OUTCOMES,
    ("self_report", "state"): vocab.SELF_REPORT_STATES,
    ("self_report", "mode"): vocab.COLLECTION_MODES,
    ("self_report", "language"): vocab.LANGUAGES,
    ("self_report_link", "channel"): vocab.LINK_CHANNELS,
    ("site", "language"): vocab.LANGUAGES, ("app_user", "role"): ROLE_LABELS,
}

# Bookkeeping columns left out of a created or deleted record's values: keys, versions,
# derived search columns, the parent record and instrument (the record's name says them).
BOOKKEEPING = frozenset({"id", "version", "created_at", "updated_at", "search_text",
                         "name_key", "patient_id", "visit_id", "site_id", "self_report_id",
                         "response_id", "protocol_id", "scoring_version", "creation_token",
                         "site_sequence", "instrument"})


@lru_cache(maxsize=1024)
def _translated(msgid: str, language: str) -> str:
    return gettext(msgid)


def tr(msgid: str, **values: Any) -> str:
    """``gettext``, looked up once per text and language (a page of audit rows asks for the
    same few words hundreds of times): the catalogues do not change while the app runs."""
    text = _translated(msgid, current_language())
    return text % values if values else text


def action_label(action: str) -> str:
    label = ACTIONS.get(action)
    return tr(label) if label is not None else humanise(action)


def humanise(name: str) -> str:
    """``"lot_number"`` -> ``"Lot number"``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def field_label(entity_type: str | None, field: str, instrument: str | None = None) -> str:
    """The changed field as a person names it: answers by item code and short label,
    eligibility answers by their criterion, other columns by their label."""
    column, _dot, key = field.partition(".")
    if column == "answers" and key:
        item = _item(instrument, key)
        return f"{key} {item.label}" if item is not None else key
    if column == "eligibility" and key:
        criterion = vocab.ELIGIBILITY_CRITERIA.get(key)
        return tr(criterion[0]) if criterion else humanise(key)
    label = FIELDS.get(entity_type or "", {}).get(column)
    text = tr(label) if label is not None else humanise(column)
    return f"{text}: {humanise(key)}" if key else text


def decode(raw: str | None) -> Any:
    """A stored value back from its JSON text (text that is not JSON as it is)."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def value_text(entity_type: str | None, field: str | None, value: Any,
               instrument: str | None = None, zone: tzinfo = UTC) -> str:
    """A decoded value as a person reads it ("" for none); a moment in ``zone``."""
    if value is None or value == "":
        return ""
    if value == REDACTED:
        return tr(N_("[redacted]"))
    if isinstance(value, str) and MOMENT.fullmatch(value):
        local = datetime.fromisoformat(value).astimezone(zone)
        return f"{moment(local)} {local.strftime('%Z')}"
    if isinstance(value, str) and DAY.fullmatch(value) and current_language() != "en":
        try:
            return day(date.fromisoformat(value))
        except ValueError:
            return value
    column, _dot, key = (field or "").partition(".")
    if column == "answers" and key:
        return _answer_text(_item(instrument, key), value)
    if isinstance(value, bool):
        return tr(N_("Yes")) if value else tr(N_("No"))
    codes = CODES.get((entity_type or "", column))
    if isinstance(value, list):
        return ", ".join(value_text(entity_type, column, item, zone=zone) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{humanise(str(k))}: {value_text(entity_type, None, v, zone=zone)}"
                         for k, v in value.items())
    if codes is not None:
        label = codes.get(value)
        return tr(label) if isinstance(label, str) and label else str(value)
    return str(value)


def record_values(entity_type: str | None, snapshot: Mapping[str, Any],
                  instrument: str | None = None, zone: tzinfo = UTC) -> list[tuple[str, str]]:
    """A created or deleted record's values as (label, text), bookkeeping left out;
    a response's answers item by item."""
    shown: list[tuple[str, str]] = []
    for column, value in snapshot.items():
        if column in BOOKKEEPING or value is None or value in ("", [], {}):
            continue
        if column == "answers" and isinstance(value, dict):
            shown.extend((field_label(entity_type, f"answers.{key}", instrument),
                          value_text(entity_type, f"answers.{key}", answer, instrument))
                         for key, answer in value.items())
            continue
        if column == "eligibility" and isinstance(value, dict):
            shown.extend((field_label(entity_type, f"eligibility.{key}"),
                          value_text(entity_type, None, answer))
                         for key, answer in value.items())
            continue
        shown.append((field_label(entity_type, column),
                      value_text(entity_type, column, value, instrument, zone)))
    return shown


# Instrument -> item code -> item, from the catalogue (looked up for every answer shown).
ITEMS: dict[str, dict[str, scoring.Item]] = {
    code: {item.code: item for item in instrument.items}
    for code, instrument in scoring.INSTRUMENTS.items()}


def _item(instrument: str | None, code: str) -> scoring.Item | None:
    return ITEMS.get(instrument or "", {}).get(code)


def _answer_text(item: scoring.Item | None, value: Any) -> str:
    """An answer with its box label ("2 (Moderate)") or unit ("35 mm")."""
    if item is None:
        return str(value)
    for option in item.options:
        if option.code == value:
            return f"{value} ({option.label})"
    return f"{value} {item.unit}".rstrip()

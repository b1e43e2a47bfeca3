"""Controlled vocabularies: the one place that lists the allowed coded values.

Models build their check constraints from these, forms their choices, and the export
data dictionary its value labels.  Each is an ordered mapping ``code -> label``.
"""

from __future__ import annotations

from collections.abc import Mapping

SEX = {"female": "Female", "male": "Male", "other": "Other / not stated"}

LATERALITY = {"left": "Left", "right": "Right"}

KL_GRADES = {
    0: "0 — none",
    1: "1 — doubtful",
    2: "2 — minimal",
    3: "3 — moderate",
    4: "4 — severe",
}
# The registry's indication: symptomatic Kellgren–Lawrence II–III after failed
# conservative care (shared/reference/instruments.md, "Schedule").
KL_USUAL_INDICATION = frozenset({2, 3})


def N_(text: str) -> str:  # noqa: N802 - gettext's conventional "mark only" name
    """Marks a string for the translation catalogue; it is translated where shown."""
    return text


# What the radiograph shows at each grade, the options wherever the grade is chosen
# (Kellgren JH, Lawrence JS. Radiological assessment of osteo-arthrosis. Ann Rheum Dis
# 1957;16:494-502).  ``KL_GRADES`` stays the short value label (exports, cohort filters).
KL_GRADE_DEFINITIONS = {
    0: N_("no radiographic features of osteoarthritis"),
    1: N_("doubtful narrowing of the joint space, possible osteophytic lipping"),
    2: N_("definite osteophytes, possible narrowing of the joint space"),
    3: N_("moderate multiple osteophytes, definite narrowing of the joint space, some "
          "sclerosis, possible deformity of the bone ends"),
    4: N_("large osteophytes, marked narrowing of the joint space, severe sclerosis, "
          "definite deformity of the bone ends"),
}
KL_SOURCE = "Kellgren & Lawrence 1957, Ann Rheum Dis 16:494"

# Eligibility checklist.  ``expected`` is the answer of a typical candidate; any other
# answer puts the patient outside the usual indication and needs a justification.
ELIGIBILITY_CRITERIA = {
    "symptomatic": ("Symptomatic knee osteoarthritis of the index knee", True),
    "conservative_care_failed": (
        "Conservative care (exercise, weight management, analgesics) has failed",
        True,
    ),
    "active_infection": ("Active infection (local or systemic)", False),
    "bleeding_disorder": ("Uncontrolled bleeding disorder or anticoagulation", False),
    "hypersensitivity": ("Hypersensitivity to a component of the product", False),
    "advanced_deformity": ("Advanced osteoarthritis with severe deformity", False),
    "decompensated_comorbidity": ("Decompensated comorbidity", False),
    "immunosuppression": ("High-dose immunosuppression", False),
}

CELL_SOURCES = {
    "bmac": "Autologous bone-marrow aspirate concentrate",
    "adipose": "Autologous adipose-derived (SVF / expanded ADSC)",
    "allogeneic": "Allogeneic cell product",
    "other": "Other",
}

CO_INTERVENTIONS = {
    "prp": "Platelet-rich plasma",
    "hyaluronic_acid": "Hyaluronic acid",
    "physiotherapy": "Physiotherapy / rehabilitation programme",
    "corticosteroid": "Intra-articular corticosteroid",
    "bracing": "Unloader brace",
    "other": "Other",
}

PATIENT_STATUS = {"active": "In follow-up", "withdrawn": "Withdrawn"}

WITHDRAWAL_REASONS = {
    "lost_to_follow_up": "Lost to follow-up",
    "consent_withdrawn": "Consent withdrawn",
    "died": "Died",
    "other": "Other",
}

CONTACT_PREFERENCES = {"phone": "Phone", "email": "E-mail", "sms": "SMS", "letter": "Letter"}

VISIT_STATUS = {
    "scheduled": "Scheduled",
    "done": "Done",
    "not_applicable": "Not applicable",
}

AE_CATEGORIES = {
    "local_pain": "Local pain",
    "swelling": "Swelling / effusion",
    "stiffness": "Stiffness",
    "flu_like": "Flu-like symptoms",
    "fever": "Fever",
    "infection": "Infection",
    "other": "Other",
}

# CTCAE-style grades (NCI Common Terminology Criteria for Adverse Events v5.0).
AE_GRADES = {
    1: "1 — mild",
    2: "2 — moderate",
    3: "3 — severe",
    4: "4 — life-threatening",
    5: "5 — death",
}

AE_SERIOUS_CRITERIA = {
    "death": "Results in death",
    "life_threatening": "Life-threatening",
    "hospitalisation": "Requires or prolongs hospitalisation",
    "disability": "Persistent or significant disability",
    "other_important": "Other medically important event",
}

AE_RELATEDNESS = {
    "unrelated": "Unrelated",
    "unlikely": "Unlikely related",
    "possibly": "Possibly related",
    "probably": "Probably related",
    "definitely": "Definitely related",
}

AE_ACTIONS = {
    "none": "None",
    "medication": "Medication",
    "aspiration": "Joint aspiration",
    "hospitalisation": "Hospitalisation",
    "surgery": "Surgery",
    "other": "Other",
}

AE_OUTCOMES = {
    "ongoing": "Ongoing",
    "resolved": "Resolved",
    "resolved_sequelae": "Resolved with sequelae",
    "fatal": "Fatal",
    "unknown": "Unknown",
}

# How a visit's answers were collected (mode of administration).  Staff entry asks which
# of the last two; the patient's own submission sets one of the first two.
COLLECTION_MODES = {
    "self_link": "Self-report by link",
    "self_kiosk": "Self-report on clinic tablet",
    "staff_interview": "Staff interview",
    "paper": "Paper form, transcribed",
}
STAFF_COLLECTION_MODES = ("staff_interview", "paper")

# Languages of the interface, e-mails and instrument texts (Babel locale codes).
LANGUAGES = {"en": "English", "es": "Español"}

# A patient's self-report for one visit: collecting answers; submitted into the visit;
# kept for review because staff had already recorded answers; then accepted or dismissed.
SELF_REPORT_STATES = {
    "open": "Open",
    "submitted": "Submitted",
    "pending_review": "Awaiting review",
    "accepted": "Accepted after review",
    "dismissed": "Dismissed after review",
}
# How a self-report link was handed over.
LINK_CHANNELS = {"link": "Link (copied)", "email": "E-mail", "kiosk": "Clinic tablet"}

CONTACT_METHODS = {"phone": "Phone", "email": "E-mail", "sms": "SMS", "letter": "Letter"}

CONTACT_OUTCOMES = {
    "reached": "Reached",
    "no_answer": "No answer",
    "wrong_number": "Wrong number",
    "declined": "Declined",
    "appointment_booked": "Appointment booked",
}


def sql_in(column: str, vocabulary: Mapping[str, str] | Mapping[int, str]) -> str:
    """A CHECK constraint expression restricting ``column`` to the vocabulary's codes."""
    codes = ", ".join(
        str(code) if isinstance(code, int) else f"'{code}'" for code in vocabulary
    )
    return f"{column} in ({codes})"

"""Controlled vocabularies: the one place that lists the allowed coded values.

Models build their check constraints from these, forms their choices, and the export
data dictionary its value labels.  Each is an ordered mapping ``code -> label``.
"""

from __future__ import annotations

from collections.abc import Mapping


def N_(text: str) -> str:  # noqa: N802 - gettext's conventional "mark only" name
    """Marks a string for the translation catalogue; it is translated where shown."""
    return text


SEX = {"female": N_("Female"), "male": N_("Male"), "other": N_("Other / not stated")}

LATERALITY = {"left": N_("Left"), "right": N_("Right")}

KL_GRADES = {
    0: N_("0 — none"),
    1: N_("1 — doubtful"),
    2: N_("2 — minimal"),
    3: N_("3 — moderate"),
    4: N_("4 — severe"),
}
# The registry's indication: symptomatic Kellgren–Lawrence II–III after failed
# conservative care (shared/reference/instruments.md, "Schedule").
KL_USUAL_INDICATION = frozenset({2, 3})


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
    "symptomatic": (N_("Symptomatic knee osteoarthritis of the index knee"), True),
    "conservative_care_failed": (
        N_("Conservative care (exercise, weight management, analgesics) has failed"),
        True,
    ),
    "active_infection": (N_("Active infection (local or systemic)"), False),
    "bleeding_disorder": (N_("Uncontrolled bleeding disorder or anticoagulation"), False),
    "hypersensitivity": (N_("Hypersensitivity to a component of the product"), False),
    "advanced_deformity": (N_("Advanced osteoarthritis with severe deformity"), False),
    "decompensated_comorbidity": (N_("Decompensated comorbidity"), False),
    "immunosuppression": (N_("High-dose immunosuppression"), False),
}

CELL_SOURCES = {
    "bmac": N_("Autologous bone-marrow aspirate concentrate"),
    "adipose": N_("Autologous adipose-derived (SVF / expanded ADSC)"),
    "allogeneic": N_("Allogeneic cell product"),
    "other": N_("Other"),
}

CO_INTERVENTIONS = {
    "prp": N_("Platelet-rich plasma"),
    "hyaluronic_acid": N_("Hyaluronic acid"),
    "physiotherapy": N_("Physiotherapy / rehabilitation programme"),
    "corticosteroid": N_("Intra-articular corticosteroid"),
    "bracing": N_("Unloader brace"),
    "other": N_("Other"),
}

# What a patient was treated with: cell therapy, or one of the active comparators of the
# evidence summary (shared/reference), recorded with the same schedule and outcomes.
TREATMENT_TYPES = {
    "cell_therapy": N_("Cell therapy"),
    "hyaluronic_acid": N_("Hyaluronic acid injection"),
    "prp": N_("Platelet-rich plasma injection"),
    "corticosteroid": N_("Corticosteroid injection"),
    "exercise": N_("Exercise programme only"),
}
# Treatment types that are injections of a catalogued product lot.
LOT_TREATMENT_TYPES = frozenset({"cell_therapy"})

# The cell-product catalogue and its lots (DOSES, JBJS 2019; MIBO, JBJS 2017).
PRODUCT_ORIGINS = {"autologous": N_("Autologous"), "allogeneic": N_("Allogeneic")}
TISSUE_SOURCES = {
    "bone_marrow": N_("Bone marrow"),
    "adipose": N_("Adipose tissue"),
    "umbilical_cord": N_("Umbilical cord"),
    "placenta": N_("Placenta"),
    "synovium": N_("Synovium"),
    "peripheral_blood": N_("Peripheral blood"),
    "other": N_("Other"),
}
PREPARATIONS = {
    "bmac": N_("Bone-marrow aspirate concentrate"),
    "svf": N_("Stromal vascular fraction"),
    "microfragmented_adipose": N_("Micro-fragmented adipose tissue"),
    "culture_expanded_msc": N_("Culture-expanded MSCs"),
    "other": N_("Other"),
}
LOT_STATUSES = {"released": N_("Released"), "quarantined": N_("Quarantined"),
                "recalled": N_("Recalled")}
DELIVERY_SITES = {
    "intra_articular": N_("Intra-articular"),
    "subchondral": N_("Subchondral"),
    "intra_articular_subchondral": N_("Intra-articular and subchondral"),
    "other": N_("Other"),
}
IMAGE_GUIDANCE = {"none": N_("None (landmarks)"), "ultrasound": N_("Ultrasound"),
                  "fluoroscopy": N_("Fluoroscopy")}
ANAESTHESIA = {"none": N_("None"), "local": N_("Local"), "regional": N_("Regional"),
               "sedation": N_("Sedation"), "general": N_("General")}
# ISCT minimal criteria for MSCs: >= 95 % express CD73, CD90 and CD105; <= 2 % express
# CD45, CD34, CD14 or CD11b, CD79a or CD19, and HLA-DR (Dominici M et al. Minimal
# criteria for defining multipotent mesenchymal stromal cells. Cytotherapy
# 2006;8:315-317).  Column -> (label, "positive" or "negative").
ISCT_MARKERS = {
    "cd73_percent": ("CD73", "positive"),
    "cd90_percent": ("CD90", "positive"),
    "cd105_percent": ("CD105", "positive"),
    "cd45_percent": ("CD45", "negative"),
    "cd34_percent": ("CD34", "negative"),
    "cd14_cd11b_percent": ("CD14 / CD11b", "negative"),
    "cd79a_cd19_percent": ("CD79a / CD19", "negative"),
    "hla_dr_percent": ("HLA-DR", "negative"),
}
ISCT_POSITIVE_MINIMUM = 95.0
ISCT_NEGATIVE_MAXIMUM = 2.0
ISCT_SOURCE = "Dominici et al. 2006, Cytotherapy 8:315"

PATIENT_STATUS = {"active": N_("In follow-up"), "withdrawn": N_("Withdrawn")}

WITHDRAWAL_REASONS = {
    "lost_to_follow_up": N_("Lost to follow-up"),
    "consent_withdrawn": N_("Consent withdrawn"),
    "died": N_("Died"),
    "other": N_("Other"),
}

CONTACT_PREFERENCES = {"phone": N_("Phone"), "email": N_("E-mail"), "sms": N_("SMS"),
                       "letter": N_("Letter")}

VISIT_STATUS = {
    "scheduled": N_("Scheduled"),
    "done": N_("Done"),
    "not_applicable": N_("Not applicable"),
}

AE_CATEGORIES = {
    "local_pain": N_("Local pain"),
    "swelling": N_("Swelling / effusion"),
    "stiffness": N_("Stiffness"),
    "flu_like": N_("Flu-like symptoms"),
    "fever": N_("Fever"),
    "infection": N_("Infection"),
    "other": N_("Other"),
}

# CTCAE-style grades (NCI Common Terminology Criteria for Adverse Events v5.0).
AE_GRADES = {
    1: N_("1 — mild"),
    2: N_("2 — moderate"),
    3: N_("3 — severe"),
    4: N_("4 — life-threatening"),
    5: N_("5 — death"),
}

AE_SERIOUS_CRITERIA = {
    "death": N_("Results in death"),
    "life_threatening": N_("Life-threatening"),
    "hospitalisation": N_("Requires or prolongs hospitalisation"),
    "disability": N_("Persistent or significant disability"),
    "other_important": N_("Other medically important event"),
}

AE_RELATEDNESS = {
    "unrelated": N_("Unrelated"),
    "unlikely": N_("Unlikely related"),
    "possibly": N_("Possibly related"),
    "probably": N_("Probably related"),
    "definitely": N_("Definitely related"),
}

AE_ACTIONS = {
    "none": N_("None"),
    "medication": N_("Medication"),
    "aspiration": N_("Joint aspiration"),
    "hospitalisation": N_("Hospitalisation"),
    "surgery": N_("Surgery"),
    "other": N_("Other"),
}

AE_OUTCOMES = {
    "ongoing": N_("Ongoing"),
    "resolved": N_("Resolved"),
    "resolved_sequelae": N_("Resolved with sequelae"),
    "fatal": N_("Fatal"),
    "unknown": N_("Unknown"),
}

# How a visit's answers were collected (mode of administration).  Staff entry asks which
# of the last two; the patient's own submission sets one of the first two.
COLLECTION_MODES = {
    "self_link": N_("Self-report by link"),
    "self_kiosk": N_("Self-report on clinic tablet"),
    "staff_interview": N_("Staff interview"),
    "paper": N_("Paper form, transcribed"),
}
STAFF_COLLECTION_MODES = ("staff_interview", "paper")

# Languages of the interface, e-mails and instrument texts (Babel locale codes).
LANGUAGES = {"en": "English", "es": "Español"}

# A patient's self-report for one visit: collecting answers; submitted into the visit;
# kept for review because staff had already recorded answers; then accepted or dismissed.
SELF_REPORT_STATES = {
    "open": N_("Open"),
    "submitted": N_("Submitted"),
    "pending_review": N_("Awaiting review"),
    "accepted": N_("Accepted after review"),
    "dismissed": N_("Dismissed after review"),
}
# How a self-report link was handed over.
LINK_CHANNELS = {"link": N_("Link (copied)"), "email": N_("E-mail"), "kiosk": N_("Clinic tablet")}

CONTACT_METHODS = {"phone": N_("Phone"), "email": N_("E-mail"), "sms": N_("SMS"),
                   "letter": N_("Letter")}

CONTACT_OUTCOMES = {
    "reached": N_("Reached"),
    "no_answer": N_("No answer"),
    "wrong_number": N_("Wrong number"),
    "declined": N_("Declined"),
    "appointment_booked": N_("Appointment booked"),
}


def sql_in(column: str, vocabulary: Mapping[str, str] | Mapping[int, str]) -> str:
    """A CHECK constraint expression restricting ``column`` to the vocabulary's codes."""
    codes = ", ".join(
        str(code) if isinstance(code, int) else f"'{code}'" for code in vocabulary
    )
    return f"{column} in ({codes})"

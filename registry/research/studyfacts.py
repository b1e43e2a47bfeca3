"""What an export's manifest says about the study behind the numbers.

The follow-up protocols (timepoints with names, target days, windows and grace), the visit
statuses and the date they are for, the missing-value reasons with their codes in every
format, the OMERACT-OARSI responder rule (criterion, domain sources, citation) and how each
format encodes booleans, missing values and text.  Everything is read from where it is
defined (``scoring.responder``, ``missing``, ``dictionary.ENCODINGS``): nothing is
restated here but the responder criterion's wording, checked against scoring's numbers by
the tests.
"""

from __future__ import annotations

from typing import Any

from registry.followup.status import UPCOMING_DAYS
from registry.research.dictionary import ENCODINGS
from registry.research.missing import REASON_OF_VISIT_STATUS, SCORE_REASONS, VISIT_STATUSES
from scoring import citations
from scoring.responder import DOMAINS, SOURCES

RESPONDER_CRITERION = (
    "On 0-100 scales where higher is worse (KOOS scales flipped: 100 - score), improvement "
    "= baseline - follow-up and relative improvement = improvement / baseline. A patient "
    "responds when (1) pain or function improves by >= 50 % and >= 20 points, or (2) at "
    "least two of pain, function and patient global assessment improve by >= 20 % and "
    ">= 10 points. A baseline of 0 leaves the relative change undefined: that criterion is "
    "then not met. The status is empty (undefined) only when the missing domains could "
    "still change the answer."
)


def responder_facts() -> dict[str, Any]:
    """The responder rule as the ``oarsi_responder`` columns apply it."""
    return {
        "name": "OMERACT-OARSI responder (Pham 2004)",
        "criterion": RESPONDER_CRITERION,
        "domains": {domain: [{"score": code, "flipped": flip} for code, flip in SOURCES[domain]]
                    for domain in DOMAINS},
        "domain_source_rule": "per domain, the first score (in the order listed) whose baseline "
                              "and follow-up are both present (the registry's choice)",
        "source": citations.PHAM_2004,
        "columns": "oarsi_responder (long tables: at the row's visit), "
                   "oarsi_responder_<timepoint> (wide table)",
    }


def visit_facts() -> dict[str, Any]:
    """The visits table's statuses: codes, the day they are for, the rule's source."""
    return {
        # No calendar date besides exported_at in a de-identified export.
        "status_as_of": "the day of exported_at at each site (in the site's time zone)",
        "rule": "registry.followup.status: stored not applicable -> not_applicable; done -> "
                "done (done_out_of_window when dated outside the window); window opens more "
                f"than {UPCOMING_DAYS} days ahead, or no window -> scheduled (not yet due); "
                f"opens within {UPCOMING_DAYS} days -> upcoming; window closed -> missed; "
                "window open and target + grace passed -> overdue; else due. A withdrawn "
                "patient's visit not done -> withdrawn, or missed (not_applicable if so "
                "marked) when its window had closed before the withdrawal date.",
        "statuses": VISIT_STATUSES,
    }


def missing_facts() -> dict[str, Any]:
    """The reason codes of the reason columns, and how each format carries them."""
    return {
        "reasons": [{"code": reason.code, "label": reason.label, "stata": reason.stata,
                     "spss": reason.spss, "sas": reason.sas} for reason in SCORE_REASONS],
        "reason_of_visit_status": REASON_OF_VISIT_STATUS,
        "reason_columns": "long tables: value_reason (the value), change_reason (change, "
                          "relative change, improvement and flags; empty on baseline rows); "
                          "wide table: <score>_<timepoint>_reason (the value, and for a "
                          "follow-up timepoint no_baseline when only its change is missing)",
    }


def protocol_facts(protocols: list[dict[str, Any]]) -> dict[str, Any]:
    """The cohort's follow-up protocols (as ``dataset.load_protocols`` read them)."""
    return {"protocols": protocols,
            "days": "days since treatment (day 0); a window is [window_start_day, "
                    "window_end_day]; a visit becomes overdue after target_day + grace_days "
                    "(or at the window's end, whichever is first)",
            "unscheduled": "visits outside the protocol have timepoint 'unscheduled' and "
                           "unscheduled = 1"}


def encoding_facts(fmt: str) -> dict[str, Any]:
    """How this export's format, and every other, encodes booleans and missing values."""
    return {"this_export": ENCODINGS.get(fmt, {}), "formats": ENCODINGS}

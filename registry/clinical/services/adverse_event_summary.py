"""The adverse-event summary at the top of the patient page, from the events it loaded.

Counts by seriousness, severity grade, relation to treatment, category and outcome (the
coded fields of ``AdverseEvent``), each shown by its label from ``registry.vocabularies``
— never a code — in the vocabulary's order, leaving out values no event has; and the
serious events nobody has reviewed yet, which the page puts first.  No query of its own:
it reads the rows ``summary.load_adverse_events`` already fetched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registry import vocabularies
from registry.vocabularies import N_


@dataclass(frozen=True)
class Count:
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class CountGroup:
    name: str  # marked for translation, translated by the template
    counts: tuple[Count, ...]


@dataclass(frozen=True)
class AdverseEventSummary:
    total: int
    serious: int
    ongoing: int
    # Serious events not yet reviewed, by onset date (rows as ``load_adverse_events``).
    awaiting_review: tuple[Any, ...]
    # Events of any seriousness not yet reviewed.
    unreviewed: int
    groups: tuple[CountGroup, ...]


SERIOUSNESS = {"serious": N_("Serious"), "not_serious": N_("Not serious")}

# (heading, the event's field, its vocabulary) in the order the summary shows them.
GROUPS: tuple[tuple[str, Callable[[Any], object], Mapping[Any, str]], ...] = (
    (N_("Seriousness"), lambda event: "serious" if event.serious else "not_serious",
     SERIOUSNESS),
    (N_("Severity grade"), lambda event: event.severity_grade, vocabularies.AE_GRADES),
    (N_("Relation to treatment"), lambda event: event.relatedness,
     vocabularies.AE_RELATEDNESS),
    (N_("Category"), lambda event: event.category, vocabularies.AE_CATEGORIES),
    (N_("Outcome"), lambda event: event.outcome, vocabularies.AE_OUTCOMES),
)


def _group(name: str, values: Iterable[object], vocabulary: Mapping[Any, str]) -> CountGroup:
    counted = Counter(values)
    counts = [Count(str(code), label, counted.pop(code)) for code, label in vocabulary.items()
              if counted.get(code)]
    # A value the vocabulary no longer lists (a check constraint keeps them out) is still
    # counted, under its own code, rather than silently dropped.
    counts += [Count(str(code), str(code), number) for code, number in counted.items()]
    return CountGroup(name, tuple(counts))


def adverse_event_summary(events: Sequence[Any]) -> AdverseEventSummary:
    """Counts and the unreviewed serious events of a patient's ``events``."""
    awaiting = tuple(sorted((event for event in events
                             if event.serious and event.reviewed_at is None),
                            key=lambda event: (event.onset_date, event.id)))
    groups = tuple(_group(name, (field(event) for event in events), vocabulary)
                   for name, field, vocabulary in GROUPS) if events else ()
    return AdverseEventSummary(
        total=len(events), serious=sum(1 for event in events if event.serious),
        ongoing=sum(1 for event in events if event.outcome == "ongoing"),
        awaiting_review=awaiting,
        unreviewed=sum(1 for event in events if event.reviewed_at is None),
        groups=groups)


__all__ = ["AdverseEventSummary", "Count", "CountGroup", "adverse_event_summary"]

"""LOINC codes of the catalogue's instruments, scores and items: only codes we verified.

Keyed by the catalogue's own codes (the tests check every key against ``scoring``); an
instrument, score or item without a verified code is coded in the registry's code system
only (``fhir``).  Where each code was checked:

- 72091-2 KOOS panel; 72101-9 Symptoms, 72100-1 Activities of daily living score [KOOS]:
  /work/shared/reference/instruments.md and LOINC's entries (long common names as below);
- 72102-7 Pain score [KOOS]: LOINC's entry as quoted by a CMS eCQM measure specification
  (value set "Pain score [KOOS]") and an independent open-source KOOS implementation;
- 82324-5 KOOS JR panel, items 82325-2 … 82331-0 (S6, P2, P3, P6, P9, A3, A5, the
  catalogue's order) and 82332-8 Total interval score [KOOSJR]: the reference file, the
  eCQM value set 2.16.840.1.113883.3.464.1003.118.12.1218 and the public SDC KOOS JR
  Questionnaire (paciowg sample data);
- 98915-2 KOOS-PS panel: LOINC's entry (long common name as below).

Not used, because not verified: KOOS Sport/Rec and QOL scores (a single unofficial source
gave 72099-5 and 72098-7), WOMAC, VAS, NRS, PGA, GRC and KOOS-12 codes.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM = "http://loinc.org"


@dataclass(frozen=True)
class Code:
    code: str
    display: str


INSTRUMENTS: dict[str, Code] = {
    "koos": Code("72091-2", "Knee injury and Osteoarthritis Outcome Score [KOOS]"),
    "koosjr": Code("82324-5", "Knee injury and osteoarthritis outcome score for joint "
                              "replacement [KOOSJR]"),
    "koos_ps": Code("98915-2", "Knee injury and osteoarthritis outcome score - physical "
                               "function shortform panel [KOOS-PS]"),
}

SCORES: dict[str, Code] = {
    "koos_symptoms": Code("72101-9", "Symptoms score [KOOS]"),
    "koos_adl": Code("72100-1", "Activities of daily living score [KOOS]"),
    "koos_pain": Code("72102-7", "Pain score [KOOS]"),
    "koos_jr": Code("82332-8", "Total interval score [KOOSJR]"),
}

# (instrument, item) -> code: the KOOS JR items, in the KOOS JR questionnaire (displays
# left out: LOINC's item names were not checked).
ITEMS: dict[tuple[str, str], Code] = {
    ("koosjr", item): Code(code, "")
    for item, code in (("S6", "82325-2"), ("P2", "82326-0"), ("P3", "82327-8"),
                       ("P6", "82328-6"), ("P9", "82329-4"), ("A3", "82330-2"),
                       ("A5", "82331-0"))
}

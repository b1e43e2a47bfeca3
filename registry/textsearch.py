"""Accent-, case- and order-insensitive text for finding patients by name.

``normalise`` folds a text to lower-case words without accents: Unicode NFKD decomposition,
combining marks dropped, ``str.casefold``, every run of other characters a single space, so "Núñez
Peña, José" becomes "nunez pena jose".  The patient's identity stores two derived columns
(kept in step by a mapper hook on ``PatientIdentity``):

- ``search_text``: the normalised family name, given name and record number; a query
  matches when every one of its words is part of it (``LIKE '%word%'`` per word), so
  "jose nunez" and "nunez" both find José Núñez Peña, on SQLite and PostgreSQL alike;
- ``name_key``: the normalised name's words sorted, the key of the duplicate check
  (same ``name_key`` and birth date: a likely duplicate).

Migration 0009 has its own frozen copy of these rules for the backfill.
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[\W_]+")  # any run of non-letters and non-digits (all scripts)
# Latin letters that NFKD does not decompose into a base letter and a mark.
_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "ð": "d", "þ": "th", "ł": "l",
                          "đ": "d", "ı": "i", "ħ": "h", "ŧ": "t", "ŋ": "n"})


def normalise(text: str | None) -> str:
    """``text`` as lower-case words without accents, single-spaced ("" for None);
    letters of every script are kept (Cyrillic, Greek, CJK names stay findable)."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = stripped.casefold().translate(_LETTERS)
    # casefold can compose again (e.g. "İ" -> "i" + dot above): decompose once more
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", folded)
                     if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", folded).strip()


def query_words(query: str | None) -> list[str]:
    """The distinct normalised words of a search query, in order."""
    return list(dict.fromkeys(normalise(query).split()))


def search_text(family_name: str | None, given_name: str | None,
                medical_record_number: str | None) -> str:
    """The stored search column of a patient identity."""
    return " ".join(part for part in (normalise(family_name), normalise(given_name),
                                      normalise(medical_record_number)) if part)


def name_key(family_name: str | None, given_name: str | None) -> str:
    """The duplicate-check key: the name's normalised words, sorted."""
    return " ".join(sorted(f"{normalise(family_name)} {normalise(given_name)}".split()))


__all__ = ["name_key", "normalise", "query_words", "search_text"]

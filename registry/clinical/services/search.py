"""Finding patients (the patient list's search box, ``patient_list``): by study ID at the
user's sites; by name or record number only where the user may read identities (clinical
staff of that site).

Accent-, case- and order-insensitive: the query is cut into normalised words
(``registry.textsearch.query_words``: "Núñez Peña, José" gives ``nunez pena jose``) and a
patient matches when EVERY word is part of its study ID (also read without its hyphen,
so "osl-0005", "OSL 0005" and "osl0005" all find OSL-0005) or, at a site whose identities
the user may read, of the stored ``patient_identity.search_text`` (normalised name and
record number, kept in step by the model).  Each word is one ``LIKE '%word%'`` with ``%``,
``_`` and ``\\`` escaped, the same SQL on SQLite and PostgreSQL (both columns hold
lower-case ASCII).  A query that has no words ("%", "--") matches nothing: none of its
characters can occur in a normalised column.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, and_, false, func, literal, or_

from registry.authz import Permission, can, visible_site_ids
from registry.models import Patient, PatientIdentity
from registry.textsearch import query_words

# More words than anyone types for one patient; the rest of a pasted paragraph is ignored
# so that a query stays a handful of LIKEs.
MAX_WORDS = 8


def identity_site_ids(user: Any) -> frozenset[int]:
    """The user's sites whose patients' names and record numbers the user may read."""
    return frozenset(site_id for site_id in visible_site_ids(user)
                     if can(user, Permission.IDENTITY_READ, site_id))


def escape_like(text: str) -> str:
    """``text`` for a ``LIKE ... ESCAPE '\\'`` pattern: its ``%``, ``_`` and ``\\`` literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _study_id_text() -> ColumnElement[str]:
    """The study ID in lower case, as words and run together: "osl 0005 osl0005"."""
    lowered = func.lower(Patient.study_id, type_=String)
    return (func.replace(lowered, "-", " ", type_=String) + literal(" ")
            + func.replace(lowered, "-", "", type_=String))


def matching(query: str, identity_sites: frozenset[int]) -> ColumnElement[bool] | None:
    """The condition "the patient matches ``query``" (None: an empty query, no condition).

    Statements using it must outer-join ``PatientIdentity`` on the patient when
    ``identity_sites`` is not empty.
    """
    if not query.strip():
        return None
    words = query_words(query)[:MAX_WORDS]
    if not words:
        return false()
    study_id = _study_id_text()
    conditions = []
    for word in words:
        pattern = f"%{escape_like(word)}%"
        found: ColumnElement[bool] = study_id.like(pattern, escape="\\")
        if identity_sites:
            found = or_(found, and_(PatientIdentity.site_id.in_(identity_sites),
                                    PatientIdentity.search_text.like(pattern, escape="\\")))
        conditions.append(found)
    return and_(*conditions)


__all__ = ["MAX_WORDS", "escape_like", "identity_site_ids", "matching"]

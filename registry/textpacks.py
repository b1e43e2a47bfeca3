"""Which instrument texts the registry has, per language: shipped, loaded or missing.

An instrument is offered for self-report in a language only when a text pack exists for
it: the registry's own wording (``scoring.textpacks``, VAS, NRS, PGA, GRC) or a pack a
site loaded (``TextPack`` rows: licensed KOOS/WOMAC texts, or the demo's short-label
packs).  A loaded pack is validated again when read, so a catalogue change that a stored
pack no longer fits makes it "invalid" (not offered) instead of a broken form.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

import scoring
from registry.models import TextPack as TextPackRow
from registry.models import User, utcnow
from registry.services import ValidationFailed
from registry.vocabularies import LANGUAGES
from scoring.textpacks import (
    PackError,
    TextPack,
    demo_pack,
    pack_data,
    shipped_pack,
    validate_pack,
)


def demo_notice() -> str:
    """What every page showing a demo pack says, in the request's language."""
    return str(_("Demo wording, not the licensed questionnaire."))


# Validated packs by their content and the catalogue's definition of the instrument, so
# an entry is never stale: an edited pack or a changed definition is validated afresh.
# Validating KOOS on every page was about a sixth of a patient page's time
# (benchmarks/results/self_report.md).  Instrument texts, not clinical data: nothing a
# patient or staff member recorded is kept here.
_VALIDATED: dict[tuple[str, int, str], TextPack | None] = {}
_VALIDATED_MAX = 256


def _validated(row: TextPackRow) -> TextPack | None:
    definition = scoring.INSTRUMENTS.get(row.instrument)
    key = (row.instrument, id(definition), json.dumps(row.content, sort_keys=True))
    if key not in _VALIDATED:
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        try:
            _VALIDATED[key] = validate_pack(row.content, languages=tuple(LANGUAGES))
        except PackError:
            _VALIDATED[key] = None
    return _VALIDATED[key]


def pack_for(session: Session, instrument: str, language: str) -> TextPack | None:
    """The text of ``instrument`` in ``language``: shipped own wording, else a valid
    loaded pack, else None (not offered for self-report in that language)."""
    shipped = shipped_pack(instrument, language)
    if shipped is not None:
        return shipped
    row = session.scalar(select(TextPackRow).where(TextPackRow.instrument == instrument,
                                                   TextPackRow.language == language))
    return _validated(row) if row is not None else None


def self_reportable(session: Session, instruments: Iterable[str], language: str) -> list[str]:
    """Of a visit's instruments, those a patient can answer in ``language``.

    The instruments the visit form would show (``scoring.entry_instruments``: catalogue
    order, KOOS-PS left out when KOOS is recorded) that have a pack in that language.
    """
    wanted = [instrument.code for instrument in scoring.entry_instruments(list(instruments))]
    loaded = {row.instrument: row for row in session.scalars(select(TextPackRow).where(
        TextPackRow.language == language, TextPackRow.instrument.in_(wanted)))}
    return [code for code in wanted
            if shipped_pack(code, language) is not None
            or (code in loaded and _validated(loaded[code]) is not None)]


@dataclass(frozen=True)
class PackStatus:
    """One instrument in one language, as the admin page lists it.

    ``state``: "shipped" (registry wording), "loaded", "demo" (demo wording), "invalid"
    (a stored pack the catalogue no longer accepts) or "missing".
    """

    instrument: str
    name: str
    language: str
    state: str
    source: str = ""
    loaded_at: datetime | None = None
    loaded_by: str = ""

    @property
    def offered(self) -> bool:
        return self.state in {"shipped", "loaded", "demo"}


def pack_statuses(session: Session) -> list[PackStatus]:
    """Every entry instrument in every language (catalogue order), with its pack state."""
    rows = {(row.instrument, row.language): row for row in session.scalars(select(TextPackRow))}
    users = {user.id: user.email for user in session.scalars(select(User).where(
        User.id.in_({row.loaded_by_id for row in rows.values() if row.loaded_by_id})))}
    statuses = []
    for instrument in scoring.recordable_instruments():
        for language in LANGUAGES:
            shipped = shipped_pack(instrument.code, language)
            row = rows.get((instrument.code, language))
            if shipped is not None:
                statuses.append(PackStatus(instrument.code, instrument.short_name, language,
                                           "shipped", shipped.source))
            elif row is None:
                statuses.append(PackStatus(instrument.code, instrument.short_name, language,
                                           "missing"))
            else:
                pack = _validated(row)
                state = "invalid" if pack is None else "demo" if pack.demo else "loaded"
                statuses.append(PackStatus(
                    instrument.code, instrument.short_name, language, state,
                    row.source_name, row.loaded_at,
                    users.get(row.loaded_by_id or 0, _("command line"))))
    return statuses


def missing_packs(session: Session) -> list[tuple[str, str]]:
    """(instrument, language) pairs with no usable pack: not offered for self-report."""
    return [(status.instrument, status.language) for status in pack_statuses(session)
            if not status.offered]


def load_pack(session: Session, data: Any, *, source_name: str,
              user_id: int | None) -> TextPackRow:
    """Validate a pack document and store it, replacing that instrument's and language's
    pack (the audit trail keeps the old one).  Raises PackError, or ValidationFailed when
    the registry ships its own wording for it (a loaded pack would never be used)."""
    pack = validate_pack(data, languages=tuple(LANGUAGES))
    if shipped_pack(pack.instrument, pack.language) is not None:
        raise ValidationFailed({"file": _(
            "The registry ships its own wording of %(instrument)s in %(language)s; a loaded "
            "pack would not be used.", instrument=pack.instrument, language=pack.language)})
    source_name = source_name.strip()[:200] or pack.source[:200]
    row = session.scalar(select(TextPackRow).where(TextPackRow.instrument == pack.instrument,
                                                   TextPackRow.language == pack.language))
    if row is None:
        row = TextPackRow(instrument=pack.instrument, language=pack.language)
        session.add(row)
    row.content = pack_data(pack)
    row.source_name = source_name
    row.demo = pack.demo
    row.loaded_by_id = user_id
    row.loaded_at = utcnow()
    session.flush()
    return row


def load_demo_packs(session: Session, *, user_id: int | None = None) -> list[TextPackRow]:
    """Load the demo packs (short labels, marked demo) of every instrument the registry
    ships no wording for, in every language, replacing what was loaded for them."""
    return [load_pack(session, pack_data(demo_pack(instrument.code, language)),
                      source_name="Registry demo (short labels)", user_id=user_id)
            for instrument in scoring.recordable_instruments()
            for language in LANGUAGES
            if shipped_pack(instrument.code, language) is None]


__all__ = ["PackError", "PackStatus", "demo_notice", "load_demo_packs", "load_pack",
           "missing_packs", "pack_for", "pack_statuses", "self_reportable"]

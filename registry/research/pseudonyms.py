"""Pseudonyms that replace study IDs in exports.

``P-`` + the first 12 hex digits of HMAC-SHA256(key, "<project>\\x00<patient id>").
Per export (the default) the key is random and thrown away, so the same patient gets a
different pseudonym in every export.  With a project name the key is the registry's
``PSEUDONYM_KEY``, so the same project gets the same pseudonyms in every export (and another
project different ones); without the key, pseudonyms cannot be linked back to patients.

Lots get pseudonyms the same way (``L-`` + 12 hex digits of HMAC-SHA256(key,
"lot\\x00<project>\\x00<product>\\x00<lot number>")): a lot number can lead back to the
clinic's records (an autologous lot is one patient's), so exports carry which patients
shared a lot, never the number itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

HEX_DIGITS = 12  # 48 bits: a collision among 100,000 patients has p ≈ 2e-5 (checked anyway)


class Pseudonymiser:
    def __init__(self, key: bytes | str | None = None, project: str | None = None) -> None:
        if project is not None and not project.strip():
            raise ValueError("A project name is needed for project-stable pseudonyms.")
        if project is not None and not key:
            raise ValueError("PSEUDONYM_KEY is not configured.")
        self.project = project.strip() if project else None
        raw = key.encode() if isinstance(key, str) else key
        self._key = raw if self.project is not None and raw else secrets.token_bytes(32)

    @property
    def mode(self) -> str:
        return "project" if self.project is not None else "per-export"

    def pseudonym(self, patient_id: int, digits: int = HEX_DIGITS) -> str:
        message = f"{self.project or ''}\x00{patient_id}".encode()
        return "P-" + hmac.digest(self._key, message, hashlib.sha256).hex()[:digits]

    def lot_pseudonym(self, lot_key: str, digits: int = HEX_DIGITS) -> str:
        """A lot's pseudonym; ``lot_key``: its product and lot number (``dataset.lot_keys``)."""
        message = f"lot\x00{self.project or ''}\x00{lot_key}".encode()
        return "L-" + hmac.digest(self._key, message, hashlib.sha256).hex()[:digits]

    def lots(self, lot_keys: Iterable[object]) -> list[str | None]:
        """A pseudonym per key (anything but text, such as None or NaN: None); the same
        key, the same pseudonym."""
        keys = [key if isinstance(key, str) else None for key in lot_keys]
        distinct = {key for key in keys if key is not None}
        digits = HEX_DIGITS
        if len({self.lot_pseudonym(key) for key in distinct}) != len(distinct):
            digits = 24  # astronomically rare: lengthen, stay stable
        names = {key: self.lot_pseudonym(key, digits) for key in distinct}
        return [None if key is None else names[key] for key in keys]

    def many(self, patient_ids: Iterable[int]) -> list[str]:
        ids = list(patient_ids)
        names = [self.pseudonym(pid) for pid in ids]
        if len(set(names)) != len(names):  # astronomically rare: lengthen, stay stable
            names = [self.pseudonym(pid, 24) for pid in ids]
        return names

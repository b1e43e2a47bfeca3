"""Self-report tokens: random, shown once, stored only as a hash.

256 random bits (``secrets.token_urlsafe(32)``, 43 URL-safe characters) make guessing
hopeless; the database holds only the SHA-256 of the token, so a copy of the database
(or a backup) opens no patient's form.  A plain hash (no salt, no slow KDF) is right for
a high-entropy random secret and lets the link be found by an index lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32
# What a token looks like: anything else is refused before any database lookup.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> tuple[str, str]:
    """A fresh token and its hash (store the hash, hand over the token)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed(token: str) -> bool:
    return TOKEN_SHAPE.fullmatch(token) is not None

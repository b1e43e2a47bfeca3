"""Download headers in one place: a ``Content-Disposition`` any file name survives.

HTTP header values travel as Latin-1, so a cohort called ``Łódź`` or ``Москва`` in a
hand-written ``filename="…"`` made the server fail while sending the response (500),
after the request had already committed.  Every download (research exports, charts, the
audit trail and the follow-up call list) names its file through ``content_disposition``:
RFC 6266 ``filename*=UTF-8''…`` (percent-encoded, RFC 8187) with a plain ASCII
``filename="…"`` fallback for old clients, so the header is always pure ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from werkzeug.wrappers import Response

# RFC 8187 attr-char: what may stand unencoded in ``filename*``.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"
_UNSAFE_FALLBACK = re.compile(r"[^A-Za-z0-9._-]+")


def ascii_fallback(filename: str) -> str:
    """The file name in plain ASCII letters, digits, ``.``, ``_`` and ``-`` (accents
    dropped, anything else as ``-``): safe inside a quoted header parameter."""
    stem, dot, suffix = filename.rpartition(".")
    if not dot or not stem:
        stem, suffix = filename, ""

    def clean(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text)
        ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
        return re.sub(r"-{2,}", "-", _UNSAFE_FALLBACK.sub("-", ascii_only)).strip("-.")

    stem, suffix = clean(stem) or "download", clean(suffix)
    return f"{stem}.{suffix}" if suffix else stem


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """``attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded>`` (RFC 6266)."""
    kind = "inline" if inline else "attachment"
    encoded = quote(filename, safe=_ATTR_CHAR_SAFE)
    return f"{kind}; filename=\"{ascii_fallback(filename)}\"; filename*=UTF-8''{encoded}"


def as_download(response: Response, filename: str) -> Response:
    """Mark ``response`` as a download called ``filename``."""
    response.headers["Content-Disposition"] = content_disposition(filename)
    return response


__all__ = ["as_download", "ascii_fallback", "content_disposition"]

"""Small file helpers shared by exports and backups (standard library only, so the backup
command does not import pandas or pyarrow)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The SHA-256 of the file's bytes as hex (checksums in export and backup manifests)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()

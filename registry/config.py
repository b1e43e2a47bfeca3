"""Configuration read from the environment, with safe defaults.

Every setting can be overridden by the environment (``REGISTRY_<NAME>``) or by the
``config`` mapping given to :func:`registry.create_app` (tests do that).  Nothing secret
lives in code: the secret key, when not given, is generated once and kept in the
instance folder with owner-only permissions.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

ENV_PREFIX = "REGISTRY_"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(ENV_PREFIX + name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(ENV_PREFIX + name)
    return int(value) if value else default


def load_or_create_secret(instance_path: Path, filename: str) -> str:
    """Return the secret kept in the instance folder, creating it on first use."""
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def settings_from_environment(instance_path: Path) -> dict[str, Any]:
    """Build the configuration mapping from ``REGISTRY_*`` environment variables."""
    database_url = os.environ.get(ENV_PREFIX + "DATABASE_URL") or (
        "sqlite:///" + str(instance_path / "registry.sqlite3")
    )
    session_minutes = _env_int("SESSION_IDLE_MINUTES", 30)
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ.get(ENV_PREFIX + "SECRET_KEY"),
        "AUDIT_KEY": os.environ.get(ENV_PREFIX + "AUDIT_KEY"),
        "PSEUDONYM_KEY": os.environ.get(ENV_PREFIX + "PSEUDONYM_KEY"),
        "SESSION_IDLE_TIMEOUT": timedelta(minutes=session_minutes),
        "SESSION_ABSOLUTE_LIFETIME": timedelta(hours=_env_int("SESSION_ABSOLUTE_HOURS", 12)),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_env_int("SESSION_ABSOLUTE_HOURS", 12)),
        "SESSION_COOKIE_SECURE": _env_bool("COOKIE_SECURE", False),
        # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are trusted
        # (0: none, the headers are ignored; 1: e.g. nginx in front of gunicorn).
        "TRUSTED_PROXIES": _env_int("TRUSTED_PROXIES", 0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "registry_session",
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        "WTF_CSRF_ENABLED": _env_bool("CSRF_ENABLED", True),
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_FAILED_LOGINS": _env_int("MAX_FAILED_LOGINS", 5),
        # Serious adverse events in one product lot that raise the lot alert.
        "LOT_SERIOUS_ALERT": _env_int("LOT_SERIOUS_ALERT", 2),
        "LOCKOUT_MINUTES": _env_int("LOCKOUT_MINUTES", 15),
        "SQLITE_BUSY_TIMEOUT_MS": _env_int("SQLITE_BUSY_TIMEOUT_MS", 10000),
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "SMTP_HOST": os.environ.get(ENV_PREFIX + "SMTP_HOST", "localhost"),
        "SMTP_PORT": _env_int("SMTP_PORT", 25),
        "SMTP_SECURITY": os.environ.get(ENV_PREFIX + "SMTP_SECURITY", "none"),
        "SMTP_USER": os.environ.get(ENV_PREFIX + "SMTP_USER"),
        "SMTP_PASSWORD": os.environ.get(ENV_PREFIX + "SMTP_PASSWORD"),
        "SMTP_SENDER": os.environ.get(ENV_PREFIX + "SMTP_SENDER", "registry@localhost"),
        "TODAY": os.environ.get(ENV_PREFIX + "TODAY"),
        # Research exports leave free-text fields out unless this is on (and then only
        # administrators may choose to include them).
        "EXPORT_ALLOW_FREE_TEXT": _env_bool("EXPORT_ALLOW_FREE_TEXT", False),
        # Research counts and summary cells below this are shown to researchers as "< k".
        "MIN_CELL_SIZE": _env_int("MIN_CELL_SIZE", 5),
        # The registry's public address, for links sent outside a request (patients'
        # self-report links in e-mails and from the CLI), e.g. https://registry.example.org
        "BASE_URL": os.environ.get(ENV_PREFIX + "BASE_URL", "http://127.0.0.1:5000"),
        # A self-report link of an unscheduled visit (no window) works this many days.
        "SELF_REPORT_UNSCHEDULED_DAYS": _env_int("SELF_REPORT_UNSCHEDULED_DAYS", 14),
        # Failed self-report tokens per client address and window before the address is
        # refused (HTTP 429) until the window ends.
        "SELF_REPORT_FAILED_LIMIT": _env_int("SELF_REPORT_FAILED_LIMIT", 20),
        "SELF_REPORT_FAILED_WINDOW_SECONDS": _env_int("SELF_REPORT_FAILED_WINDOW_SECONDS", 900),
        "DEBUG": _env_bool("DEBUG", False),
    }

"""Password policy and hashing.

Policy per NIST SP 800-63B §5.1.1.2 and OWASP ASVS 4.0 §2.1: at least 12 and at most
128 characters, no composition rules, refuse known common passwords and the user's own
e-mail.  Hashing with scrypt (Werkzeug's default, a memory-hard function).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("registry.auth").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def policy_problems(password: str, email: str | None = None) -> list[str]:
    """Human-readable reasons why a password is refused (empty when acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Password must be at most {MAX_LENGTH} characters long.")
    if password.lower() in common_passwords():
        problems.append("This password is too common; choose another.")
    if email and password.lower() in {email.lower(), email.split("@")[0].lower()}:
        problems.append("The password must not be your e-mail address.")
    return problems


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


# A hash to check against when the account does not exist, so that a wrong e-mail
# takes as long as a wrong password (no user enumeration by timing).
@cache
def dummy_hash() -> str:
    return hash_password("not-a-real-account-password")

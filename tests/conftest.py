"""Shared fixtures live in tests/fixtures/ and are loaded as plugins."""

from registry.auth import passwords

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.accounts",
    "tests.fixtures.clinical",
    "tests.fixtures.lots",
    "tests.fixtures.webtest",
    "tests.fixtures.mail",
]

# The suite makes and signs in accounts by the hundred: scrypt with a small work factor
# keeps the same code path (salted scrypt, checked by werkzeug) at a fraction of the cost.
# Servers and commands the tests start in processes of their own keep production's cost,
# and tests/foundation/test_auth.py checks production's setting in a fresh process.
passwords.HASH_METHOD = "scrypt:1024:8:1"

"""Views of the followup area."""

from registry.followup import bp  # noqa: F401

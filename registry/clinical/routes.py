"""Views of the clinical area."""

from registry.clinical import bp  # noqa: F401

"""Views of the research area."""

from registry.research import bp  # noqa: F401

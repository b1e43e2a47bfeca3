"""Command-line commands of the research area (added to the `registry` command)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

"""Command-line commands of the followup area (added to the `registry` command)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

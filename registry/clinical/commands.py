"""Command-line commands of the clinical area (added to the `registry` command)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

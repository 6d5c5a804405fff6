"""Subcommands of `faas` (see render/companion.py); add a module here and list it in COMMANDS."""

from __future__ import annotations

from types import ModuleType

COMMANDS: list[ModuleType] = []

# Day-to-day commands and local mode (issue 4).
from render.commands import get, invoke, job, local, logs, ls, put  # noqa: E402 - appended after the list

COMMANDS += [local, put, get, invoke, logs, job, ls]

# Sharing and reviewing (issue 5).
from render.commands import diagram, review  # noqa: E402 - appended after the list

COMMANDS += [review, diagram]

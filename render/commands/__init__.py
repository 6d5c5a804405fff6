"""Subcommands of `faas` (see render/companion.py); add a module here and list it in COMMANDS."""

from __future__ import annotations

from types import ModuleType

COMMANDS: list[ModuleType] = []

"""The subcommands of `faas` (render/faas_cli.py), one module each.

Each module exposes `register(subparsers)`, which adds its parser and sets `run=callable(args) ->
int` as its default. This is the only layer that sees argparse objects: it turns them into calls
of `render.local`, `render.aws`, `render.review`, `render.terraform` and `render.fdl`.
"""

from __future__ import annotations

from types import ModuleType

from render.commands import diagram, get, invoke, job, local, logs, ls, put, review

COMMANDS: list[ModuleType] = [local, put, get, invoke, logs, job, ls, review, diagram]

"""The subcommands of `faas` (render/faas_cli.py), one module each.

Each module exposes `register(subparsers)`, which adds its parser and sets `run=callable(args) ->
int` as its default. This is the only layer that sees argparse objects: it turns them into calls
of `render.local`, `render.aws`, `render.review`, `render.terraform` and `render.fdl`. The list of
subcommands is in render/faas_cli.py, so importing one module here loads no other.
"""

from __future__ import annotations

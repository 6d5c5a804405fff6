"""`faas`: the day-to-day companion of faas-render, one subcommand per module in render/commands.

`faas-render FDL` renders; `faas SUBCOMMAND` works with what was deployed (and with the local
emulator). Each module in render/commands exposes `register(subparsers)`, which adds its parser
and sets `run=callable(args) -> int` as its default.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from render import __version__
from render.commands import diagram, failed, get, invoke, job, local, logs, ls, put, retry, review

COMMANDS: list[ModuleType] = [local, put, get, invoke, logs, job, failed, retry, ls, review, diagram]
EPILOG = """\
Removing a deployment is `terraform destroy` in its rendered directory (or
`faas-render FDL -o DIR --destroy`): Terraform created it, Terraform removes it."""


def build_parser(commands: Sequence[ModuleType] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faas",
        description="Work with functions deployed by faas-render.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"faas {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in commands:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())

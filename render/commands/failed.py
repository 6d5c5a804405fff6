"""`faas failed [FUNCTION]`: what failed and was kept in the deployments' failures queues."""

from __future__ import annotations

import argparse
import json
from typing import Any

from render.aws.connection import Aws
from render.aws.deployed import get_function
from render.aws.failures import Failure, destination_queue, matching, queue_url, read_failures
from render.commands.errors import CommandError
from render.commands.ls import deployed, print_table
from render.commands.options import connection, connection_arguments, reported

COLUMNS = ("ID", "FUNCTION", "INPUT", "WHEN", "WHY", "ATTEMPTS")
WHY_WIDTH = 100

DESCRIPTION = """\
List the failures kept in the failures queue of FUNCTION's deployment (every deployment's without
FUNCTION): asynchronous invocations (S3 triggers, Event invokes) that still failed after Lambda's
retries or grew too old, and Batch jobs that ended FAILED. Each line gives the failure's id (`faas
retry --id ID` replays it), the function, the input object, when it failed, why, and how many
attempts were made. Failures stay 14 days, until `faas retry` replays them successfully. Listing
changes nothing.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "failed",
        parents=[connection_arguments()],
        help="list the failed invocations and Batch jobs kept for replay",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", nargs="?", metavar="FUNCTION", help="only this function's failures")
    parser.add_argument("--json", action="store_true", help="print the failures as JSON, with their whole messages")
    parser.set_defaults(run=run)


def queue_urls(aws: Aws, function: str | None) -> list[str]:
    """The failures queues of FUNCTION's deployment, or of every faas-render function deployed."""
    functions = [get_function(aws, function)] if function else [f for f, _ in deployed(aws)]
    arns = {arn for f in functions if (arn := destination_queue(aws, f))}
    return [queue_url(aws, arn) for arn in sorted(arns)]


def failures(aws: Aws, function: str | None, ident: str | None = None) -> list[Failure]:
    """The kept failures of FUNCTION's deployment (every deployment's), FUNCTION's or the one of id IDENT only."""
    urls = queue_urls(aws, function)
    if function and not urls:
        raise CommandError(
            f"{function} keeps no failures: it has no on-failure destination (its role is given in the FDL, "
            "or it was deployed before faas-render kept failures: render and apply again)"
        )
    return matching([f for url in urls for f in read_failures(aws, url)], function, ident)


def cell(text: str, width: int = WHY_WIDTH) -> str:
    """One line of at most `width` characters (`--json` has the whole text)."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 3] + "..."


def table_row(failure: Failure) -> tuple[str, ...]:
    return (failure.id, failure.function, failure.input, failure.when, cell(failure.why), str(failure.attempts))


@reported
def run(args: argparse.Namespace) -> int:
    aws = connection(args)
    found = failures(aws, args.function)
    if args.json:
        print(json.dumps([f.summary() for f in found], indent=2))
        return 0
    if not found:
        where = f"of {args.function}" if args.function else f"in {aws.describe()}"
        print(f"no failures kept {where}")
        return 0
    print_table(COLUMNS, [table_row(f) for f in found])
    return 0

"""`faas logs FUNCTION`: a function's log (its CloudWatch log group)."""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from render.aws.deployed import get_function
from render.commands.errors import EXIT_USAGE, CommandError
from render.commands.options import connection, connection_arguments, reported

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logs",
        parents=[connection_arguments()],
        help="show a function's log",
        description="Print the log events of FUNCTION's log group (/aws/lambda/FUNCTION) since a "
        "while ago, oldest first. A Batch function's log names the jobs it submitted: `faas job "
        "JOB_ID` shows their status and log.",
        epilog="examples:\n  faas logs frame-stats\n  faas logs video-split --since 2d",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", metavar="FUNCTION", help="the deployed function's name")
    parser.add_argument(
        "--since", default="1h", metavar="DURATION", help="how far back: a number and s, m, h, d or w (default: 1h)"
    )
    parser.set_defaults(run=run)


def parse_duration(text: str) -> int:
    """Seconds in '90s', '30m', '2h', '1d', '1w'."""
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if not match:
        raise CommandError(f"--since {text!r}: expected a number and a unit (s, m, h, d, w), e.g. 30m", EXIT_USAGE)
    return int(match[1]) * UNITS[match[2]]


def format_event(event: dict[str, Any]) -> str:
    milliseconds = int(event["timestamp"])
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(milliseconds / 1000))
    return f"{stamp}.{milliseconds % 1000:03d}Z {event['message'].rstrip()}"


@reported
def run(args: argparse.Namespace) -> int:
    since = parse_duration(args.since)
    aws = connection(args)
    group = get_function(aws, args.function).log_group
    logs = aws.client("logs")
    start = int((time.time() - since) * 1000)
    count = 0
    try:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=start):
            for event in sorted(page.get("events", []), key=lambda e: (e["timestamp"], e.get("eventId", ""))):
                print(format_event(event))
                count += 1
    except logs.exceptions.ResourceNotFoundException:
        raise CommandError(f"{args.function} has no log group {group} (yet)") from None
    if count == 0:
        print(f"no log events in {group} in the last {args.since}")
    return 0

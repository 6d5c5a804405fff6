"""`faas invoke FUNCTION`: invoke a function with a JSON payload, synchronously or not."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

from render.aws.connection import EXIT_USAGE, Aws, CommandError
from render.aws.deployed import DeployedFunction, code_zip, get_function
from render.commands.options import connection, connection_arguments, reported, root_argument
from render.local.cloud import LocalCloud
from render.local.service import activity, follow

DESCRIPTION = """\
Invoke FUNCTION with a JSON payload (default: {}) and print its response on stdout. With --async
the invocation is queued (Lambda's Event invocation type) and only its acceptance is reported.
A failed invocation prints Lambda's error document and exits with status 1.

Against the local emulator the function runs here, from what was deployed, followed by the Batch
jobs it submits and the functions its outputs trigger (under `faas local`, the emulator runs
those, and `faas invoke` follows them); --async runs all that in the background (its log: `faas
logs FUNCTION`).
"""

EPILOG = """\
examples:
  faas invoke frame-stats --payload '{"name": "test"}'
  faas invoke video-split --file event.json --async
  echo '{}' | faas invoke frame-stats --file -"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "invoke",
        parents=[connection_arguments(), root_argument()],
        help="invoke a function with a JSON payload (synchronously or with --async)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", metavar="FUNCTION", help="the deployed function's name")
    payload = parser.add_mutually_exclusive_group()
    payload.add_argument("--payload", metavar="JSON", help="the event, as JSON text")
    payload.add_argument("--file", type=Path, metavar="FILE", help="read the event (JSON) from FILE, or stdin for -")
    parser.add_argument("--async", dest="asynchronous", action="store_true", help="queue the invocation, don't wait")
    parser.add_argument("-v", "--verbose", action="store_true", help="local mode: show the functions' output")
    parser.set_defaults(run=run)


def read_payload(args: argparse.Namespace) -> str:
    """The payload text, checked to be JSON (Lambda accepts nothing else)."""
    if args.file is None:
        text = args.payload if args.payload is not None else "{}"
    elif str(args.file) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = args.file.read_text()
        except OSError as error:
            raise CommandError(f"{args.file}: {error.strerror}", EXIT_USAGE) from None
    try:
        json.loads(text)
    except ValueError as error:
        raise CommandError(f"the payload is not JSON: {error}", EXIT_USAGE) from None
    return text


@reported
def run(args: argparse.Namespace) -> int:
    payload = read_payload(args)
    aws = connection(args)
    function = get_function(aws, args.function)
    if not aws.is_local_emulator:
        return invoke_in_aws(aws, function, payload, args.asynchronous)
    code_zip(function, args.root)  # checked here, so that a background run cannot fail on it
    if args.asynchronous:
        return start_in_background(aws, args, payload)
    service = activity(aws.endpoint_url)
    code = partial(code_zip, root=args.root)
    with LocalCloud(aws, code, verbose=args.verbose, chain_outputs=service is None) as cloud:
        invocation = cloud.invoke(function, json.loads(payload))
    summary = cloud.summary
    if service is not None:  # `faas local` runs what the function's outputs trigger
        summary += follow(str(aws.endpoint_url), service)
    print(json.dumps(invocation.payload, indent=2))
    print(summary, file=sys.stderr)
    return 1 if invocation.failed else 0


def invoke_in_aws(aws: Aws, function: DeployedFunction, payload: str, asynchronous: bool) -> int:
    response = aws.client("lambda").invoke(
        FunctionName=function.name,
        InvocationType="Event" if asynchronous else "RequestResponse",
        Payload=payload.encode(),
    )
    if asynchronous:
        print(f"accepted (status {response['StatusCode']}): `faas logs {function.name}` follows it")
        return 0
    body = response["Payload"].read().decode()
    print(body)
    if response.get("FunctionError"):
        print(f"faas invoke: {function.name} failed ({response['FunctionError']})", file=sys.stderr)
        return 1
    return 0


def start_in_background(aws: Aws, args: argparse.Namespace, payload: str) -> int:
    """Run this same command synchronously in a detached process, as Lambda's queue would."""
    command = [
        sys.executable,
        "-m",
        "render.faas_cli",
        "invoke",
        args.function,
        "--file",
        "-",
        "--root",
        str(args.root),
    ]
    command += ["--endpoint-url", str(aws.endpoint_url), "--region", aws.region]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **aws.process_environment()},
        start_new_session=True,
    )
    assert process.stdin is not None
    process.stdin.write(payload.encode())
    process.stdin.close()
    print(f"accepted: {args.function} runs in the background (process {process.pid})")
    print(f"`faas logs {args.function}` shows its log")
    return 0

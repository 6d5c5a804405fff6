"""`faas invoke FUNCTION`: invoke a function with a JSON payload, synchronously or not."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

from botocore.config import Config

from render.aws.connection import Aws
from render.aws.deployed import DeployedFunction, code_zip, get_function
from render.commands.errors import EXIT_USAGE, CommandError
from render.commands.options import connection, connection_arguments, reported, root_argument
from render.local.activity import Activity, activity, follow
from render.local.cloud import LocalCloud
from render.local.progress import Summary

QUEUE_WAIT = 900  # s an invocation may wait under `faas local` behind what is queued before it

DESCRIPTION = """\
Invoke FUNCTION with a JSON payload (default: {}) and print its response on stdout. With --async
the invocation is queued (Lambda's Event invocation type) and only its acceptance is reported.
A failed invocation prints Lambda's error document and exits with status 1.

Against the local emulator the function runs here, from what was deployed, followed by the Batch
jobs it submits and the functions its outputs trigger. Under `faas local` the emulator runs them
all (its Invoke API runs the function, from the code it holds: no --root needed) and `faas invoke`
shows their progress until the emulator is idle; --async only queues the invocation there.
Against a plain moto server, `faas invoke` runs them itself, from the zip under --root; --async
runs all that in the background (its log: `faas logs FUNCTION`).
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
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="local mode: show the functions' output (under `faas local`, its -v shows it)",
    )
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
    service = activity(aws.endpoint_url)
    if service is not None:  # `faas local` runs it, and what follows
        if args.asynchronous:
            return invoke_in_aws(aws, function, payload, asynchronous=True)
        return invoke_and_follow(aws, function, payload, service)
    if function.image_uri is None:
        code_zip(function, args.root)  # checked here, so that a background run cannot fail on it
    if args.asynchronous:
        return start_in_background(aws, args, payload)
    with LocalCloud(aws, partial(code_zip, root=args.root), verbose=args.verbose) as cloud:
        invocation = cloud.invoke(function, json.loads(payload))
    print(json.dumps(invocation.payload, indent=2))
    print(cloud.summary, file=sys.stderr)
    return 1 if invocation.failed else 0


def invoke_and_follow(aws: Aws, function: DeployedFunction, payload: str, start: Activity) -> int:
    """Invoke through `faas local`'s API, showing its progress until what the function started is done."""
    answer, failed, summary = call_and_follow(aws, function, payload, start)
    print(json.dumps(answer, indent=2))
    print(summary, file=sys.stderr)
    return 1 if failed else 0


def call_and_follow(aws: Aws, function: DeployedFunction, payload: str, start: Activity) -> tuple[Any, bool, Summary]:
    """Invoke synchronously through `faas local`'s API and follow it: the answer, whether it failed, what ran."""
    timeout = int(function.configuration.get("Timeout", 3)) + QUEUE_WAIT
    config = Config(region_name=aws.region, read_timeout=timeout, retries={"total_max_attempts": 1})  # runs once
    client = aws.session.client("lambda", endpoint_url=aws.endpoint_url, config=config)
    answer: Future[dict[str, Any]] = Future()

    def call() -> None:  # in a daemon thread: Ctrl-C does not wait for the function
        try:
            answer.set_result(client.invoke(FunctionName=function.name, Payload=payload.encode()))
        except Exception as error:
            answer.set_exception(error)

    threading.Thread(target=call, daemon=True).start()
    summary = follow(str(aws.endpoint_url), start, busy=lambda: not answer.done())
    response = answer.result()
    return json.loads(response["Payload"].read()), bool(response.get("FunctionError")), summary


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

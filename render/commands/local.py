"""`faas local`: the local AWS emulator, in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import boto3

from render import emulator
from render.connection import DEFAULT_REGION, EMULATOR_CREDENTIALS, CommandError, reported

DESCRIPTION = f"""\
Start the local AWS emulator (a moto server holding S3, Lambda, Batch, IAM, CloudWatch Logs, EC2
...) on {emulator.DEFAULT_HOST}:{emulator.DEFAULT_PORT}, LocalStack's port, so that
AWS_ENDPOINT_URL, `--endpoint-url` and localstack-client sessions reach it. It keeps everything in
memory and stops with Ctrl-C (or SIGTERM).

The emulator stores but runs nothing: against it, `faas put` and `faas invoke` run the functions
on this machine as Lambda and Batch would, and fire the functions their outputs trigger.
"""

EPILOG = """\
then, in another shell:
  export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test \
         AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  faas-render examples/video-process/video-process.yaml -o deploy --config network.yaml --apply
  faas put video-split clip.y4m --root deploy && faas get frame-stats results --root deploy"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help=f"run the local AWS emulator on {emulator.DEFAULT_HOST}:{emulator.DEFAULT_PORT} until Ctrl-C",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default=emulator.DEFAULT_HOST, help=f"address to listen on (default: {emulator.DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=int, default=emulator.DEFAULT_PORT, help=f"port (default: {emulator.DEFAULT_PORT})"
    )
    parser.add_argument(
        "--network-config",
        type=Path,
        metavar="FILE",
        help="create a VPC, subnet and security group for Batch in the emulator and write them to FILE "
        "as a faas-render config file (pass it to faas-render --config)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    parser.set_defaults(run=run)


@reported
def run(args: argparse.Namespace) -> int:
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the server's request log
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server, endpoint = emulator.start(args.host, args.port)
    except OSError as error:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror} (is an emulator already running? try --port)"
        ) from None
    try:
        if args.network_config:
            ec2 = boto3.client(
                "ec2",
                endpoint_url=endpoint,
                region_name=DEFAULT_REGION,
                aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )
            subnet, group = emulator.create_network(args.network_config, DEFAULT_REGION, ec2)
            print(f"created {subnet} and {group} for Batch; wrote {args.network_config}", flush=True)
        credentials = " ".join(f"{k}={v}" for k, v in EMULATOR_CREDENTIALS.items())
        print(f"AWS emulator (moto) listening on {endpoint}", flush=True)
        print(f"  export AWS_ENDPOINT_URL={endpoint} {credentials} AWS_DEFAULT_REGION={DEFAULT_REGION}", flush=True)
        print("Ctrl-C stops it (everything it holds is forgotten)", flush=True)
        stop.wait()
    finally:
        server.stop()
    print("AWS emulator stopped", flush=True)
    return 0

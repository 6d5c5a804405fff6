"""`faas local`: the local AWS emulator, in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import boto3
from faas_supervisor import contract

from render.aws.connection import DEFAULT_REGION, EMULATOR_CREDENTIALS
from render.commands.errors import EXIT_USAGE, CommandError
from render.commands.options import reported
from render.local import emulator
from render.local.execution import sandbox
from render.local.execution.scratch_fs import work_base
from render.local.options import LocalOptions
from render.local.state import claim
from render.local.work_folders import remove_stale

DESCRIPTION = f"""\
Start the local AWS emulator (a moto server holding S3, Lambda, Batch, IAM, CloudWatch Logs, EC2
...) on {emulator.DEFAULT_HOST}:{emulator.DEFAULT_PORT}, LocalStack's port, so that
AWS_ENDPOINT_URL, `--endpoint-url` and localstack-client sessions reach it. It stops with Ctrl-C
(or SIGTERM). Without --state it keeps everything in memory: a stop, or a crash, forgets every
bucket, object, function, queue (the failures queue too) and image it held. With --state DIR it
records every request in DIR and replays them at the next start with the same DIR, so all of that
survives a stop and a crash (kill -9 too); the asynchronous events that were running or queued
then are run again (retried, and kept as failures when they fail). At its start it removes the
work folders (faas-local-* in the temporary folder) that emulators which did not stop cleanly left.

It also runs the functions, on this machine, as Lambda and Batch would: an upload into a
function's input folder, by any S3 client (`faas put`, the aws CLI, boto3 ...), or Lambda's Invoke
(boto3, Terraform, `faas invoke`) runs the function from what was deployed, then the Batch jobs it
submits and the functions its outputs trigger. Their progress shows here (and in `faas put` and
`faas invoke`). A function deployed as a container image runs in that image, read back from this
emulator's ECR, in a sandbox (the first that works of podman, bubblewrap, proot, unshare + chroot
as root; it says which): its entry point and command, a read-only root, a /tmp of its ephemeral
size, its environment, memory and timeout, served by the Lambda Runtime API. Its instances stay
warm and are reused; up to --concurrency items run at once (a function's reserved concurrency
caps its own). Batch jobs run in their job definition's image the same way. .zip functions (the
image builder) run on this host.

Its ECR keeps the images pushed through the ECR API (the bytes in a temporary folder, until it
stops; with --state, recorded in DIR as well) and serves them back, also as a read-only registry: http://HOST:PORT/v2/.
"""

EPILOG = """\
then, in another shell:
  export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test \
         AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  faas-render examples/video-process/video-process.yaml -o deploy --config network.yaml --apply
  faas put video-split clip.y4m --root deploy && faas get frame-stats results --root deploy
  aws s3 cp clip.y4m s3://BUCKET/video-split/input/    # runs video-split here as well"""


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
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="run up to N functions and jobs at once (default: the CPU count, here %(default)s); "
        "a function's reserved concurrency caps its own",
    )
    parser.add_argument(
        "--on-host",
        action="store_true",
        help="run image functions and Batch jobs directly on this host instead of in their images: "
        "their entry point (the image's supervisor) with this host's shell and tools, no sandbox "
        "(announced on every run)",
    )
    parser.add_argument(
        "--no-internet",
        action="store_true",
        help="keep functions and jobs off the internet: they reach only the emulator and their own "
        "Runtime API (needs a network namespace per run: root, and a sandbox other than podman)",
    )
    parser.add_argument(
        "--registry-mirror",
        metavar="URL",
        default=os.environ.get(contract.REGISTRY_MIRROR) or None,
        help="pull Docker Hub images through this registry mirror, as Docker's registry-mirrors setting "
        f"does: the image builder gets it as {contract.REGISTRY_MIRROR} (default: that variable)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="DIR",
        help="keep the emulator's state in DIR (created if missing) across stops and crashes; "
        "a later start with the same DIR replays it (default: in memory, forgotten at the stop)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every request, and show the functions' output"
    )
    parser.set_defaults(run=run)


def chosen_sandbox(on_host: bool) -> sandbox.Sandbox:
    """ON_HOST when asked, else the first sandbox that works here (exit status 2 when none does)."""
    if on_host:
        return sandbox.ON_HOST
    try:
        return sandbox.detect()
    except sandbox.SandboxUnavailable as error:
        raise CommandError(str(error), EXIT_USAGE) from None


def say(line: str) -> None:
    print(line, flush=True)


def remove_leftovers() -> None:
    """Remove the work folders of emulators (and local runs) that died without cleaning up."""
    removed = remove_stale([work_base(sandbox.LAMBDA_UID), Path(tempfile.gettempdir())])
    if removed:
        size = sum(r.size for r in removed) / 1e6
        say(f"removed {len(removed)} work folder(s) left by stopped emulators ({size:.0f} MB)")


@reported
def run(args: argparse.Namespace) -> int:
    try:
        emulator.require_emulator()
    except emulator.EmulatorMissing as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    if args.concurrency < 1:
        raise CommandError("--concurrency must be at least 1", EXIT_USAGE)
    chosen = chosen_sandbox(args.on_host)
    if args.no_internet:
        if not chosen.has_own_network:  # the host's network: the internet cannot be cut
            raise CommandError(
                f"--no-internet needs a network namespace per run, which {chosen.describe()} does not give here",
                EXIT_USAGE,
            )
        chosen = dataclasses.replace(chosen, internet=False)
    options = LocalOptions(chosen, args.registry_mirror, args.concurrency)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the server's request log
    if args.state:
        try:
            claim(args.state)
        except OSError as error:
            raise CommandError(f"--state {args.state}: {error.strerror or error}", EXIT_USAGE) from None
    remove_leftovers()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        running = emulator.start(
            args.host,
            args.port,
            run_functions=True,
            verbose=args.verbose,
            output=say,
            options=options,
            state=args.state,
        )
    except OSError as error:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror} (is an emulator already running? try --port)"
        ) from None
    try:
        if args.network_config:
            ec2 = boto3.client(
                "ec2",
                endpoint_url=running.endpoint,
                region_name=DEFAULT_REGION,
                aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )
            subnet, group = emulator.create_network(args.network_config, DEFAULT_REGION, ec2)
            say(f"created {subnet} and {group} for Batch; wrote {args.network_config}")
        credentials = " ".join(f"{k}={v}" for k, v in EMULATOR_CREDENTIALS.items())
        if chosen is sandbox.ON_HOST:
            say("notice: --on-host: image functions and Batch jobs run on this host, not in their images")
        else:
            say(f"sandbox: {chosen.describe()}")
        if args.registry_mirror:
            say(f"registry mirror: {args.registry_mirror}")
        say(f"AWS emulator (moto) listening on {running.endpoint}")
        say(f"  export AWS_ENDPOINT_URL={running.endpoint} {credentials} AWS_DEFAULT_REGION={DEFAULT_REGION}")
        say("uploads into functions' input folders, and invocations, run them here; Ctrl-C stops")
        if args.state:
            say(f"state: kept in {args.state}: a stop or a crash forgets nothing, the next start replays it")
        else:
            say("state: in memory only: a stop or a crash forgets every bucket, function, queue and image")
        stop.wait()
    finally:
        running.stop()
    say("AWS emulator stopped")
    return 0

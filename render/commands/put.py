"""`faas put FUNCTION PATH...`: upload files or folders into a function's input folder."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from render.aws.deployed import code_zip, function_config, get_function
from render.commands.errors import EXIT_USAGE, CommandError
from render.commands.options import connection, connection_arguments, reported, root_argument
from render.fdl.errors import is_utf8, printable
from render.local.activity import activity, follow
from render.local.cloud import LocalCloud

DESCRIPTION = """\
Upload files or folders into the first input folder of FUNCTION (read from the configuration it
was deployed with). A file lands as INPUT/NAME; a folder's files keep their paths relative to the
folder, as with `aws s3 cp --recursive`.

In AWS the upload triggers the function; follow it with `faas logs FUNCTION`. Against `faas local`
the upload runs the function on this machine, from what was deployed, then the Batch jobs it
submits and the functions its outputs trigger: `faas put` shows each step and waits for the last.
Against another moto server, which runs nothing itself, `faas put` runs them.
"""

EPILOG = """\
examples:
  faas put video-split clip.y4m --root deploy/
  faas put frame-stats frames/ -v"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "put",
        parents=[connection_arguments(), root_argument()],
        help="upload files or folders into a function's input folder (locally: and run the workflow)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", metavar="FUNCTION", help="the deployed function's name")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a file or a folder to upload")
    parser.add_argument(
        "--no-run",
        action="store_true",
        help="local mode: only upload (`faas local` still runs what the upload triggers; this does not wait for it)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="local mode: show the functions' output (under `faas local`, `faas local -v` shows it)",
    )
    parser.set_defaults(run=run)


def files_to_upload(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, its key relative to the input folder) for every file named or inside a folder named."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_file():
            found.append((path, path.name))
        elif path.is_dir():
            found += [(f, f.relative_to(path).as_posix()) for f in sorted(path.rglob("*")) if f.is_file()]
        else:
            raise CommandError(f"{path}: no such file or folder", EXIT_USAGE)
    if not found:
        raise CommandError(f"nothing to upload: {', '.join(map(str, paths))} hold(s) no files", EXIT_USAGE)
    if foreign := [printable(path) for path, key in found if not is_utf8(key)]:  # S3 keys are UTF-8
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise CommandError(f"file names that are not UTF-8 (nothing was uploaded): {shown}", EXIT_USAGE)
    return found


@reported
def run(args: argparse.Namespace) -> int:
    files = files_to_upload(args.paths)
    aws = connection(args)
    function = get_function(aws, args.function)
    inputs = function_config(aws, function, args.root).inputs
    if not inputs:
        raise CommandError(f"{function.name} has no input folder (use `faas invoke`)", EXIT_USAGE)
    service = activity(aws.endpoint_url) if aws.is_local_emulator else None
    runs_here = aws.is_local_emulator and service is None and not args.no_run
    if runs_here and function.image_uri is None:
        code_zip(function, args.root)  # fail before uploading when the function cannot run here
    target, s3 = inputs[0], aws.client("s3")
    written = []
    for path, relative in files:
        key = target.key_for(relative)
        s3.upload_file(str(path), target.bucket, key)
        print(f"upload: {printable(path)} to s3://{target.bucket}/{key}", flush=True)
        written.append(f"s3://{target.bucket}/{key}")
    if not aws.is_local_emulator:
        print(f"{function.name} runs in AWS now: `faas logs {function.name}` follows it")
        return 0
    if args.no_run:
        return 0
    if service is not None:
        summary = follow(str(aws.endpoint_url), service)
    else:
        with LocalCloud(aws, partial(code_zip, root=args.root), verbose=args.verbose) as cloud:
            summary = cloud.objects_written(written)
    print(summary)
    return 1 if summary.failed else 0

"""`faas get FUNCTION [DEST]`: download what is in a function's output folders."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from render.aws.deployed import function_config, get_function, output_locations
from render.commands.options import connection, connection_arguments, reported, root_argument


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "get",
        parents=[connection_arguments(), root_argument()],
        help="download the contents of a function's output folders",
        description="Download every object under the output folders of FUNCTION (read from the "
        "configuration it was deployed with) into DEST, keeping their paths relative to the folder.",
        epilog="example:\n  faas get frame-stats results/ --root deploy/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", metavar="FUNCTION", help="the deployed function's name")
    parser.add_argument(
        "dest", nargs="?", type=Path, default=Path("."), metavar="DEST", help="folder to download into (default: .)"
    )
    parser.set_defaults(run=run)


@reported
def run(args: argparse.Namespace) -> int:
    aws = connection(args)
    function = get_function(aws, args.function)
    s3 = aws.client("s3")
    count = 0
    for folder in output_locations(function_config(aws, function, args.root)):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=folder.bucket, Prefix=folder.filter_prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue  # a folder marker
                target = args.dest / item["Key"].removeprefix(folder.filter_prefix)
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(folder.bucket, item["Key"], str(target))
                print(f"download: s3://{folder.bucket}/{item['Key']} to {target}")
                count += 1
    if count == 0:
        print(f"{function.name}'s output folders are empty")
    return 0

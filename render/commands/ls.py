"""`faas ls`: the functions faas-render deployed, with their mode, memory and Batch queue."""

from __future__ import annotations

import argparse
import json
from typing import Any

from render.aws.connection import Aws
from render.aws.deployed import DeployedFunction, job_config_uri, read_s3_uri
from render.commands.options import connection, connection_arguments, reported

DEPLOYMENT_TAG = "faas-render:deployment"
COLUMNS = ("FUNCTION", "MODE", "MEMORY", "TIMEOUT", "BATCH QUEUE", "DEPLOYMENT")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ls",
        parents=[connection_arguments()],
        help="list the deployed functions with their mode, memory and Batch queue",
        description="List the Lambda functions deployed by faas-render in the region: execution "
        "mode, memory (MB), timeout (s), the Batch job queue of batch and lambda-batch functions, "
        "and the deployment (the FDL) they belong to. Remove a deployment with `terraform destroy` "
        "in its rendered directory.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)


def mode(aws: Aws, function: DeployedFunction) -> str:
    """lambda without a job queue; otherwise the staged configuration says batch or lambda-batch."""
    if not function.job_queue:
        return "lambda"
    return str(json.loads(read_s3_uri(aws, job_config_uri(aws, function)))["execution_mode"])


def row(aws: Aws, function: DeployedFunction) -> tuple[str, ...] | None:
    """The function's line, or None when it is not a faas-render function."""
    config = function.configuration
    if not function.is_faas_render and config.get("PackageType") != "Image":
        return None
    tags = aws.client("lambda").list_tags(Resource=config["FunctionArn"]).get("Tags", {})
    if not function.is_faas_render and DEPLOYMENT_TAG not in tags:  # an image function of someone else's
        return None
    return (
        function.name,
        mode(aws, function),
        str(config.get("MemorySize", "")),
        str(config.get("Timeout", "")),
        (function.job_queue or "-").rsplit("/", 1)[-1],
        tags.get(DEPLOYMENT_TAG, "-"),
    )


@reported
def run(args: argparse.Namespace) -> int:
    aws = connection(args)
    functions = [
        DeployedFunction(c)
        for page in aws.client("lambda").get_paginator("list_functions").paginate()
        for c in page["Functions"]
    ]
    rows = [line for f in sorted(functions, key=lambda f: f.name) if (line := row(aws, f))]
    if not rows:
        print(f"no faas-render functions in {aws.describe()}")
        return 0
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    for line in [COLUMNS, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0

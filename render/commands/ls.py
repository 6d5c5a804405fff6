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


def deployed(aws: Aws) -> list[tuple[DeployedFunction, dict[str, str]]]:
    """The region's functions deployed by faas-render, by name, with their tags."""
    found = []
    for page in aws.client("lambda").get_paginator("list_functions").paginate():
        for config in page["Functions"]:
            function = DeployedFunction(config)
            if not function.is_faas_render and config.get("PackageType") != "Image":
                continue
            tags = aws.client("lambda").list_tags(Resource=config["FunctionArn"]).get("Tags", {})
            if function.is_faas_render or DEPLOYMENT_TAG in tags:  # not an image function of someone else's
                found.append((function, tags))
    return sorted(found, key=lambda pair: pair[0].name)


def row(aws: Aws, function: DeployedFunction, tags: dict[str, str]) -> tuple[str, ...]:
    config = function.configuration
    return (
        function.name,
        mode(aws, function),
        str(config.get("MemorySize", "")),
        str(config.get("Timeout", "")),
        (function.job_queue or "-").rsplit("/", 1)[-1],
        tags.get(DEPLOYMENT_TAG, "-"),
    )


def print_table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
    for line in [columns, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


@reported
def run(args: argparse.Namespace) -> int:
    aws = connection(args)
    rows = [row(aws, function, tags) for function, tags in deployed(aws)]
    if not rows:
        print(f"no faas-render functions in {aws.describe()}")
        return 0
    print_table(COLUMNS, rows)
    return 0

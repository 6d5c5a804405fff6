"""A deployed faas-render function, as AWS's public APIs (and the rendered root) describe it.

Its input and output folders are in the function_config.json it was deployed with: inside the
Lambda zip, which is read from the rendered root (`artifacts/lambda/NAME.zip`, checked against
the deployed CodeSha256, since moto cannot serve the code back), or, for Batch functions, the copy
staged for the job (the job definition's FAAS_CONFIG_URI).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from render.aws.connection import Aws, CommandError

SUPERVISOR_HANDLER = "faas_supervisor.lambda_function.lambda_handler"
CONFIG_FILE_NAME = "function_config.json"
ZIP_FOLDER = "artifacts/lambda"
ROOT_HINT = "pass --root DIR, the directory faas-render rendered the deployment into"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key_prefix: str

    def key_for(self, relative: str) -> str:
        return f"{self.key_prefix}/{relative}" if self.key_prefix else relative

    @property
    def list_prefix(self) -> str:
        return f"{self.key_prefix}/" if self.key_prefix else ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.list_prefix}"


@dataclass(frozen=True)
class DeployedFunction:
    configuration: dict[str, Any]  # get_function's Configuration

    @property
    def name(self) -> str:
        return str(self.configuration["FunctionName"])

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.configuration.get("Environment", {}).get("Variables", {}))

    @property
    def job_queue(self) -> str | None:
        return self.environment.get("FAAS_JOB_QUEUE")

    @property
    def is_faas_render(self) -> bool:
        return self.configuration.get("Handler") == SUPERVISOR_HANDLER


def get_function(aws: Aws, name: str) -> DeployedFunction:
    try:
        configuration = aws.client("lambda").get_function(FunctionName=name)["Configuration"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        raise CommandError(f"no function {name} in {aws.describe()}: `faas ls` lists the deployed ones") from None
    return DeployedFunction(configuration)


def code_zip(function: DeployedFunction, root: Path) -> bytes:
    """The function's deployment package from the rendered root, verified against the deployed one."""
    path = root / ZIP_FOLDER / f"{function.name}.zip"
    try:
        content = path.read_bytes()
    except OSError:
        raise CommandError(f"{path} not found: {ROOT_HINT}", 2) from None
    if not is_deployed_code(function, content):
        raise CommandError(
            f"{path} is not the code deployed as {function.name} (render and apply again, or {ROOT_HINT})", 2
        )
    return content


def is_deployed_code(function: DeployedFunction, content: bytes) -> bool:
    """Whether `content` is the deployment package Lambda holds for the function (its CodeSha256)."""
    return base64.b64encode(hashlib.sha256(content).digest()).decode() == function.configuration.get("CodeSha256")


def read_s3_uri(aws: Aws, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def function_config(aws: Aws, function: DeployedFunction, root: Path) -> dict[str, Any]:
    """The function_config.json the function was deployed with."""
    if not (root / ZIP_FOLDER / f"{function.name}.zip").is_file() and function.job_queue:
        return dict(json.loads(read_s3_uri(aws, job_config_uri(aws, function))))
    with zipfile.ZipFile(io.BytesIO(code_zip(function, root))) as archive:
        return dict(json.loads(archive.read(CONFIG_FILE_NAME)))


def job_config_uri(aws: Aws, function: DeployedFunction) -> str:
    """FAAS_CONFIG_URI of the function's Batch job definition."""
    name = function.environment.get("FAAS_JOB_DEFINITION", function.name)
    found = aws.client("batch").describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    if not found:
        raise CommandError(f"the Batch job definition {name} of {function.name} is not deployed")
    latest = max(found, key=lambda d: d["revision"])
    environment = {e["name"]: e["value"] for e in latest["containerProperties"].get("environment", [])}
    if "FAAS_CONFIG_URI" not in environment:
        raise CommandError(f"the Batch job definition {name} has no FAAS_CONFIG_URI: not deployed by faas-render")
    return environment["FAAS_CONFIG_URI"]


def locations(config: dict[str, Any], kind: str) -> list[S3Location]:
    """The `input` or `output` folders of a function_config.json."""
    return [S3Location(entry["bucket"], entry.get("key_prefix", "").strip("/")) for entry in config.get(kind, [])]


def root_argument() -> argparse.ArgumentParser:
    """--root: where the deployment was rendered (its zips hold the functions' code and configuration)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the directory faas-render rendered the deployment into (default: the current directory)",
    )
    return parser

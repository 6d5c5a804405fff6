"""A deployed faas-render function, as AWS's public APIs (and the rendered root) describe it.

Its input and output folders are in the function_config.json it was deployed with: in the top
layer of its image (read back through the ECR API), inside the Lambda zip, which is read from the
rendered root (`artifacts/lambda/NAME.zip`, checked against the deployed CodeSha256, since moto
cannot serve the code back), or, for Batch functions, the copy staged for the job (the job
definition's configuration URI).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from faas_supervisor import contract
from faas_supervisor.config import FunctionConfig, load_config_bytes
from faas_supervisor.contract import CONFIG_FILE_NAME, S3Location
from faas_supervisor.errors import ConfigError

from render.aws.connection import Aws, AwsError

ZIP_FOLDER = "artifacts/lambda"
MAX_FUNCTION_LAYER = 16 * 1024 * 1024  # a configuration and a script
ROOT_HINT = "pass --root DIR, the directory faas-render rendered the deployment into"


@dataclass(frozen=True)
class DeployedFunction:
    configuration: dict[str, Any]  # get_function's Configuration
    code: dict[str, Any] = field(default_factory=dict)  # get_function's Code (its ImageUri), when read

    @property
    def image_uri(self) -> str | None:
        """The container image of a function deployed as one."""
        if self.configuration.get("PackageType") != "Image":
            return None
        return str(self.code.get("ImageUri") or "") or None

    @property
    def name(self) -> str:
        return str(self.configuration["FunctionName"])

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.configuration.get("Environment", {}).get("Variables", {}))

    @property
    def job_queue(self) -> str | None:
        return self.environment.get(contract.JOB_QUEUE)

    @property
    def log_group(self) -> str:
        configured = self.configuration.get("LoggingConfig", {}).get("LogGroup")
        return str(configured or contract.lambda_log_group(self.name))

    @property
    def is_faas_render(self) -> bool:
        return self.configuration.get("Handler") == contract.HANDLER


def get_function(aws: Aws, name: str) -> DeployedFunction:
    try:
        found = aws.client("lambda").get_function(FunctionName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        raise AwsError(f"no function {name} in {aws.describe()}: `faas ls` lists the deployed ones") from None
    return DeployedFunction(found["Configuration"], found.get("Code", {}))


def reserved_concurrency(aws: Aws, function: DeployedFunction) -> int | None:
    """The function's reserved concurrency, as GetFunctionConcurrency answers it (None: unreserved)."""
    reserved = aws.client("lambda").get_function_concurrency(FunctionName=function.name)
    found = reserved.get("ReservedConcurrentExecutions")
    return None if found is None else int(found)


def code_zip(function: DeployedFunction, root: Path) -> bytes:
    """The function's deployment package from the rendered root, verified against the deployed one."""
    path = root / ZIP_FOLDER / f"{function.name}.zip"
    try:
        content = path.read_bytes()
    except OSError:
        raise AwsError(f"{path} not found: {ROOT_HINT}", invalid_input=True) from None
    if not is_deployed_code(function, content):
        raise AwsError(
            f"{path} is not the code deployed as {function.name} (render and apply again, or {ROOT_HINT})",
            invalid_input=True,
        )
    return content


def is_deployed_code(function: DeployedFunction, content: bytes) -> bool:
    """Whether `content` is the deployment package Lambda holds for the function (its CodeSha256)."""
    return base64.b64encode(hashlib.sha256(content).digest()).decode() == function.configuration.get("CodeSha256")


def read_s3_uri(aws: Aws, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def function_config(aws: Aws, function: DeployedFunction, root: Path) -> FunctionConfig:
    """The function configuration the function was deployed with."""
    if function.image_uri:
        return image_config(aws, function.image_uri)
    if not (root / ZIP_FOLDER / f"{function.name}.zip").is_file() and function.job_queue:
        uri = job_config_uri(aws, function)
        return load_config(read_s3_uri(aws, uri), uri)
    with zipfile.ZipFile(io.BytesIO(code_zip(function, root))) as archive:
        return load_config(archive.read(CONFIG_FILE_NAME), f"{function.name}.zip:{CONFIG_FILE_NAME}")


def image_config(aws: Aws, image_uri: str) -> FunctionConfig:
    """function_config.json from the image's top layer (the function layer: contract.IMAGE_TASK_ROOT)."""
    repository, _, digest = image_uri.partition("/")[2].partition("@")
    if not digest:
        raise AwsError(f"the function's image {image_uri} is not pinned by digest: not deployed by faas-render")
    ecr = aws.client("ecr")
    try:
        found = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])["images"]
        top = json.loads(found[0]["imageManifest"])["layers"][-1]
        url = ecr.get_download_url_for_layer(repositoryName=repository, layerDigest=top["digest"])["downloadUrl"]
    except (ClientError, IndexError, KeyError, ValueError) as error:
        raise AwsError(f"cannot read the image {image_uri}: {error}") from None
    if top.get("size", 0) > MAX_FUNCTION_LAYER:
        raise AwsError(f"the top layer of {image_uri} is not a faas-render function layer")
    with urllib.request.urlopen(url, timeout=60) as answer:  # a presigned URL (ECR's own, or the emulator's)
        layer = answer.read(MAX_FUNCTION_LAYER + 1)
    if "sha256:" + hashlib.sha256(layer).hexdigest() != top["digest"]:
        raise AwsError(f"the top layer of {image_uri} does not match its digest")
    name = f"{contract.IMAGE_TASK_ROOT.strip('/')}/{CONFIG_FILE_NAME}"
    try:
        with tarfile.open(fileobj=io.BytesIO(layer)) as archive:
            member = archive.extractfile(name)
            data = member.read() if member else b""
    except (tarfile.TarError, KeyError):
        raise AwsError(f"the image {image_uri} has no /{name}: not deployed by faas-render") from None
    return load_config(data, f"{image_uri}:/{name}")


def load_config(data: bytes, source: str) -> FunctionConfig:
    try:
        return load_config_bytes(data, source)
    except ConfigError as error:
        raise AwsError(f"not a faas-render function configuration: {error}") from None


def job_config_uri(aws: Aws, function: DeployedFunction) -> str:
    """The configuration URI (contract.CONFIG_URI) of the function's Batch job definition."""
    name = function.environment.get(contract.JOB_DEFINITION, function.name)
    found = aws.client("batch").describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    if not found:
        raise AwsError(f"the Batch job definition {name} of {function.name} is not deployed")
    latest = max(found, key=lambda d: d["revision"])
    environment = {e["name"]: e["value"] for e in latest["containerProperties"].get("environment", [])}
    if contract.CONFIG_URI not in environment:
        raise AwsError(f"the Batch job definition {name} has no {contract.CONFIG_URI}: not deployed by faas-render")
    return environment[contract.CONFIG_URI]


def output_locations(config: FunctionConfig) -> list[S3Location]:
    """The function's output folders, each once."""
    return list(dict.fromkeys(S3Location(o.bucket, o.key_prefix) for o in config.outputs))

"""moto's Lambda: Invoke runs the function, and two answers as Lambda gives them.

- Invoke: with `lambda.use_docker` off (the emulator's setting), moto answers from
  LambdaSimpleBackend.invoke, which runs nothing. While a service runs, the function is queued on
  it with the request's payload as its event: RequestResponse waits for the function and answers
  with its result (status 200), or with Lambda's error document and `X-Amz-Function-Error:
  Unhandled` when it failed; Event answers 202 at once; DryRun runs nothing (204). moto's own code
  still finds the function (its not-found error) and writes the HTTP answer.
- GetFunction leaves ImageConfigResponse out when an image function has no ImageConfig, as Lambda
  does (moto answers `"Command": [], "EntryPoint": []`, and the aws provider then plans to remove
  them after every apply).
- CreateFunction and UpdateFunctionCode of an image in this emulator's ECR: the image must exist
  (InvalidParameterValueException), and the repository's policy must let lambda.amazonaws.com pull
  it for this function (AccessDeniedException, 403). moto checks neither. (AWS adds the statement
  itself when the caller may set repository policies; a deployer that may not gets this error, and
  so does the emulator, which also keeps a policy that names the wrong function from passing.)
  Its layers must be gzip (InvalidParameterValueException), as Lambda runs no other.
- PutFunctionEventInvokeConfig replaces the function's configuration, as Lambda does (moto appends
  each one and answers with the first: a changed `retry_attempts` would never take effect).

`function_model` reads a function from moto's backend directly (this process is the emulator).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.utils import get_backend
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.ecr.models import Repository, ecr_backends

from render.local.moto.hooks import HOOKS
from render.local.moto.patch import Patches

PATCHES = Patches()


class FunctionNotFound(LookupError):
    """No such function in the emulator."""


def function_model(function_arn: str) -> Any:
    """moto's model of the function; FunctionNotFound when there is none."""
    _, _, _, region, account, *_ = function_arn.split(":")
    try:
        return get_backend(account, region).get_function(function_arn)
    except LambdaClientError:
        raise FunctionNotFound(function_arn) from None


def parse_event(body: Any) -> Any:
    """The Invoke request's payload; Lambda refuses what is not JSON."""
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        ) from None


@PATCHES.patch(
    LambdaSimpleBackend, "invoke", ("self", "function_name", "qualifier", "body", "headers", "response_headers")
)
def invoke(
    original: Callable[..., bytes],
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: dict[str, str],
) -> bytes:
    service = HOOKS.service
    if service is None:  # a plain emulator: moto's canned answer
        return original(self, function_name, qualifier, body, headers, response_headers)
    function = self.get_function(function_name, qualifier)
    kind = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    event = parse_event(body)
    if kind == "DryRun":
        return b""
    if kind == "Event":
        service.invoke_async(function.function_arn, event)
        return b""
    invocation = service.invoke(function.function_arn, event)
    if invocation.failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-executed-version"] = str(function.version)
    return json.dumps(invocation.payload).encode()


ECR_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# Lambda runs gzip layers only: zstd or uncompressed layers are refused at CreateFunction.
LAMBDA_LAYER_TYPES = (
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar+gzip",
)


class EcrImageAccessDenied(LambdaClientError):
    code = 403

    def __init__(self) -> None:
        super().__init__(
            "AccessDeniedException",
            "Lambda does not have permission to access the ECR image. Check the ECR permissions.",
        )


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _conditions_hold(conditions: dict[str, Any], function_arn: str, account: str) -> bool:
    """The conditions a pull for `function_arn` meets; any other condition key does not hold."""
    context = {"aws:sourcearn": function_arn, "aws:sourceaccount": account}
    for test, keys in conditions.items():
        for key, values in keys.items():
            actual = context.get(key.lower())
            if actual is None:
                return False
            if test in ("StringLike", "ArnLike"):
                matched = any(fnmatch.fnmatchcase(actual, v) for v in _listed(values))
            elif test in ("StringEquals", "ArnEquals"):
                matched = actual in _listed(values)
            else:
                return False
            if not matched:
                return False
    return True


def lambda_may_pull(repository: Repository, function_arn: str, account: str) -> bool:
    """Whether the repository's policy allows lambda.amazonaws.com both pull actions for the function."""
    allowed: set[str] = set()
    statements = json.loads(repository.policy).get("Statement", []) if repository.policy else []
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal")
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else _listed(principal)
        if statement.get("Effect") != "Allow" or not ({"lambda.amazonaws.com", "*"} & set(services)):
            continue
        if _conditions_hold(statement.get("Condition") or {}, function_arn, account):
            actions = _listed(statement.get("Action"))
            allowed |= {a for a in PULL_ACTIONS if any(fnmatch.fnmatch(a.lower(), p.lower()) for p in actions)}
    return allowed == set(PULL_ACTIONS)


def check_image(image_uri: str, function_arn: str) -> None:
    """Lambda's checks of an image in ECR at CreateFunction and UpdateFunctionCode."""
    match = ECR_IMAGE_URI.match(image_uri)
    if match is None:
        return  # Lambda itself refuses images outside ECR
    missing = InvalidParameterValueException(f"Source image {image_uri} does not exist. Provide a valid source image.")
    repository = ecr_backends[match["account"]][match["region"]].repositories.get(match["repository"])
    if repository is None:
        raise missing
    tag, digest = match["tag"] or "latest", match["digest"]
    found = [i for i in repository.images if (i.get_image_digest() == digest if digest else tag in i.image_tags)]
    if not found:
        raise missing
    if not lambda_may_pull(repository, function_arn, match["account"]):
        raise EcrImageAccessDenied()
    layers = json.loads(found[0].image_manifest).get("layers") or []
    if any(layer.get("mediaType") not in LAMBDA_LAYER_TYPES for layer in layers):
        raise InvalidParameterValueException(
            f"The image manifest or layer media type for the source image {image_uri} is not supported."
        )


@PATCHES.patch(LambdaBackend, "create_function", ("self", "spec"))
def create_function(original: Callable[..., LambdaFunction], self: LambdaBackend, spec: dict[str, Any]) -> Any:
    image_uri = (spec.get("Code") or {}).get("ImageUri")
    if spec.get("PackageType") == "Image" and image_uri:
        check_image(
            image_uri, f"arn:aws:lambda:{self.region_name}:{self.account_id}:function:{spec.get('FunctionName')}"
        )
    return original(self, spec)


@PATCHES.patch(LambdaBackend, "update_function_code", ("self", "function_name", "qualifier", "body"))
def update_function_code(
    original: Callable[..., Any], self: LambdaBackend, function_name: str, qualifier: str, body: dict[str, Any]
) -> Any:
    if body.get("ImageUri"):
        check_image(body["ImageUri"], self.get_function(function_name, qualifier).function_arn)
    return original(self, function_name, qualifier, body)


@PATCHES.patch(LambdaFunction, "get_configuration", ("self", "on_create"))
def get_configuration(original: Callable[..., dict[str, Any]], self: LambdaFunction, on_create: bool = False) -> Any:
    config = original(self, on_create)
    image_config = config.get("ImageConfigResponse", {}).get("ImageConfig", {})
    if "ImageConfigResponse" in config and not any(image_config.values()):
        del config["ImageConfigResponse"]
    return config


@PATCHES.patch(LambdaBackend, "put_function_event_invoke_config", ("self", "function_name", "config"))
def put_function_event_invoke_config(
    original: Callable[..., dict[str, Any]], self: LambdaBackend, function_name: str, config: dict[str, Any]
) -> dict[str, Any]:
    self.get_function(function_name).event_invoke_config = []
    return original(self, function_name, config)

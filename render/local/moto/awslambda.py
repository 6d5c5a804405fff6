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
- PutFunctionEventInvokeConfig replaces the function's configuration, as Lambda does (moto appends
  each one and answers with the first: a changed `retry_attempts` would never take effect).

`function_model` reads a function from moto's backend directly (this process is the emulator).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.utils import get_backend
from moto.awslambda_simple.models import LambdaSimpleBackend

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

"""`faas local` answers Lambda's Invoke by running the function, as Lambda would.

With `lambda.use_docker` off (the emulator's setting), moto's server answers Invoke from
LambdaSimpleBackend.invoke, which runs nothing and returns a canned payload. While a service runs,
that method is replaced in the emulator's process: the function is queued on the service
(render/local/service.py) with the request's payload as its event, and run from the code moto
holds. RequestResponse waits for the function and answers with its result (status 200), or with
Lambda's error document and `X-Amz-Function-Error: Unhandled` when it failed; Event answers 202 at
once; DryRun runs nothing (204). moto's own code still finds the function (its not-found error)
and writes the HTTP answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda_simple.models import LambdaSimpleBackend

from render.local.service import LocalService


def parse_event(body: Any) -> Any:
    """The Invoke request's payload; Lambda refuses what is not JSON."""
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        ) from None


def install(service: LocalService) -> Callable[[], None]:
    """Answer Invoke through `service` from now on; the returned callable puts moto's answer back."""
    original = LambdaSimpleBackend.__dict__["invoke"]

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
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

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    return lambda: setattr(LambdaSimpleBackend, "invoke", original)

"""The AWS Lambda Runtime API loop: the supervisor as the entry point of a function's image.

``python -m faas_supervisor`` (and the frozen supervisor) come here when AWS_LAMBDA_RUNTIME_API is
set. Initialisation (function config, script or command) happens once, before the first
``next``; a failure is posted to ``/runtime/init/error`` and the process exits. Then, forever:
take the next event, call the same ``lambda_function.lambda_handler`` as the Lambda zip, post its
result to ``/response`` or its exception to ``/error``. Standard library only: an HTTP/1.1
connection kept open to the local endpoint (no proxy: it is on the instance).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import lambda_function, logs
from .errors import SUPERVISOR_FAILURE

log = logging.getLogger(__name__)

API_PREFIX = "/2018-06-01/runtime"
TRACE_ENV = "_X_AMZN_TRACE_ID"


@dataclass(frozen=True)
class Invocation:
    request_id: str
    deadline_ms: int  # epoch milliseconds
    function_arn: str
    trace_id: str | None
    body: bytes


@dataclass(frozen=True)
class LambdaContext:
    """The context object the Python runtime gives a handler (the parts a handler reads)."""

    aws_request_id: str
    invoked_function_arn: str
    deadline_ms: int
    function_name: str
    function_version: str
    memory_limit_in_mb: str  # a string, as in AWS's Python runtime
    log_group_name: str
    log_stream_name: str

    @classmethod
    def for_invocation(cls, invocation: Invocation, env: Mapping[str, str]) -> LambdaContext:
        return cls(
            aws_request_id=invocation.request_id,
            invoked_function_arn=invocation.function_arn,
            deadline_ms=invocation.deadline_ms,
            function_name=env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            function_version=env.get("AWS_LAMBDA_FUNCTION_VERSION", ""),
            memory_limit_in_mb=env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""),
            log_group_name=env.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
            log_stream_name=env.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
        )

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


class RuntimeApiError(Exception):
    """The Runtime API answered with an error status or without a required header.

    Not caught: the process exits and Lambda replaces the instance.
    """


def error_document(exc: BaseException) -> dict[str, Any]:
    """The error shape Lambda reports to the caller and in the logs."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def _required(headers: http.client.HTTPMessage, name: str) -> str:
    value = headers.get(name)
    if not value:
        raise RuntimeApiError(f"the next invocation came without the {name} header")
    return str(value)


class RuntimeClient:
    def __init__(self, address: str) -> None:
        # HOST:PORT as on AWS, or HOST:PORT/PREFIX (a local instance's secret path): every request's
        # path is PREFIX's, as for runtimes that join "http://" + the address + the API's path.
        # No timeout: `next` blocks until an event arrives (the instance is frozen meanwhile).
        host, slash, prefix = address.partition("/")
        self.prefix = (slash + prefix).rstrip("/") + API_PREFIX
        self.connection = http.client.HTTPConnection(host)

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[http.client.HTTPMessage, bytes]:
        self.connection.request(method, self.prefix + path, body=body, headers=dict(headers or {}))
        response = self.connection.getresponse()
        data = response.read()  # read whole, so the connection can carry the next request
        if response.status >= 300:  # the path (and its secret) stays out of the message
            raise RuntimeApiError(f"{method} {API_PREFIX}{path}: HTTP {response.status} {data[:200]!r}")
        return response.headers, data

    def next(self) -> Invocation:
        headers, body = self._request("GET", "/invocation/next")
        return Invocation(
            request_id=_required(headers, "Lambda-Runtime-Aws-Request-Id"),
            deadline_ms=int(_required(headers, "Lambda-Runtime-Deadline-Ms")),
            function_arn=headers.get("Lambda-Runtime-Invoked-Function-Arn", ""),
            trace_id=headers.get("Lambda-Runtime-Trace-Id"),
            body=body,
        )

    def respond(self, request_id: str, payload: bytes) -> None:
        self._request("POST", f"/invocation/{request_id}/response", payload)

    def fail(self, request_id: str, exc: BaseException) -> None:
        self._post_error(f"/invocation/{request_id}/error", exc)

    def init_failed(self, exc: BaseException) -> None:
        self._post_error("/init/error", exc)

    def _post_error(self, path: str, exc: BaseException) -> None:
        body = json.dumps(error_document(exc)).encode()
        self._request("POST", path, body, {"Lambda-Runtime-Function-Error-Type": "Unhandled"})


def decode_event(body: bytes) -> Any:
    """The event as the handler takes it: decoded JSON, else the text (the handler's raw input)."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")  # Lambda itself only accepts JSON payloads


def serve_one(client: RuntimeClient) -> None:
    invocation = client.next()
    if invocation.trace_id:
        os.environ[TRACE_ENV] = invocation.trace_id  # read by the AWS SDKs, and passed to the script
    else:
        os.environ.pop(TRACE_ENV, None)
    context = LambdaContext.for_invocation(invocation, os.environ)
    try:
        result = lambda_function.lambda_handler(decode_event(invocation.body), context)
        payload = json.dumps(result).encode()
    except Exception as exc:  # the Python runtime logs it too, after whatever the handler logged
        log.error("request %s: %s: %s", invocation.request_id, type(exc).__name__, exc)
        client.fail(invocation.request_id, exc)
        return
    client.respond(invocation.request_id, payload)


def main(command: Sequence[str]) -> int:
    """Serve invocations until the instance is shut down; return only when initialisation fails."""
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        lambda_function.enter_image(command)
    except Exception as exc:  # whatever it is, Lambda must be told (it reports it to the caller)
        log.error("initialisation failed: %s: %s", type(exc).__name__, exc)
        client.init_failed(exc)
        return SUPERVISOR_FAILURE
    while True:
        serve_one(client)

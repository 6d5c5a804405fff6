"""Local mode's Lambda runtime: run in a child process, as the Python runtime's bootstrap would.

    python -u lambda_bootstrap.py REQUEST_ID DEADLINE_MS FUNCTION_ARN < EVENT > RESPONSE

The runner (render/local/execution/lambda_runner.py) sets the environment Lambda sets: _HANDLER, LAMBDA_TASK_ROOT
(the unpacked zip, first on sys.path), AWS_LAMBDA_FUNCTION_NAME and the others, the function's own
variables. The handler gets the event and a context whose get_remaining_time_in_millis() counts
down to DEADLINE_MS (the invocation's start plus the function's timeout). The event comes on
stdin; the result, or {errorMessage, errorType, stackTrace} when it raised, goes as JSON to stdout,
where nothing else is written: the handler's own output (and its programs') goes to stderr, the
log. Standard streams, because every sandbox passes them on, and no host file is written from
inside one. The exit status is 0 when the handler returned, 1 when it raised.

Only the standard library is used here: this file runs as a script, outside the render package.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any, TextIO


class LambdaContext:
    """The attributes and method of the Lambda context object."""

    def __init__(self, request_id: str, deadline_ms: int, function_arn: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def configure_logging(request_id: str) -> None:
    """The runtime's log format: level, UTC time, request id, message."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        f"[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t{request_id}\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)


def load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def error_document(error: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def take_streams() -> TextIO:
    """The response's stream (stdout, kept apart); stdout then goes to the log, stdin to nothing."""
    response = os.fdopen(os.dup(1), "w", encoding="utf-8")  # not inherited by the handler's programs
    os.dup2(2, 1)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    return response


def main(argv: list[str]) -> int:
    request_id, deadline_ms, function_arn = argv
    sys.path[0] = os.environ["LAMBDA_TASK_ROOT"]  # instead of this file's folder, as in Lambda
    event = json.load(sys.stdin)
    response_stream = take_streams()
    configure_logging(request_id)
    try:
        handler = load_handler(os.environ["_HANDLER"])
        result = handler(event, LambdaContext(request_id, int(deadline_ms), function_arn))
        response, status = json.dumps(result), 0
    except Exception as error:  # whatever the handler raises is the invocation's error, as in Lambda
        print(f"[ERROR] {type(error).__name__}: {error}", flush=True)
        traceback.print_exc(file=sys.stdout)
        response, status = json.dumps(error_document(error)), 1
    with response_stream:
        response_stream.write(response)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Local mode's Lambda runtime: run in a child process, as the Python runtime's bootstrap would.

    python -u lambda_bootstrap.py EVENT_FILE RESPONSE_FILE REQUEST_ID DEADLINE_MS FUNCTION_ARN

The runner (render/local/execution/lambda_runner.py) sets the environment Lambda sets: _HANDLER, LAMBDA_TASK_ROOT
(the unpacked zip, first on sys.path), AWS_LAMBDA_FUNCTION_NAME and the others, the function's own
variables. The handler gets the event and a context whose get_remaining_time_in_millis() counts
down to DEADLINE_MS (the invocation's start plus the function's timeout). Its result, or
{errorMessage, errorType, stackTrace} when it raised, is written as JSON to RESPONSE_FILE; the exit
status is 0 when the handler returned, 1 when it raised.

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
from typing import Any


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


def main(argv: list[str]) -> int:
    event_file, response_file, request_id, deadline_ms, function_arn = argv
    sys.path[0] = os.environ["LAMBDA_TASK_ROOT"]  # instead of this file's folder, as in Lambda
    configure_logging(request_id)
    with open(event_file, encoding="utf-8") as source:
        event = json.load(source)
    try:
        handler = load_handler(os.environ["_HANDLER"])
        result = handler(event, LambdaContext(request_id, int(deadline_ms), function_arn))
        response, status = json.dumps(result), 0
    except Exception as error:  # whatever the handler raises is the invocation's error, as in Lambda
        print(f"[ERROR] {type(error).__name__}: {error}", flush=True)
        traceback.print_exc(file=sys.stdout)
        response, status = json.dumps(error_document(error)), 1
    with open(response_file, "w", encoding="utf-8") as target:
        target.write(response)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

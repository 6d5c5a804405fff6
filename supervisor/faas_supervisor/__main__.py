"""``python -m faas_supervisor [--] [COMMAND ARGS...]``, also what the frozen supervisor runs.

With AWS_LAMBDA_RUNTIME_API set (the supervisor is the entry point of a Lambda function's image)
it serves the Lambda Runtime API (runtime_api.py); otherwise it runs the Batch job
(batch_job.py). COMMAND ARGS is the image's own command, run when the function config has no
script.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    command = list(sys.argv[1:] if argv is None else argv)
    if command[:1] == ["--"]:
        command = command[1:]
    # Each mode imports only its own modules: start-up time counts in Lambda.
    if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
        from .runtime_api import main as serve

        return serve(command)
    from .batch_job import main as run_job

    return run_job(command)


if __name__ == "__main__":
    raise SystemExit(main())

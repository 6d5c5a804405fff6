"""container.environment as deployed: in the Lambda function's and the job definition's environment.

The values are never in an image or in S3 (Lambda keeps its environment encrypted at rest); the
function configuration maps each of the script's names to the variable that carries it. A name
Lambda reserves (AWS_ACCESS_KEY_ID: SCAR's aws-cli example passes the user's keys so) travels under
CONTAINER_VARIABLE_PREFIX, in the job definition too, where it would otherwise become
the supervisor's own credentials.
"""

from __future__ import annotations

from collections.abc import Mapping

from faas_supervisor.contract import CONTAINER_VARIABLE_PREFIX

# Names Lambda refuses in a function's environment.
RESERVED_LAMBDA_ENV = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
}


def deployed_name(name: str) -> str:
    """The variable that carries the script's variable `name`."""
    return CONTAINER_VARIABLE_PREFIX + name if name in RESERVED_LAMBDA_ENV else name


def deployed(variables: Mapping[str, str]) -> dict[str, str]:
    """container.environment's variables as deployed."""
    return {deployed_name(name): value for name, value in variables.items()}

"""The Lambda function's environment as deployed, and its size as Lambda measures it.

Lambda refuses a configuration whose variables exceed 4 KB "in aggregate"; the document it
measures is the variables as compact JSON (its error message quotes it: `String measured:
{"NAME":"value",...}`), non-ASCII characters escaped as `\\uXXXX`. The renderer adds variables
of its own to Batch functions; their values (bucket name, queue ARN) are known to Terraform only,
so they are measured at their final length with placeholder characters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

from faas_supervisor import contract

from render.fdl.container_environment import deployed
from render.fdl.model import Deployment, Function

LAMBDA_ENV_LIMIT = 4096
# Terraform's bucket_prefix appends a 26-character unique suffix.
BUCKET_PREFIX_SUFFIX_LENGTH = 26
ACCOUNT_ID_LENGTH = 12

Value = TypeVar("Value")


def lambda_environment(function: Function, artifacts_bucket: Value, job_queue_arn: Value) -> dict[str, str | Value]:
    """The variables the Lambda function is deployed with: the FDL's and, for Batch, the renderer's.

    Where the Lambda function runs the script, the script's own variables (container.environment)
    are deployed here too (render/fdl/container_environment.py).
    """
    environment: dict[str, str | Value] = dict(function.lambda_environment)
    if function.execution_mode != "batch":
        environment.update(deployed(function.container_environment))
    if function.batch:
        environment[contract.ARTIFACTS_BUCKET] = artifacts_bucket
        environment[contract.JOB_DEFINITION] = function.name
        environment[contract.JOB_QUEUE] = job_queue_arn
        if function.batch.nodes > 1:
            environment[contract.JOB_NODES] = str(function.batch.nodes)
    return dict(sorted(environment.items()))


def environment_size(variables: Mapping[str, str]) -> int:
    """Bytes of the JSON document Lambda measures against its 4 KB limit."""
    return len(json.dumps(dict(variables), separators=(",", ":")).encode())


def deployed_environment_size(deployment: Deployment, function: Function) -> int:
    """The size of `function`'s environment once Terraform has filled in the values it computes."""
    bucket = "b" * (len(deployment.artifacts_bucket_prefix) + BUCKET_PREFIX_SUFFIX_LENGTH)
    queue = ""
    if function.batch:
        queue_name = deployment.job_queue_name(deployment.profile_name(function.batch.profile))
        account = "0" * ACCOUNT_ID_LENGTH
        queue = f"arn:{partition(deployment.region)}:batch:{deployment.region}:{account}:job-queue/{queue_name}"
    return environment_size(lambda_environment(function, bucket, queue))


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"

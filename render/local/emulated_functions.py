"""Functions as the emulator's moto holds them, read in its process (no request to make).

Only the emulator's process has them: `faas local`'s service (render/local/service.py) runs what
they describe.
"""

from __future__ import annotations

import json

from render.aws.deployed import DeployedFunction, is_deployed_code
from render.local.execution.errors import LocalError


def code_in_emulator(function: DeployedFunction) -> bytes:
    """The .zip deployment package moto holds for the function."""
    from render.local.moto.awslambda import function_model  # moto: only in the emulator's process

    content = bytes(function_model(str(function.configuration["FunctionArn"])).code_bytes)
    if not is_deployed_code(function, content):
        raise LocalError(f"the emulator holds no code for {function.name} (apply again)")
    return content


def function_in_emulator(function_arn: str) -> DeployedFunction:
    """The function as GetFunction describes it, read from moto (no request to make)."""
    from render.local.moto.awslambda import FunctionNotFound, function_model

    try:
        found = json.loads(json.dumps(function_model(function_arn).get_code()))
    except FunctionNotFound:
        _, _, _, region, account, _, name, *_ = function_arn.split(":")
        raise LocalError(f"no function {name} in the emulator (account {account}, {region})") from None
    return DeployedFunction(found["Configuration"], found.get("Code", {}))


def reserved_concurrency(function_arn: str) -> int | None:
    """The function's reserved concurrency (None: unreserved, or no such function)."""
    from render.local.moto.awslambda import FunctionNotFound, function_model

    try:
        reserved = function_model(function_arn).reserved_concurrency
    except FunctionNotFound:
        return None  # its run says what is wrong
    return None if reserved is None else int(reserved)

"""The Terraform modules repeat some of the runtime contract as literals: they must agree with it.

HCL cannot import `faas_supervisor.contract`, so each literal a module holds is read from its
source here (with python-hcl2, not by searching text) and compared with the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
from faas_supervisor import contract

from tests.helpers import REPO

MODULES = REPO / "modules"


def parsed(path: Path) -> dict[str, Any]:
    with path.open() as source:
        return dict(hcl2.load(source))


def unquoted(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals."""
    return value[1:-1] if isinstance(value, str) and value[:1] == value[-1:] == '"' else value


def resource(path: Path, kind: str, name: str = "this") -> dict[str, Any]:
    for block in parsed(path).get("resource", []):
        for block_kind, named in block.items():
            for block_name, body in named.items():
                if (unquoted(block_kind), unquoted(block_name)) == (kind, name):
                    return dict(body)
    raise AssertionError(f"no resource {kind}.{name} in {path}")


def test_lambda_module_default_handler_is_the_contracts() -> None:
    variables = {
        unquoted(name): body
        for block in parsed(MODULES / "lambda" / "variables.tf")["variable"]
        for name, body in block.items()
    }
    assert unquoted(variables["handler"]["default"]) == contract.HANDLER


def test_log_groups_are_where_the_contract_says() -> None:
    group = resource(MODULES / "lambda" / "main.tf", "aws_cloudwatch_log_group")
    assert unquoted(group["name"]) == contract.lambda_log_group("${var.function_name}")
    iam = (MODULES / "iam" / "main.tf").read_text()
    assert f"log-group:{contract.lambda_log_group('${var.name}')}:*" in iam


def test_the_builder_runs_the_contracts_handler() -> None:
    builder = resource(MODULES / "image-builder" / "main.tf", "aws_lambda_function")
    assert unquoted(builder["handler"]) == contract.BUILDER_HANDLER


def test_staged_events_are_granted_where_the_supervisor_writes_them() -> None:
    iam = (MODULES / "iam" / "main.tf").read_text()
    prefix = contract.staged_events_prefix("${var.name}")
    assert f'"${{statement.value}}/{prefix}*"' in iam
    assert f'"${{local.artifacts_arn}}/{prefix}*"' in iam

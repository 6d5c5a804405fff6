"""Review a saved Terraform plan of a faas-render root: what happens to each function, and what
deserves a second look.

Input is the JSON of `terraform show -json PLANFILE`. Resource changes are grouped by the
function they belong to (module.lambda_NAME, module.iam_NAME, module.image_NAME, the job
definition and staged objects keyed by NAME, its layer and base archive, the S3 permissions keyed
NAME/BUCKET), then by Batch compute profile
(module.batch_KEY), then storage shared by all functions, then anything else in the root.
Warnings (warnings.py, iam.py): a Batch compute environment replaced or destroyed, a job queue
destroyed, an IAM permission widened, a bucket destroyed. Output: report.py.
"""

from __future__ import annotations

import json
from typing import Any

from render.review.changes import (
    ACTIONS,
    FUNCTION,
    GROUP_ORDER,
    MODULE_CALL,
    OTHER,
    PROFILE,
    STORAGE,
    SYMBOLS,
    Change,
    Group,
    PlanError,
    Review,
)
from render.review.iam import PlannedDocuments
from render.review.warnings import warnings as change_warnings
from render.terraform.root_module import (
    BUILDER_MODULE,
    IAM_MODULE_PREFIX,
    IMAGE_MODULE_PREFIX,
    LAMBDA_MODULE_PREFIX,
    PROFILE_MODULE_PREFIX,
    STORAGE_MODULE,
)


def load_plan(data: bytes, name: str) -> dict[str, Any]:
    """Parse the JSON of a saved plan, or explain what the input is instead (`name` is for hints)."""
    if data.startswith(b"PK"):
        raise PlanError(
            f"is a binary plan file: convert it with `terraform show -json {name} > plan.json` "
            "(in the directory where it was planned) and review plan.json"
        )
    try:
        plan = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PlanError(f"is not JSON ({error}); expected the output of `terraform show -json PLANFILE`") from error
    if not isinstance(plan, dict) or "format_version" not in plan:
        raise PlanError("is not Terraform JSON output; expected the output of `terraform show -json PLANFILE`")
    if "planned_values" not in plan and "resource_changes" not in plan:
        raise PlanError("describes a state, not a plan: run `terraform show -json PLANFILE` on a saved plan")
    return plan


def review(plan: dict[str, Any]) -> Review:
    """Group the plan's resource changes and collect the warnings; PlanError if it is malformed."""
    try:
        return _review(plan)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise PlanError(
            f"has an unexpected structure ({type(error).__name__}: {error}); "
            "expected the output of `terraform show -json PLANFILE`"
        ) from error


def _review(plan: dict[str, Any]) -> Review:
    groups: dict[tuple[str, str], Group] = {}
    changes = []
    for resource in plan.get("resource_changes", []):
        change = _change(resource)
        if change is None:
            continue
        changes.append(change)
        kind, name = _group_of(resource)
        groups.setdefault((kind, name), Group(kind, name)).changes.append(change)
    ordered = sorted(groups.values(), key=lambda g: (GROUP_ORDER.index(g.kind), g.name))
    documents = PlannedDocuments.of(plan)
    warnings = [w for change in changes for w in change_warnings(change, documents)]
    if plan.get("errored"):
        warnings.insert(0, "the plan is incomplete: `terraform plan` failed, review its errors first")
    return Review(ordered, warnings)


def _change(resource: dict[str, Any]) -> Change | None:
    if resource.get("mode") != "managed":
        return None
    change = resource["change"]
    actions = tuple(change["actions"])
    action = ACTIONS.get(actions)
    if action is None:  # no-op, read
        return None
    return Change(
        address=resource["address"],
        module_address=resource.get("module_address", ""),
        type=resource["type"],
        name=resource["name"],
        index=resource.get("index"),
        action=action,
        symbol=SYMBOLS[actions],
        before=change.get("before") or {},
        after=change.get("after") or {},
        after_unknown=change.get("after_unknown") or {},
        action_reason=resource.get("action_reason", ""),
        replace_paths=tuple(_path(p) for p in change.get("replace_paths", [])),
    )


ARCHITECTURE_SUFFIXES = ("_x86_64", "_arm64")
STAGED_FOR_FUNCTION = ("layer/", "base/")  # storage object ids (render/terraform/root_module.py)
SHARED_LAYER = "layer/supervisor-"


def _path(steps: list[Any]) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in steps).lstrip(".")


def _group_of(resource: dict[str, Any]) -> tuple[str, str]:
    """(kind, name) of the group a resource change belongs to, from the naming of main.tf.j2."""
    module_address = resource.get("module_address", "")
    module = next(iter(MODULE_CALL.findall(module_address)), "")
    index = resource.get("index")
    keyed_function = index.split("/", 1)[0] if isinstance(index, str) and "/" in index else None
    for prefix in (LAMBDA_MODULE_PREFIX, IAM_MODULE_PREFIX):
        if module.startswith(prefix):
            return FUNCTION, module.removeprefix(prefix)
    if module.startswith(IMAGE_MODULE_PREFIX) and module != BUILDER_MODULE:
        name = module.removeprefix(IMAGE_MODULE_PREFIX)
        for architecture in ARCHITECTURE_SUFFIXES:  # a function with two images (Lambda and Batch hosts differ)
            name = name.removesuffix(architecture)
        return FUNCTION, name
    if module.startswith(PROFILE_MODULE_PREFIX):
        if resource["type"] == "aws_batch_job_definition" and isinstance(index, str):
            return FUNCTION, index
        return PROFILE, module.removeprefix(PROFILE_MODULE_PREFIX)
    if module == STORAGE_MODULE:
        if isinstance(index, str) and index.startswith(SHARED_LAYER):
            return STORAGE, STORAGE_MODULE
        if isinstance(index, str) and index.startswith(STAGED_FOR_FUNCTION):
            return FUNCTION, index.split("/", 1)[1]  # a function's layer or base archive
        if resource["type"] in ("aws_lambda_permission", "aws_s3_object") and keyed_function:
            return FUNCTION, keyed_function
        return STORAGE, STORAGE_MODULE
    return OTHER, module_address or "root module"

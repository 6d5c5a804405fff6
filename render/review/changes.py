"""The changes of a saved plan as the review sees them: one per resource, grouped, with warnings."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Terraform's actions, as this review names and counts them (no-op and read are not changes).
ACTIONS = {
    ("create",): "create",
    ("update",): "update",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("delete",): "delete",
    ("forget",): "forget",
}
PAST = {"create": "created", "update": "changed", "replace": "replaced", "delete": "destroyed", "forget": "forgotten"}
FUTURE = {"create": "to create", "update": "to change", "replace": "to replace", "delete": "to destroy"}
# The symbols of `terraform plan`.
SYMBOLS = {
    ("create",): "+",
    ("update",): "~",
    ("delete", "create"): "-/+",
    ("create", "delete"): "+/-",
    ("delete",): "-",
    ("forget",): ".",
}

# The module names in a module address such as module.a["x"].module.b
MODULE_CALL = re.compile(r"(?:^|\.)module\.([A-Za-z_][A-Za-z0-9_-]*)")

FUNCTION, PROFILE, STORAGE, OTHER = "function", "Batch compute profile", "storage", "other"
GROUP_ORDER = (FUNCTION, PROFILE, STORAGE, OTHER)


class PlanError(Exception):
    """The input is not the JSON of a saved plan."""


@dataclass(frozen=True)
class Change:
    address: str
    module_address: str  # "" in the root module
    type: str
    name: str
    index: Any  # the count index or for_each key, None for single resources
    action: str
    symbol: str
    before: dict[str, Any]
    after: dict[str, Any]
    after_unknown: dict[str, Any]
    action_reason: str
    replace_paths: tuple[str, ...]


@dataclass
class Group:
    kind: str
    name: str
    changes: list[Change] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.kind == FUNCTION:
            lifecycle = {
                c.action for c in self.changes if c.type == "aws_lambda_function" and c.action in ("create", "delete")
            }
            suffix = {"create": " (new)", "delete": " (removed)"}.get(next(iter(lifecycle), ""), "")
            nodes = self.job_nodes()
            return f"function {self.name}{suffix}" + (f" ({nodes}-node parallel Batch jobs)" if nodes else "")
        if self.kind == PROFILE:
            return f"{PROFILE} {self.name}"
        return "storage (shared)" if self.kind == STORAGE else f"other: {self.name}"

    def job_nodes(self) -> int | None:
        """The node count of the function's job definition when it is a multi-node parallel one."""
        for change in self.changes:
            if change.type == "aws_batch_job_definition":
                properties = (change.after or change.before).get("node_properties")
                if isinstance(properties, str) and properties:  # "" for a container job, None until known
                    return int(json.loads(properties)["numNodes"])
        return None

    def counts(self) -> dict[str, int]:
        found = {action: sum(c.action == action for c in self.changes) for action in PAST}
        return {action: count for action, count in found.items() if count}


@dataclass
class Review:
    groups: list[Group]
    warnings: list[str]

    def totals(self) -> dict[str, int]:
        return {action: sum(g.counts().get(action, 0) for g in self.groups) for action in PAST}

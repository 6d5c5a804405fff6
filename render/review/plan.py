"""Review a saved Terraform plan of a faas-render root: what happens to each function, and what
deserves a second look.

Input is the JSON of `terraform show -json PLANFILE`. Resource changes are grouped by the
function they belong to (module.lambda_NAME, module.iam_NAME, the job definition and staged
objects keyed by NAME, the S3 permissions keyed NAME/BUCKET), then by Batch compute profile
(module.batch_KEY), then storage shared by all functions, then anything else in the root.
Warnings: a Batch compute environment replaced or destroyed, a job queue destroyed, an IAM
permission widened, a bucket destroyed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from render.terraform.root_module import (
    ARTIFACTS,
    IAM_MODULE_PREFIX,
    LAMBDA_MODULE_PREFIX,
    PROFILE_MODULE_PREFIX,
    STORAGE_MODULE,
)

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

# Resource types holding an IAM policy document, and the attribute that holds it.
POLICY_ATTRIBUTES = {
    "aws_iam_role_policy": "policy",
    "aws_iam_user_policy": "policy",
    "aws_iam_group_policy": "policy",
    "aws_iam_policy": "policy",
    "aws_iam_role": "assume_role_policy",
}
# Policies attached to a principal: creating one on a principal that already exists widens it.
ATTACHED_TO = {
    "aws_iam_role_policy": "role",
    "aws_iam_user_policy": "user",
    "aws_iam_group_policy": "group",
    "aws_iam_role_policy_attachment": "role",
    "aws_iam_user_policy_attachment": "user",
    "aws_iam_group_policy_attachment": "group",
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
            return f"function {self.name}{suffix}"
        if self.kind == PROFILE:
            return f"{PROFILE} {self.name}"
        return "storage (shared)" if self.kind == STORAGE else f"other: {self.name}"

    def counts(self) -> dict[str, int]:
        found = {action: sum(c.action == action for c in self.changes) for action in PAST}
        return {action: count for action, count in found.items() if count}


@dataclass
class Review:
    groups: list[Group]
    warnings: list[str]

    def totals(self) -> dict[str, int]:
        return {action: sum(g.counts().get(action, 0) for g in self.groups) for action in PAST}


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
    warnings = [w for change in changes for w in _warnings(change, documents)]
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
    if module.startswith(PROFILE_MODULE_PREFIX):
        if resource["type"] == "aws_batch_job_definition" and isinstance(index, str):
            return FUNCTION, index
        return PROFILE, module.removeprefix(PROFILE_MODULE_PREFIX)
    if module == STORAGE_MODULE:
        if resource["type"] in ("aws_lambda_permission", "aws_s3_object") and keyed_function:
            return FUNCTION, keyed_function
        return STORAGE, STORAGE_MODULE
    return OTHER, module_address or "root module"


def _warnings(change: Change, documents: PlannedDocuments) -> list[str]:
    found: list[str] = []
    if change.type == "aws_batch_compute_environment":
        found += _compute_environment_warning(change)
    if change.type == "aws_batch_job_queue" and change.action in ("delete", "replace"):
        found.append(
            f"{change.address}: Batch job queue {'replaced' if change.action == 'replace' else 'destroyed'}; "
            "jobs waiting or running in it are terminated."
        )
    if change.type == "aws_s3_bucket" and change.action in ("delete", "replace"):
        found += _bucket_warning(change)
    found += _iam_warnings(change, documents)
    return found


def _compute_environment_warning(change: Change) -> list[str]:
    if change.action == "replace":
        reason = {
            "replace_by_triggers": "replace_triggered_by: a new launch template version, e.g. a new supervisor",
            "replace_by_request": "-replace was requested",
        }.get(change.action_reason, ", ".join(change.replace_paths) or "a setting that cannot be updated")
        return [
            f"{change.address}: Batch compute environment replaced ({reason}). The new one is created first "
            "and the job queue moves to it; jobs still running on the old one are stopped when it is deleted."
        ]
    if change.action == "delete":
        return [f"{change.address}: Batch compute environment destroyed; jobs still running on it are stopped."]
    return []


def _bucket_warning(change: Change) -> list[str]:
    if change.index == ARTIFACTS:
        return []  # the deployment bucket: every render stages its contents again
    name = change.before.get("bucket") or change.address
    verb = "replaced (destroyed, then created empty)" if change.action == "replace" else "destroyed"
    if change.before.get("force_destroy"):
        return [f"bucket {name} is {verb} with force_destroy = true: every object in it is deleted, data may be lost."]
    return [
        f"bucket {name} is {verb}: with force_destroy = false the apply fails if it still holds objects; "
        "otherwise its data is lost. Copy what you need first."
    ]


def _iam_warnings(change: Change, documents: PlannedDocuments) -> list[str]:
    if change.action not in ("create", "update", "replace"):
        return []
    principal = ATTACHED_TO.get(change.type)
    existing_principal = (
        principal is not None
        and change.action == "create"
        and isinstance(change.after.get(principal), str)
        and not change.after_unknown.get(principal)
    )
    if change.type.endswith("_policy_attachment"):
        if existing_principal:
            return [f"{change.address}: IAM permission widened: attaches {change.after.get('policy_arn')}."]
        return []
    attribute = POLICY_ATTRIBUTES.get(change.type)
    if attribute is None or (change.action == "create" and not existing_principal):
        return []  # a new role or policy document: nothing had these permissions before
    planned = (
        documents.policy(change, attribute) if change.after_unknown.get(attribute) else change.after.get(attribute)
    )
    if planned is None:
        return [f"{change.address}: IAM policy known only after apply; check that it does not widen permissions."]
    before = _grants(change.before.get(attribute)) if change.action != "create" else set()
    after = _grants(planned)
    description = _widening(before, after)
    return [f"{change.address}: IAM permission widened: {description}."] if description else []


@dataclass(frozen=True)
class PlannedDocuments:
    """Policies that are only known after apply, rebuilt from the plan where it allows.

    A policy from an aws_iam_policy_document is unknown in the plan as soon as the document
    depends on anything with pending changes (a bucket added elsewhere is enough): the read is
    deferred to apply. The plan still holds the document's arguments (its statements and source
    documents), and its configuration says which document a policy attribute refers to.
    """

    configuration: dict[str, Any]
    arguments: dict[str, dict[str, Any]]  # fully known arguments of deferred reads, by address

    @classmethod
    def of(cls, plan: dict[str, Any]) -> PlannedDocuments:
        arguments = {}
        for resource in plan.get("resource_changes", []):
            if resource.get("mode") != "data" or resource["type"] != "aws_iam_policy_document":
                continue
            unknown = {k: v for k, v in resource["change"].get("after_unknown", {}).items() if k not in _COMPUTED}
            if not _has_unknown(unknown):
                arguments[resource["address"]] = resource["change"]["after"]
        return cls(plan.get("configuration", {}).get("root_module", {}), arguments)

    def policy(self, change: Change, attribute: str) -> dict[str, Any] | None:
        """The policy `attribute` of `change` will have, or None when the plan cannot tell."""
        document = self._referenced_document(change, attribute)
        arguments = self.arguments.get(document or "")
        if arguments is None or arguments.get("source_json") or arguments.get("override_json"):
            return None
        statements: list[dict[str, Any]] = []
        layers = [
            [s for text in arguments.get("source_policy_documents") or [] for s in _statements(json.loads(text))],
            [_statement(block) for block in arguments.get("statement") or []],
            [s for text in arguments.get("override_policy_documents") or [] for s in _statements(json.loads(text))],
        ]
        for layer in layers:  # later layers replace statements with the same Sid
            sids = {s.get("Sid") for s in layer if s.get("Sid")}
            statements = [s for s in statements if s.get("Sid") not in sids] + layer
        return {"Version": "2012-10-17", "Statement": statements}

    def _referenced_document(self, change: Change, attribute: str) -> str | None:
        module = self.configuration
        for call in MODULE_CALL.findall(change.module_address):
            module = module.get("module_calls", {}).get(call, {}).get("module", {})
        address = f"{change.type}.{change.name}"
        config: dict[str, Any] = next((r for r in module.get("resources", []) if r["address"] == address), {})
        references = config.get("expressions", {}).get(attribute, {}).get("references", [])
        document = next(
            (r for r in references if r.startswith("data.aws_iam_policy_document.") and r.endswith(".json")), None
        )
        if document is None:
            return None
        local = document.removesuffix(".json")
        return f"{change.module_address}.{local}" if change.module_address else local


_COMPUTED = ("id", "json", "minified_json")


def _has_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return value is True


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy.get("Statement", [])
    return found if isinstance(found, list) else [found]


def _statement(block: dict[str, Any]) -> dict[str, Any]:
    """An aws_iam_policy_document `statement` block as an IAM JSON statement."""
    statement: dict[str, Any] = {"Effect": block.get("effect") or "Allow"}
    if block.get("sid"):
        statement["Sid"] = block["sid"]
    for argument, key in (("actions", "Action"), ("not_actions", "NotAction"), ("resources", "Resource")):
        if block.get(argument):
            statement[key] = sorted(block[argument])
    if block.get("not_resources"):
        statement["NotResource"] = sorted(block["not_resources"])
    for argument, key in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        if block.get(argument):
            statement[key] = {p["type"]: sorted(p["identifiers"]) for p in block[argument]}
    conditions: dict[str, dict[str, list[str]]] = {}
    for condition in block.get("condition") or []:
        conditions.setdefault(condition["test"], {})[condition["variable"]] = sorted(condition["values"])
    if conditions:
        statement["Condition"] = conditions
    return statement


# One permission: (effect, action, resource, principal, condition), each element prefixed by its
# statement key (Action/NotAction, Resource/NotResource, Principal/NotPrincipal).
Grant = tuple[str, str, str, str, str]


def _grants(document: Any) -> set[Grant]:
    if not document:
        return set()
    policy = json.loads(document) if isinstance(document, str) else document
    grants = set()
    for statement in _statements(policy):
        condition = json.dumps(statement.get("Condition", {}), sort_keys=True)
        for action in _elements(statement, "Action"):
            for resource in _elements(statement, "Resource"):
                for principal in _elements(statement, "Principal"):
                    grants.add((statement.get("Effect", "Allow"), action, resource, principal, condition))
    return grants


def _elements(statement: dict[str, Any], key: str) -> list[str]:
    """`Action:s3:GetObject`, `NotResource:arn:...`; principals as `Principal:AWS=arn:...`."""
    for name in (key, f"Not{key}"):
        if name not in statement:
            continue
        value = statement[name]
        if isinstance(value, dict):
            return [f"{name}:{kind}={v}" for kind, values in sorted(value.items()) for v in _as_list(values)]
        return [f"{name}:{v}" for v in _as_list(value)]
    return [""]


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _widening(before: set[Grant], after: set[Grant]) -> str:
    """What `after` allows that `before` did not, in a few words; "" when nothing."""
    added_allows = {g for g in after - before if g[0] == "Allow"}
    removed_denies = {g for g in before - after if g[0] == "Deny"}
    granted_before = {g[:4] for g in before}  # the same permission, whatever its conditions
    new = sorted(g for g in added_allows if g[:4] not in granted_before)
    relaxed = sorted(g for g in added_allows if g[:4] in granted_before)
    parts = []
    if new:
        parts.append("allows " + _describe(new))
    if relaxed:
        parts.append("changes the conditions of " + _describe(relaxed))
    if removed_denies:
        parts.append("no longer denies " + _describe(sorted(removed_denies)))
    if not parts:
        return ""
    wildcard = any(_is_wildcard(element) for grant in new for element in grant[1:4])
    granted_after = {g[:4] for g in after}
    dropped = sorted(g for g in before - after if g[0] == "Allow" and g[:4] not in granted_after)
    return (
        "; ".join(parts)
        + (" (wildcard)" if wildcard else "")
        + (f" (and no longer allows {_describe(dropped)})" if dropped else "")
    )


def _is_wildcard(element: str) -> bool:
    """`s3:*`, `Resource:*`, a `*` principal, or any Not* element (everything but a list)."""
    key, _, value = element.partition(":")
    return key.startswith("Not") or value in ("*", "AWS=*") or (key == "Action" and "*" in value)


def _describe(grants: Iterable[Grant]) -> str:
    """`a1, a2 on r1; a3 on r2`, principals and conditions aside."""
    by_target: dict[str, list[str]] = {}
    for _, action, resource, principal, _ in grants:
        target = " ".join(part for part in (_bare(resource), _bare(principal)) if part) or "*"
        by_target.setdefault(target, [])
        if _bare(action) not in by_target[target]:
            by_target[target].append(_bare(action))
    return "; ".join(f"{', '.join(actions)} on {target}" for target, actions in by_target.items())


def _bare(element: str) -> str:
    """Drop the statement key, keeping Not* visible: `NotAction:iam:*` stays as `not iam:*`."""
    key, _, value = element.partition(":")
    return f"not {value}" if key.startswith("Not") else value


def format_text(result: Review) -> str:
    lines = [_headline(result)]
    for group in result.groups:
        lines += ["", f"{group.title}: {_counts(group.counts())}"]
        lines += [f"  {c.symbol} {c.address}" for c in group.changes]
    if result.warnings:
        lines += ["", f"Warnings ({len(result.warnings)}):"]
        lines += [f"  ! {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def format_markdown(result: Review) -> str:
    lines = ["### Terraform plan review", "", f"**{_headline(result)}**"]
    if result.warnings:
        lines += ["", f"#### Warnings ({len(result.warnings)})", ""]
        lines += [f"- :warning: {_code_addresses(w)}" for w in result.warnings]
    if result.groups:
        lines += ["", "| | created | changed | replaced | destroyed |", "|---|---:|---:|---:|---:|"]
        for group in result.groups:
            counts = group.counts()
            cells = [str(counts.get(action, 0) or "") for action in ("create", "update", "replace", "delete")]
            lines.append(f"| {group.title} | " + " | ".join(cells) + " |")
        lines += ["", "<details><summary>Resources</summary>", "", "```diff"]
        for group in result.groups:
            lines += [f"# {group.title}"] + [f"{c.symbol} {c.address}" for c in group.changes]
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"


def _headline(result: Review) -> str:
    totals = result.totals()
    if not any(totals.values()):
        return "No changes."
    parts = [f"{totals[action]} {words}" for action, words in FUTURE.items()]
    if totals["forget"]:
        parts.append(f"{totals['forget']} to forget")
    return "Plan: " + ", ".join(parts) + "."


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {PAST[action]}" for action, count in counts.items())


def _code_addresses(warning: str) -> str:
    """Put the leading resource address of a warning in backticks for Markdown."""
    address, separator, rest = warning.partition(": ")
    return f"`{address}`: {rest}" if separator and address.startswith(("module.", "aws_")) else warning

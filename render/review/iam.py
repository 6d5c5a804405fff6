"""IAM in a saved plan: which permissions a change grants that were not granted before."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from render.review.changes import MODULE_CALL, Change

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


def iam_warnings(change: Change, documents: PlannedDocuments) -> list[str]:
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

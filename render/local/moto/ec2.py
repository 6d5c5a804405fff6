"""moto's EC2: what it lacks of AWS's API that the batch module uses.

- Placement groups, which moto does not implement.
  The batch module gives a compute environment that runs multi-node parallel jobs a cluster
  placement group. moto answers CreatePlacementGroup with a 500, which the aws provider retries for
  ten minutes. Here a group is created available at once (as a cluster group is on AWS), described
  by name or id, and deleted, with EC2's error codes for an unknown or a duplicate name.
- A security group rule that refers to a group keeps its description (moto describes only a CIDR
  rule's, and the aws provider would plan to set it again after every apply).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.ec2.responses import EC2Response

from render.local.moto.patch import Patches

PATCHES = Patches()
GROUPS_ATTRIBUTE = "faas_placement_groups"  # where a moto EC2 backend keeps them, by name
STRATEGIES = ("cluster", "spread", "partition")


def _groups(response: Any) -> dict[str, dict[str, Any]]:
    backend = response.ec2_backend
    if not hasattr(backend, GROUPS_ATTRIBUTE):
        setattr(backend, GROUPS_ATTRIBUTE, {})
    groups: dict[str, dict[str, Any]] = getattr(backend, GROUPS_ATTRIBUTE)
    return groups


def _unknown(name: str) -> EC2ClientError:
    return EC2ClientError("InvalidPlacementGroup.Unknown", f"The Placement Group '{name}' is unknown.")


@PATCHES.add(EC2Response, "create_placement_group")
def create_placement_group(self: Any) -> ActionResult:
    name, strategy = self._get_param("GroupName"), self._get_param("Strategy")
    if not name:
        raise EC2ClientError("MissingParameter", "The request must contain the parameter groupName")
    if strategy not in STRATEGIES:
        raise EC2ClientError("InvalidParameterValue", f"Value ({strategy}) for parameter strategy is invalid.")
    groups = _groups(self)
    if name in groups:
        raise EC2ClientError("InvalidPlacementGroup.Duplicate", f"The Placement Group '{name}' already exists.")
    tags = self._parse_tag_specification().get("placement-group", {})
    group: dict[str, Any] = {
        "GroupName": name,
        "State": "available",
        "Strategy": strategy,
        "GroupId": f"pg-{uuid.uuid4().hex[:17]}",
        "GroupArn": f"arn:aws:ec2:{self.region}:{self.current_account}:placement-group/{name}",
        "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
    }
    if strategy == "partition":
        group["PartitionCount"] = int(self._get_param("PartitionCount") or 2)
    if self._get_param("SpreadLevel"):
        group["SpreadLevel"] = self._get_param("SpreadLevel")
    groups[name] = group
    return ActionResult({"PlacementGroup": group})


@PATCHES.add(EC2Response, "describe_placement_groups")
def describe_placement_groups(self: Any) -> ActionResult:
    groups = _groups(self)
    names, ids = self._get_param("GroupNames", []), self._get_param("GroupIds", [])
    for name in names:
        if name not in groups:
            raise _unknown(name)
    by_id = {group["GroupId"]: group for group in groups.values()}
    for ident in ids:
        if ident not in by_id:
            raise EC2ClientError(
                "InvalidPlacementGroupId.NotFound", f"The Placement Group ID '{ident}' does not exist."
            )
    found = list(groups.values())
    if names or ids:
        found = [group for group in found if group["GroupName"] in names or group["GroupId"] in ids]
    return ActionResult({"PlacementGroups": found})


@PATCHES.add(EC2Response, "delete_placement_group")
def delete_placement_group(self: Any) -> ActionResult:
    name = self._get_param("GroupName")
    if _groups(self).pop(name, None) is None:
        raise _unknown(name)
    return ActionResult({})


@PATCHES.patch(SecurityGroupRule, "description", ("self",))
def rule_description(original: Any, self: SecurityGroupRule) -> str | None:
    described: str | None = original(self)
    return described if described is not None else self.source_group.get("Description")

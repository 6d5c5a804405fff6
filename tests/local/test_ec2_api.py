"""The emulator's EC2 answers as AWS does where the batch module relies on it: placement groups."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from render.local import emulator


@pytest.fixture
def ec2(aws_env: dict[str, str]) -> Any:
    emulator.reset(aws_env["AWS_ENDPOINT_URL"])
    return boto3.client("ec2")


def error_code(call: Any, **arguments: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**arguments)
    return str(refused.value.response["Error"]["Code"])


def test_a_cluster_placement_group_is_created_described_and_deleted(ec2: Any) -> None:
    tags = [{"ResourceType": "placement-group", "Tags": [{"Key": "team", "Value": "mpi"}]}]
    created = ec2.create_placement_group(GroupName="nodes", Strategy="cluster", TagSpecifications=tags)
    group = created["PlacementGroup"]
    assert group["State"] == "available" and group["Strategy"] == "cluster"
    assert group["GroupArn"] == "arn:aws:ec2:us-east-1:123456789012:placement-group/nodes"
    assert group["Tags"] == [{"Key": "team", "Value": "mpi"}]
    assert ec2.describe_placement_groups(GroupNames=["nodes"])["PlacementGroups"] == [group]
    assert ec2.describe_placement_groups(GroupIds=[group["GroupId"]])["PlacementGroups"] == [group]
    assert error_code(ec2.create_placement_group, GroupName="nodes", Strategy="cluster") == (
        "InvalidPlacementGroup.Duplicate"
    )
    ec2.delete_placement_group(GroupName="nodes")
    # The aws provider reads this code as "gone" (its create and delete waiters do).
    assert error_code(ec2.describe_placement_groups, GroupNames=["nodes"]) == "InvalidPlacementGroup.Unknown"
    assert error_code(ec2.delete_placement_group, GroupName="nodes") == "InvalidPlacementGroup.Unknown"
    assert ec2.describe_placement_groups()["PlacementGroups"] == []


def test_an_unknown_strategy_is_refused(ec2: Any) -> None:
    assert error_code(ec2.create_placement_group, GroupName="x", Strategy="tight") == "InvalidParameterValue"


def test_a_rule_that_refers_to_a_group_keeps_its_description(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName="nodes", Description="nodes")["GroupId"]
    pair = {"GroupId": group, "Description": "From the other nodes"}
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [pair]}]
    )
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    ingress = [rule for rule in rules if not rule["IsEgress"]]
    assert [rule.get("Description") for rule in ingress] == ["From the other nodes"]

"""Functions in their images, end to end: rendered, applied by Terraform to the local emulator (whose
Invoke runs the image builder), read back through the ECR API, and run by uploads.

Bases: `docker save`-style archives next to the FDL (SCAR's container.image_file), one with a tool no
host has (`shout`), one whose own command does the work (no script, as SCAR's cowsay); and
alpine:3.20 from the registry mirror for the Batch functions (EC2 and Fargate).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from faas_supervisor import contract
from faas_supervisor.image import LayerEntry, build_layer

from render.local import emulator
from render.local.activity import activity, follow
from tests.helpers import render, requires_terraform, terraform
from tests.supervisor.image_builders import BUSYBOX, base_config, write_oci_layout

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]

BUCKET = "images-e2e"
APPLETS = ("sh", "tr", "cat", "mkdir", "basename", "echo")
SHOUT_TOOL = "#!/bin/sh\nexec tr a-z A-Z\n"
SCRIPT = '#!/bin/sh\nshout < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"\n'
# Each node of a multi-node job writes what it was told: its index, the node count, the main node.
# The job ends with its main node (the others are stopped then, as on AWS): the main node waits.
NODE_SCRIPT = (
    "#!/bin/sh\necho $AWS_BATCH_JOB_NODE_INDEX $AWS_BATCH_JOB_NUM_NODES $AWS_BATCH_JOB_MAIN_NODE_INDEX "
    '> "$TMP_OUTPUT_DIR/node-$AWS_BATCH_JOB_NODE_INDEX.txt"\n'
    '[ "$AWS_BATCH_JOB_NODE_INDEX" = "$AWS_BATCH_JOB_MAIN_NODE_INDEX" ] && sleep 5\nexit 0\n'
)
OWN_COMMAND = 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/own-$(basename "$INPUT_FILE_PATH")"'
FDL = """\
functions:
  aws:
  - lambda:
      name: shout
      init_script: shout.sh
      container: {{image_file: shout.tar}}
      input: [{{storage_provider: s3, path: {bucket}/shout-in}}]
      output: [{{storage_provider: s3, path: {bucket}/shout-out}}]
  - lambda:
      name: own-command
      container: {{image_file: command.tar}}
      input: [{{storage_provider: s3, path: {bucket}/command-in}}]
      output: [{{storage_provider: s3, path: {bucket}/command-out}}]
  - lambda:
      name: on-ec2
      execution_mode: batch
      init_script: upper.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: {bucket}/ec2-in}}]
      output: [{{storage_provider: s3, path: {bucket}/ec2-out}}]
    batch:
      compute_resources: {{subnets: [{subnet}], security_group_ids: [{group}]}}
  - lambda:
      name: on-nodes
      execution_mode: batch
      init_script: node.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: {bucket}/nodes-in}}]
      output: [{{storage_provider: s3, path: {bucket}/nodes-out}}]
    batch:
      multi_node_parallel: {{enabled: true, number_nodes: 3, main_node_index: 0}}
      compute_resources: {{subnets: [{subnet}], security_group_ids: [{group}]}}
  - lambda:
      name: on-fargate
      execution_mode: batch
      init_script: upper.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: {bucket}/fargate-in}}]
      output: [{{storage_provider: s3, path: {bucket}/fargate-out}}]
    batch:
      memory: 2048
      compute_resources: {{type: FARGATE, subnets: [{subnet}], security_group_ids: [{group}]}}
buckets:
  {bucket}: {{force_destroy: true}}
"""


@dataclass
class Deployed:
    root: Path
    endpoint: str


def write_archive(path: Path, tool: bool, own_command: bool) -> None:
    """An OCI archive of busybox (plus `shout` with `tool`); with `own_command`, an entry point doing the work."""
    if not BUSYBOX.is_file():
        pytest.skip("busybox-static is not installed (/bin/busybox)")
    entries = [LayerEntry("/bin/busybox", BUSYBOX.read_bytes(), 0o755)]
    entries += [LayerEntry(f"/bin/{applet}", symlink="busybox") for applet in APPLETS]
    if tool:
        entries.append(LayerEntry("/usr/local/bin/shout", SHOUT_TOOL.encode(), 0o755))
    layers = [build_layer(entries, "busybox")]
    config = base_config("amd64", layers)
    run = {"Entrypoint": ["/bin/sh", "-c", OWN_COMMAND]} if own_command else {"Cmd": ["/bin/sh"]}
    config["config"] = {**run, "Env": ["PATH=/usr/local/bin:/bin"]}
    write_oci_layout(path, config, [layer.blob for layer in layers], True)


@pytest.fixture(scope="module")
def deployed(
    moto_endpoint: str, frozen_supervisor: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    folder = tmp_path_factory.mktemp("images")
    variables = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "FAAS_RENDER_SUPERVISOR_BUNDLE": str(frozen_supervisor),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in variables.items():
            patch.setenv(key, value)
        emulator.reset(moto_endpoint)
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.44.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.44.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(VpcId=vpc, GroupName="images", Description="images")["GroupId"]
        write_archive(folder / "shout.tar", tool=True, own_command=False)
        write_archive(folder / "command.tar", tool=False, own_command=True)
        (folder / "shout.sh").write_text(SCRIPT)
        (folder / "node.sh").write_text(NODE_SCRIPT)
        (folder / "upper.sh").write_text('#!/bin/sh\ntr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/up.txt"\n')
        fdl = folder / "images.yaml"
        fdl.write_text(FDL.format(bucket=BUCKET, subnet=subnet, group=group))
        root = folder / "root"
        assert render(fdl, root, "--apply") == 0
        yield Deployed(root, moto_endpoint)
        assert render(fdl, root, "--destroy") == 0
        assert boto3.client("ecr").describe_repositories()["repositories"] == []
        emulator.reset(moto_endpoint)


def uploaded_and_settled(endpoint: str, key: str, body: bytes) -> None:
    start = activity(endpoint)
    assert start is not None, "the tests' emulator runs no functions"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    time.sleep(0.3)  # moto queues the notification inside the upload's request
    summary = follow(endpoint, start, progress=lambda line: None)
    assert not summary.failed, summary


def output(key: str) -> bytes:
    return bytes(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def image_of(function: str) -> tuple[str, dict[str, Any]]:
    """The function's image as Lambda reads it: its URI, and its config from ECR (BatchGetImage, then the config blob)."""
    uri = boto3.client("lambda").get_function(FunctionName=function)["Code"]["ImageUri"]
    repository, digest = uri.split("/", 1)[1].split("@")
    ecr = boto3.client("ecr")
    manifest = json.loads(
        ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])["images"][0]["imageManifest"]
    )
    url = ecr.get_download_url_for_layer(repositoryName=repository, layerDigest=manifest["config"]["digest"])
    with urllib.request.urlopen(url["downloadUrl"]) as answer:
        return uri, json.load(answer)


def test_the_image_is_pinned_read_back_and_runs_the_script_with_a_tool_only_it_has(deployed: Deployed) -> None:
    uri, config = image_of("shout")
    assert config["config"]["Entrypoint"] == list(contract.IMAGE_ENTRYPOINT)
    assert f"LAMBDA_TASK_ROOT={contract.IMAGE_TASK_ROOT}" in config["config"]["Env"]
    assert len(config["rootfs"]["diff_ids"]) == 3  # the base, the supervisor, the function
    assert not os.path.exists("/usr/local/bin/shout")  # the host has no such tool
    uploaded_and_settled(deployed.endpoint, "shout-in/hello.txt", b"hello from the image\n")
    assert output("shout-out/hello.txt") == b"HELLO FROM THE IMAGE\n"
    plan = terraform(deployed.root, "plan", "-input=false", "-detailed-exitcode", check=False)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr


def test_without_a_script_the_image_runs_its_own_command(deployed: Deployed) -> None:
    _, config = image_of("own-command")
    assert config["config"]["Cmd"] == ["/bin/sh", "-c", OWN_COMMAND]  # the base's entry point, now the command
    uploaded_and_settled(deployed.endpoint, "command-in/moo.txt", b"moo\n")
    assert output("command-out/own-moo.txt") == b"MOO\n"


def test_batch_job_definitions_run_the_image_on_ec2_and_fargate(deployed: Deployed) -> None:
    batch, ecr = boto3.client("batch"), boto3.client("ecr")
    repositories = {r["repositoryName"]: r["repositoryUri"] for r in ecr.describe_repositories()["repositories"]}
    for name, platform in (("on-ec2", "EC2"), ("on-fargate", "FARGATE")):
        definition = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"][0]
        assert definition["platformCapabilities"] == [platform]
        container = definition["containerProperties"]
        assert container["image"].startswith(repositories[f"images/{name}"] + "@sha256:")
        assert not container.get("command") and not container.get("volumes")
        environment = {e["name"]: e["value"] for e in container["environment"]}
        assert environment["AWS_REGION"] == "us-east-1"
    uploaded_and_settled(deployed.endpoint, "ec2-in/job.txt", b"batch job\n")
    assert output("ec2-out/up.txt") == b"BATCH JOB\n"


def test_a_multi_node_job_runs_its_nodes_in_the_image_each_writing_its_output(deployed: Deployed) -> None:
    definition = boto3.client("batch").describe_job_definitions(jobDefinitionName="on-nodes", status="ACTIVE")
    job = definition["jobDefinitions"][0]
    assert job["type"] == "multinode"
    assert job["nodeProperties"]["numNodes"] == 3 and job["nodeProperties"]["mainNode"] == 0
    placement = boto3.client("ec2").describe_placement_groups()["PlacementGroups"]
    assert [group["Strategy"] for group in placement] == ["cluster"]
    uploaded_and_settled(deployed.endpoint, "nodes-in/job.txt", b"nodes\n")
    assert [output(f"nodes-out/node-{index}.txt") for index in range(3)] == [
        f"{index} 3 0\n".encode() for index in range(3)
    ]

"""Bad input: exit status 2, a message naming file, line and key, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import render

BASE = """\
functions:
  aws:
  - lambda:
      name: {name}
      execution_mode: {mode}
      memory: {memory}
      init_script: run.sh
      container:
        image: alpine
      input:
      - storage_provider: s3
        path: bucket-one/in
      output:
      - storage_provider: s3
        path: {output}
{extra}"""


def fdl(
    name: str = "f1", mode: str = "lambda", memory: int = 512, output: str = "bucket-one/out", extra: str = ""
) -> str:
    return BASE.format(name=name, mode=mode, memory=memory, output=output, extra=extra)


TWO_FUNCTIONS = (
    fdl()
    + """\
  - lambda:
      name: f2
      container:
        image: alpine
      input:
      - storage_provider: s3
        path: bucket-one/in/sub
"""
)

LOOP = """\
functions:
  aws:
  - lambda: {name: a, container: {image: x}, input: [{storage_provider: s3, path: bkt/a}], output: [{storage_provider: s3, path: bkt/b}]}
  - lambda: {name: b, container: {image: x}, input: [{storage_provider: s3, path: bkt/b}], output: [{storage_provider: s3, path: bkt/c}]}
  - lambda: {name: c, container: {image: x}, input: [{storage_provider: s3, path: bkt/c}], output: [{storage_provider: s3, path: bkt/a}]}
"""

MULTI_NODE = """\
    batch:
      multi_node_parallel:
        enabled: true
        number_nodes: {nodes}
        main_node_index: {main}
      compute_resources:
        type: {type}
        subnets: [subnet-1]
        security_group_ids: {groups}
{more}"""

CASES = {
    "workflow loop": (LOOP, 3, "functions.aws[0].lambda.output", "trigger each other in a loop: a -> b -> c -> a"),
    "yaml syntax": ("functions:\n  aws:\n  - lambda: {name: [x\n", 4, "", "YAML syntax error"),
    "empty file": ("", 1, "", "the file is empty"),
    "control character in path": (
        fdl(output='"bucket-one/out\\nx"'),
        15,
        "functions.aws[0].lambda.output[0].path",
        "control characters",
    ),
    "reserved script name": (
        fdl().replace("run.sh", "function_config.json"),
        7,
        "functions.aws[0].lambda.init_script",
        "cannot be named 'function_config.json'",
    ),
    "forbidden character": ("functions:\n  aws: \x1f\n", 2, "", "is not allowed"),
    "memory too large": (fdl(memory=20000), 6, "functions.aws[0].lambda.memory", "greater than the maximum of 10240"),
    "memory not a number": (
        fdl().replace("memory: 512", "memory: lots"),
        6,
        "functions.aws[0].lambda.memory",
        "is not of type 'integer'",
    ),
    "unknown key with hint": (
        fdl().replace("memory: 512", "memroy: 512"),
        6,
        "functions.aws[0].lambda.memroy",
        "did you mean 'memory'",
    ),
    "bad lambda name": (fdl(name="has space"), 4, "functions.aws[0].lambda.name", "'has space' is not valid"),
    "image reference left to fill in": (
        fdl().replace("image: alpine", "image: <DockerHub repo/image>"),  # as SCAR's MPI example has it
        9,
        "functions.aws[0].lambda.container.image",
        "invalid image reference '<DockerHub repo/image>'",
    ),
    "bad execution mode": (fdl(mode="fast"), 5, "functions.aws[0].lambda.execution_mode", "is not one of"),
    "bad bucket name": (
        fdl(output="Bad_Bucket/out"),
        15,
        "functions.aws[0].lambda.output[0].path",
        "bucket name 'Bad_Bucket'",
    ),
    "batch without network": (
        fdl(mode="batch"),
        3,
        "functions.aws[0].batch.compute_resources.subnets",
        "needs batch.compute_resources.subnets",
    ),
    "gpu on fargate": (
        fdl(
            mode="batch",
            extra="    batch:\n      enable_gpu: true\n      compute_resources:\n        type: FARGATE\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        17,
        "functions.aws[0].batch.enable_gpu",
        "Fargate has no GPUs",
    ),
    "arm64 and x86_64 in one profile": (
        fdl(
            mode="batch",
            extra="    batch:\n      compute_resources:\n        instance_types: [m7g.large, c6i]\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        18,
        "functions.aws[0].batch.compute_resources.instance_types",
        "mix arm64 (m7g.large) and x86_64 (c6i)",
    ),
    "arm64 and x86_64 on fargate": (
        fdl(
            mode="batch",
            extra="    batch:\n      vcpus: 1\n      memory: 2048\n      compute_resources:\n        type: FARGATE\n        instance_types: [default_arm64, c6i]\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        21,
        "functions.aws[0].batch.compute_resources.instance_types",
        "mix arm64 (default_arm64) and x86_64 (c6i)",
    ),
    "min above max": (
        fdl(
            mode="batch",
            extra="    batch:\n      compute_resources:\n        min_v_cpus: 4\n        max_v_cpus: 2\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        17,
        "functions.aws[0].batch.compute_resources",
        "min_v_cpus <= desired_v_cpus <= max_v_cpus",
    ),
    "job bigger than environment": (
        fdl(
            mode="batch",
            extra="    batch:\n      vcpus: 8\n      compute_resources:\n        max_v_cpus: 4\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        17,
        "functions.aws[0].batch.vcpus",
        "at most 4",
    ),
    "job larger than any allowed instance type": (
        fdl(
            mode="batch",
            extra="    batch:\n      memory: 1048576\n      compute_resources:\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        17,
        "functions.aws[0].batch.memory",
        "1048576 MiB is more than the 1,032,160 MiB the largest allowed instance type (r6i.32xlarge, 1024 GiB) "
        "registers for jobs at most",
    ),
    "gpu job larger than the gpu family": (
        fdl(
            mode="batch",
            extra="    batch:\n      memory: 393216\n      enable_gpu: true\n      compute_resources:\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        17,
        "functions.aws[0].batch.memory",
        "the largest allowed instance type (g4dn.metal, 384 GiB)",
    ),
    "job with more vcpus than any allowed instance type": (
        fdl(
            mode="batch",
            extra="    batch:\n      vcpus: 4\n      compute_resources:\n        instance_types: [m5.large, c5.large]\n        max_v_cpus: 8\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        17,
        "functions.aws[0].batch.vcpus",
        "4 vCPUs are more than the 2 of the largest allowed instance type (m5.large)",
    ),
    "job fitting no single instance type": (
        fdl(
            mode="batch",
            extra="    batch:\n      vcpus: 8\n      memory: 20000\n      compute_resources:\n        instance_types: [c5.2xlarge, r5.xlarge]\n        max_v_cpus: 8\n        subnets: [subnet-1]\n        security_group_ids: [sg-1]\n",
        ),
        18,
        "functions.aws[0].batch.memory",
        "no allowed instance type has both 8 vCPUs and 20000 MiB",
    ),
    "too many retries": (
        fdl(mode="batch", extra="    batch:\n      retry_attempts: 11\n"),
        17,
        "functions.aws[0].batch.retry_attempts",
        "11 is greater than the maximum of 10",
    ),
    "job timeout below batch's minimum": (
        fdl(mode="batch", extra="    batch:\n      timeout: 30\n"),
        17,
        "functions.aws[0].batch.timeout",
        "30 is less than the minimum of 60",
    ),
    "runnable timeout beyond batch's maximum": (
        fdl(mode="batch", extra="    batch:\n      runnable_timeout: 90000\n"),
        17,
        "functions.aws[0].batch.runnable_timeout",
        "90000 is greater than the maximum of 86400",
    ),
    "multi-node job of one node": (
        fdl(mode="batch", extra=MULTI_NODE.format(nodes=1, main=0, type="EC2", groups="[sg-1]", more="")),
        19,
        "functions.aws[0].batch.multi_node_parallel.number_nodes",
        "a multi-node parallel job has 2 to 1000 nodes (Batch's limit), not 1",
    ),
    "multi-node job beyond batch's limit": (
        fdl(mode="batch", extra=MULTI_NODE.format(nodes=1001, main=0, type="EC2", groups="[sg-1]", more="")),
        19,
        "functions.aws[0].batch.multi_node_parallel.number_nodes",
        "2 to 1000 nodes (Batch's limit), not 1001",
    ),
    "main node outside the job": (
        fdl(mode="batch", extra=MULTI_NODE.format(nodes=3, main=3, type="EC2", groups="[sg-1]", more="")),
        20,
        "functions.aws[0].batch.multi_node_parallel.main_node_index",
        "main_node_index 3 is not a node of a 3-node job: use 0 to 2",
    ),
    "multi-node job on fargate": (
        fdl(mode="batch", extra=MULTI_NODE.format(nodes=3, main=0, type="FARGATE", groups="[sg-1]", more="")),
        22,
        "functions.aws[0].batch.compute_resources.type",
        "multi-node parallel jobs run on EC2 only (Batch runs none on FARGATE)",
    ),
    "multi-node job on spot": (
        fdl(mode="batch", extra=MULTI_NODE.format(nodes=3, main=0, type="SPOT", groups="[sg-1]", more="")),
        22,
        "functions.aws[0].batch.compute_resources.type",
        "multi-node parallel jobs run on EC2 only (Batch runs none on SPOT)",
    ),
    "multi-node job with five security groups": (
        fdl(
            mode="batch",
            extra=MULTI_NODE.format(nodes=3, main=0, type="EC2", groups="[sg-1, sg-2, sg-3, sg-4, sg-5]", more=""),
        ),
        24,
        "functions.aws[0].batch.compute_resources.security_group_ids",
        "at most 4 security groups, not 5",
    ),
    "multi-node job larger than max_v_cpus": (
        fdl(
            mode="batch",
            extra=MULTI_NODE.format(nodes=3, main=0, type="EC2", groups="[sg-1]", more="        max_v_cpus: 2\n"),
        ),
        25,
        "functions.aws[0].batch.compute_resources.max_v_cpus",
        "the job's 3 nodes of 1 vCPU(s) need 3 vCPUs at once but max_v_cpus is 2",
    ),
    "unknown storage provider": (
        fdl().replace(
            "storage_provider: s3\n        path: bucket-one/out", "storage_provider: ftp\n        path: bucket-one/out"
        ),
        14,
        "functions.aws[0].lambda.output[0].storage_provider",
        "unknown storage provider 'ftp'",
    ),
    "undeclared s3 account": (
        fdl().replace(
            "storage_provider: s3\n        path: bucket-one/out",
            "storage_provider: s3.other\n        path: bucket-one/out",
        ),
        14,
        "functions.aws[0].lambda.output[0].storage_provider",
        "no storage_providers.s3.other",
    ),
    "minio on aws": (
        fdl().replace(
            "storage_provider: s3\n        path: bucket-one/in", "storage_provider: minio\n        path: bucket-one/in"
        ),
        11,
        "functions.aws[0].lambda.input[0].storage_provider",
        "'minio' is not supported on AWS",
    ),
    "missing script": (
        fdl().replace("run.sh", "missing.sh"),
        7,
        "functions.aws[0].lambda.init_script",
        "init_script file not found: missing.sh",
    ),
    "output feeds own input": (
        fdl(output="bucket-one/in/results"),
        15,
        "functions.aws[0].lambda.output[0].path",
        "endless loop",
    ),
    "overlapping triggers": (
        TWO_FUNCTIONS,
        22,
        "functions.aws[1].lambda.input[0].path",
        "overlapping notification filters",
    ),
    "duplicate names": (
        TWO_FUNCTIONS.replace("name: f2", "name: f1").replace("bucket-one/in/sub", "bucket-two/in"),
        17,
        "functions.aws[1].lambda.name",
        "duplicate function name 'f1'",
    ),
    "outdated runtime": (
        fdl().replace("memory: 512", "runtime: python3.7"),
        6,
        "functions.aws[0].lambda.runtime",
        "use python3.12 or newer",
    ),
    "duplicate key": (
        fdl().replace("memory: 512", "memory: 512\n      memory: 256"),
        7,
        "functions.aws[0].lambda.memory",
        "duplicate key",
    ),
    "missing image file": (
        fdl().replace("image: alpine", "image_file: image.tar.gz"),
        9,
        "functions.aws[0].lambda.container.image_file",
        "image_file not found: image.tar.gz",
    ),
    "prepared image outside ECR": (
        fdl().replace("image: alpine", "image: alpine\n        create_image: false"),
        10,
        "functions.aws[0].lambda.container.create_image",
        "must then be an Amazon ECR image",
    ),
    "too many asynchronous retries": (
        fdl().replace("memory: 512", "memory: 512\n      asynchronous_invocation: {retry_attempts: 3}"),
        7,
        "functions.aws[0].lambda.asynchronous_invocation.retry_attempts",
        "3 is greater than the maximum of 2 (expected: retries of a failed asynchronous invocation",
    ),
    "event age too short": (
        fdl().replace("memory: 512", "memory: 512\n      asynchronous_invocation:\n        max_event_age: 30"),
        8,
        "functions.aws[0].lambda.asynchronous_invocation.max_event_age",
        "30 is less than the minimum of 60",
    ),
    "layers on an image function": (
        fdl().replace("memory: 512", "memory: 512\n      layers: [arn:aws:lambda:us-east-1:123456789012:layer:x:1]"),
        7,
        "functions.aws[0].lambda.layers",
        "cannot be attached to a container image function",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_fdl_is_refused_with_a_located_message(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, line, key, message = CASES[case]
    source = tmp_path / "fdl.yaml"
    source.write_text(text)
    (tmp_path / "run.sh").write_text("echo hi\n")
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("untouched")

    status = render(source, output)

    err = capsys.readouterr().err
    assert status == 2
    assert f"fdl.yaml:{line}: {key}" in err if key else f"fdl.yaml:{line}" in err, err
    assert message in err, err
    assert "Traceback" not in err
    assert sorted(p.name for p in output.iterdir()) == ["keep.txt"]


def test_all_problems_are_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "fdl.yaml"
    source.write_text(fdl(memory=1, name="bad name"))
    assert render(source, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "lambda.memory" in err and "lambda.name" in err
    assert not (tmp_path / "out").exists()


def test_missing_fdl_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert render(tmp_path / "nope.yaml", tmp_path / "out") == 2
    assert "nope.yaml: file not found" in capsys.readouterr().err


def test_refuses_to_overwrite_a_foreign_main_tf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "fdl.yaml"
    source.write_text(fdl())
    (tmp_path / "run.sh").write_text("echo hi\n")
    (tmp_path / "main.tf").write_text("# hand written\n")
    assert render(source, tmp_path) == 2
    assert "not generated by faas-render" in capsys.readouterr().err
    assert (tmp_path / "main.tf").read_text() == "# hand written\n"

"""Nothing lost locally: an event that cannot even start is kept as a failure, and a crash leaves no folders.

A real `faas local` process gets image functions deployed straight through boto3, each with an
on-failure destination (an SQS queue) and one retry. An upload to a throttled function (reserved
concurrency 0), to one whose image is refused, and to one whose image does not fit the disk must
each end in the queue, listed by `faas failed` with an errorType saying why. Then: `kill -9` of
`faas local` leaves its work folders; the next start removes them, and only them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faas_supervisor.image import EcrDestination, Layer
from faas_supervisor.image.oci import FAMILY, OCI_MANIFEST, Blob, canonical_json, sha256_digest

from render.local.execution.errors import DISK_FULL, IMAGE_REFUSED, THROTTLED, error_type
from render.local.work_folders import MARKER, remove_stale, work_folder
from tests.helpers import aws_variables, run_faas
from tests.local.faas_local import FaasLocal, faas_local
from tests.local.images import file, raw_layer
from tests.supervisor.image_builders import base_config

pytestmark = pytest.mark.slow

BUCKET = "local-unrunnable"
QUEUE = "unrunnable-failures"
ACCOUNT = "123456789012"
HARMLESS = raw_layer(file("etc/harmless", b"x"))


def push_image(local: FaasLocal, name: str, layers: list[Layer]) -> str:
    """Push `layers` as an image, unchecked, straight through the ECR API; repositoryUri@digest."""
    ecr = local.client("ecr")
    uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    pull = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": {"StringLike": {"aws:sourceArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*"}},
    }
    ecr.set_repository_policy(
        repositoryName=name, policyText=json.dumps({"Version": "2012-10-17", "Statement": [pull]})
    )
    config_type, layer_type = FAMILY[OCI_MANIFEST]
    config = canonical_json(base_config("amd64", layers))
    config_blob = Blob(sha256_digest(config), len(config), config_type)
    destination = EcrDestination(ecr)
    destination.push_blob(name, config_blob, [config])
    for layer in layers:
        destination.push_blob(name, Blob(layer.digest, layer.size, layer_type), [layer.blob])
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_blob.descriptor(),
            "layers": [Blob(x.digest, x.size, layer_type).descriptor() for x in layers],
        }
    )
    digest = sha256_digest(manifest)
    destination.put_manifest(name, "latest", manifest, OCI_MANIFEST, digest)
    return f"{uri}@{digest}"


def deploy(local: FaasLocal, name: str, layers: list[Layer], reserved: int | None = None) -> None:
    """NAME, run from those layers, fired by BUCKET/in-NAME/, one retry, failures kept in QUEUE."""
    lam, s3, sqs, iam = (local.client(s) for s in ("lambda", "s3", "sqs", "iam"))
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
        trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        iam.create_role(
            RoleName="unrunnable", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
        )
        sqs.create_queue(QueueName=QUEUE)
    role = iam.get_role(RoleName="unrunnable")["Role"]["Arn"]
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE}"
    image = push_image(local, name, layers)
    arn = lam.create_function(
        FunctionName=name, PackageType="Image", Code={"ImageUri": image}, Role=role, MemorySize=128, Timeout=30
    )["FunctionArn"]
    if reserved is not None:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue}}
    )
    triggers = s3.get_bucket_notification_configuration(Bucket=BUCKET).get("LambdaFunctionConfigurations", [])
    triggers.append(
        {
            "Id": name,
            "LambdaFunctionArn": arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"in-{name}/"}]}},
        }
    )
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"LambdaFunctionConfigurations": triggers}
    )


def kept(local: FaasLocal, name: str) -> list[dict[str, Any]]:
    """`faas failed NAME --json`."""
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in aws_variables(local.endpoint).items():
            patch.setenv(variable, value)
        listed = run_faas("failed", name, "--json")
    assert listed.code == 0, listed.err
    found: list[dict[str, Any]] = json.loads(listed.out)
    return found


def upload_and_keep(local: FaasLocal, name: str) -> dict[str, Any]:
    """Upload one object for NAME; its one kept failure, after one retry, with the log's word for it."""
    local.client("s3").put_object(Bucket=BUCKET, Key=f"in-{name}/event.txt", Body=b"event")
    local.settle()
    (failure,) = kept(local, name)
    assert failure["input"] == f"s3://{BUCKET}/in-{name}/event.txt" and failure["attempts"] == 2, failure
    assert f"[{name}] RetriesExhausted after 2 attempt(s): kept in {QUEUE}" in local.log.read_text()
    return failure


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaasLocal]:
    with faas_local(tmp_path_factory.mktemp("unrunnable")) as running:
        yield running


def test_a_throttled_event_is_retried_then_kept(local: FaasLocal) -> None:
    deploy(local, "throttled", [HARMLESS], reserved=0)
    failure = upload_and_keep(local, "throttled")
    assert failure["message"]["responsePayload"]["errorType"] == THROTTLED
    assert "its reserved concurrency is 0" in failure["why"], failure


def test_an_event_whose_image_is_refused_is_retried_then_kept(local: FaasLocal) -> None:
    deploy(local, "refused", [raw_layer(file("../escaped", b"x"))])
    failure = upload_and_keep(local, "refused")
    assert failure["message"]["responsePayload"]["errorType"] == IMAGE_REFUSED
    assert "cannot run the image" in failure["why"], failure


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="mounts a small tmpfs: root only")
def test_an_event_whose_image_does_not_fit_the_disk_is_kept(tmp_path: Path) -> None:
    """The emulator's temporary folder is a 2 MiB tmpfs (its own mount namespace); the image's one
    file is 4 MiB of zeros (a 4 KiB layer)."""
    tmp_path.chmod(0o755)  # the sandbox's user passes through it, so the emulator works there and not in /tmp
    small = tmp_path / "small"
    small.mkdir()
    wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-ec"]
    wrapper += [f'mount -t tmpfs -o size=2m,mode=1777 tmpfs {small}; exec "$@"', "sh"]
    with faas_local(tmp_path, wrapper=wrapper, environment={"TMPDIR": str(small)}) as running:
        deploy(running, "full", [raw_layer(file("data/zeros", bytes(4 << 20)))])
        failure = upload_and_keep(running, "full")
    assert failure["message"]["responsePayload"]["errorType"] == DISK_FULL, failure
    assert not any(small.iterdir())  # the mount was the emulator's alone


def test_a_full_disk_wrapped_by_another_error_is_still_a_full_disk() -> None:
    try:
        try:
            raise OSError(28, "No space left on device")
        except OSError:
            raise ValueError("layer sha256:...: member 'x': No space left on device") from None
    except ValueError as wrapped:
        assert error_type(wrapped) == DISK_FULL


def folders(base: Path) -> set[Path]:
    return {p for p in base.iterdir() if p.name.startswith("faas-local-")}


def test_the_work_folders_of_a_killed_emulator_are_removed_at_the_next_start(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # as above
    temp = tmp_path / "tmp"
    temp.mkdir()
    temp.chmod(0o755)
    environment = {"TMPDIR": str(temp)}
    with faas_local(tmp_path, environment=environment) as first:
        deadline = time.monotonic() + 30
        while len(folders(temp)) < 2 and time.monotonic() < deadline:  # its ECR's, and its runs'
            time.sleep(0.1)
        left = folders(temp)
        os.kill(first.pid, signal.SIGKILL)
    assert len(left) == 2 and all(p.is_dir() for p in left), left
    alive = work_folder("faas-local-test-", temp)  # this process's: it runs
    unmarked = temp / "faas-local-unmarked"
    unmarked.mkdir()
    with faas_local(tmp_path, environment=environment) as second:
        said = second.log.read_text()
    assert "removed 2 work folder(s) left by stopped emulators" in said, said
    assert not any(p.exists() for p in left)
    assert alive.is_dir() and unmarked.is_dir()


def test_only_folders_whose_owner_is_gone_are_removed(tmp_path: Path) -> None:
    reused = work_folder("faas-local-reused-", tmp_path)  # its pid now names another process
    (reused / MARKER).write_text(f"{os.getpid()} 1")
    read_only = reused / "image" / "bin"
    read_only.mkdir(parents=True)
    (read_only / "sh").write_text("")
    read_only.chmod(0o555)
    read_only.parent.chmod(0o555)
    target = tmp_path / "elsewhere"
    shutil.copytree(reused, target)
    (tmp_path / "faas-local-link").symlink_to(target)  # a link is never followed
    mine = work_folder("faas-local-mine-", tmp_path)
    removed = remove_stale([tmp_path])
    assert [r.folder for r in removed] == [reused] and not reused.exists()
    assert mine.is_dir() and (target / "image" / "bin" / "sh").exists()

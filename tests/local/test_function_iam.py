"""Functions run with their own role's credentials, and the emulator allows them what the role allows.

A real `faas local` runs one applied deployment: `iamzip` (a zip function: its script runs on
this host's Python, with boto3) attacks the emulator with its own credentials as F2 of the attack
report did with the fixed ones (list every bucket, read another deployment's bucket, purge another
deployment's failure queue, create a function); `iamgate` (in its alpine image, in a network
namespace as root) tries the emulator's own API and the fixed admin credentials through its relay.
Each attack must be refused; what the role allows (its input, its output) must work; the admin
credentials must still do everything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from render.aws.connection import Aws
from render.local.execution import network
from render.local.execution.errors import LocalError
from render.local.execution.role_credentials import RoleCredentials
from tests.helpers import Mirror, requires_terraform
from tests.local.faas_local import FaasLocal, applied_locally

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]

BUCKET = "iam-probe-data"
OTHER_BUCKET = "iam-other-deployment"
OTHER_QUEUE = "iam-other-failures"
FDL = f"""\
functions:
  aws:
  - lambda:
      name: iamzip
      memory: 128
      timeout: 60
      init_script: zip.sh
      input: [{{storage_provider: s3, path: {BUCKET}/zipin}}]
      output: [{{storage_provider: s3, path: {BUCKET}/zipout}}]
  - lambda:
      name: iamgate
      memory: 128
      timeout: 60
      init_script: gate.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: {BUCKET}/gatein}}]
      output: [{{storage_provider: s3, path: {BUCKET}/gateout}}]
"""
ZIP_SCRIPT = f"""\
#!/bin/sh
set -eu
python3 - "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/report.json" <<'EOF'
import io, json, os, sys, zipfile
import boto3
from botocore.exceptions import ClientError

def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"])

def attempt(call):
    try:
        call()
        return "allowed"
    except ClientError as error:
        return f"{{error.response['ResponseMetadata']['HTTPStatusCode']}} {{error}}"

key = "zipin/" + os.path.basename(sys.argv[1])
me = client("sts").get_caller_identity()["Arn"]
role = me.replace(":sts::", ":iam::").replace("assumed-role/", "role/").rsplit("/", 1)[0]
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as archive:
    archive.writestr("h.py", "def handler(event, context):\\n    return 1\\n")
queue = os.environ["AWS_ENDPOINT_URL"] + "/123456789012/{OTHER_QUEUE}"
report = {{
    "caller": me,
    "admin key": os.environ["AWS_ACCESS_KEY_ID"] == "test",
    "own input": attempt(lambda: client("s3").get_object(Bucket="{BUCKET}", Key=key)),
    "list buckets": attempt(lambda: client("s3").list_buckets()),
    "other bucket": attempt(lambda: client("s3").get_object(Bucket="{OTHER_BUCKET}", Key="secret.txt")),
    "purge queue": attempt(lambda: client("sqs").purge_queue(QueueUrl=queue)),
    "create function": attempt(lambda: client("lambda").create_function(
        FunctionName="iamchain", Runtime="python3.12", Role=role, Handler="h.handler",
        Code={{"ZipFile": code.getvalue()}})),
}}
open(sys.argv[2], "w").write(json.dumps(report))
EOF
"""
# Raw HTTP through the namespace's relay (busybox nc): the emulator's reset, the fixed admin key,
# the function's own key under a forged signature. Each line: what was asked, the status line.
GATE_SCRIPT = r"""#!/bin/sh
set -u
address=${AWS_ENDPOINT_URL#http://}
none() { :; }
signed() {
  printf 'Authorization: AWS4-HMAC-SHA256 Credential=%s/20261207/us-east-1/s3/aws4_request, ' "$1"
  printf 'SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20261207T000000Z\r\n'
  [ -z "${2:-}" ] || printf 'X-Amz-Security-Token: %s\r\n' "$2"
}
ask() {  # METHOD PATH HEADERS-COMMAND [ARGS]: the answer's status line
  { printf '%s %s HTTP/1.0\r\nHost: %s\r\n' "$1" "$2" "$address"; shift 2; "$@"; printf 'Content-Length: 0\r\n\r\n'; } |
    nc -w 5 "${address%:*}" "${address##*:}" | head -n 1
}
{
  echo "reset: $(ask POST /moto-api/reset none)"
  echo "admin key: $(ask GET / signed test)"
  echo "forged signature: $(ask GET / signed "$AWS_ACCESS_KEY_ID" "$AWS_SESSION_TOKEN")"
} > "$TMP_OUTPUT_DIR/gate.txt"
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, mirror: Mirror, frozen_supervisor: Path) -> Iterator[FaasLocal]:
    work = tmp_path_factory.mktemp("function-iam")
    files = {"fdl.yaml": FDL, "zip.sh": ZIP_SCRIPT, "gate.sh": GATE_SCRIPT}
    with applied_locally(work, files, mirror.url, frozen_supervisor) as local:
        s3, sqs = local.client("s3"), local.client("sqs")
        s3.create_bucket(Bucket=OTHER_BUCKET)
        s3.put_object(Bucket=OTHER_BUCKET, Key="secret.txt", Body=b"not yours")
        queue = sqs.create_queue(QueueName=OTHER_QUEUE)["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="a failure record")
        yield local


def output(local: FaasLocal, key: str, timeout: float = 90) -> bytes:
    s3 = local.client("s3")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            time.sleep(0.2)
    raise AssertionError(f"{key} never appeared; the emulator said:\n{local.log.read_text()}")


def refused(outcome: str) -> bool:
    return outcome.startswith("403 ") and ("AccessDenied" in outcome or "not authorized to perform" in outcome)


def test_a_function_gets_what_its_role_allows_and_nothing_more(deployed: FaasLocal) -> None:
    deployed.client("s3").put_object(Bucket=BUCKET, Key="zipin/probe.txt", Body=b"mine")
    report = json.loads(output(deployed, "zipout/report.json"))  # written with its role: allowed
    assert report["caller"].startswith("arn:aws:sts::123456789012:assumed-role/iamzip-lambda-"), report
    assert report["admin key"] is False and report["own input"] == "allowed", report
    for attack in ("list buckets", "other bucket", "purge queue", "create function"):
        assert refused(report[attack]), (attack, report[attack])
    # The admin credentials still do everything, and nothing the function tried happened.
    s3, sqs = deployed.client("s3"), deployed.client("sqs")
    assert OTHER_BUCKET in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    queue = sqs.get_queue_url(QueueName=OTHER_QUEUE)["QueueUrl"]
    assert (
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"]
        == "1"
    )
    functions = {f["FunctionName"] for f in deployed.client("lambda").list_functions()["Functions"]}
    assert "iamchain" not in functions and "iamzip" in functions


@pytest.mark.skipif(not network.possible(), reason="functions have a network namespace only as root (with nsenter)")
def test_through_its_namespace_a_function_reaches_only_aws_requests_signed_with_its_role(deployed: FaasLocal) -> None:
    deployed.client("s3").put_object(Bucket=BUCKET, Key="gatein/probe.txt", Body=b"mine")
    lines = dict(line.split(": ", 1) for line in output(deployed, "gateout/gate.txt").decode().splitlines())
    assert lines["reset"].startswith("HTTP/1.1 403"), lines
    assert lines["admin key"].startswith("HTTP/1.1 403"), lines
    assert lines["forged signature"].startswith("HTTP/1.1 403"), lines  # moto's SignatureDoesNotMatch
    assert deployed.client("s3").head_bucket(Bucket=OTHER_BUCKET)  # the reset was not done


def test_a_role_missing_from_the_emulator_fails_the_run_with_its_name(aws_env: dict[str, str]) -> None:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    credentials = RoleCredentials(Aws(session, aws_env["AWS_ENDPOINT_URL"]))
    with pytest.raises(LocalError, match=r"the role arn:aws:iam::123456789012:role/given-in-fdl does not exist"):
        credentials.environment("arn:aws:iam::123456789012:role/given-in-fdl", "fn")
    assert set(credentials.environment(None, "fn")) & {"AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"} == set()

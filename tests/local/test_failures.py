"""Nothing lost: failures kept in the deployment's queue, listed by `faas failed`, replayed by `faas retry`.

A workflow rendered and applied by Terraform to a `faas local` process: `flaky` (a Lambda
function in its image) and `flaky-job` (a batch function, its job in the same image) both fail
while a flag object exists in the bucket (their script asks the emulator's S3 for it, signed with
their role's credentials, which the fixture allows to read it), and work once it is gone. The
rendered resources are read back with boto3 first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Mirror
from tests.local.faas_local import Running, applied_locally

pytestmark = [pytest.mark.slow, pytest.mark.terraform]

BUCKET = "local-failures"
FLAG = "flag"
FDL = f"""\
functions:
  aws:
  - lambda:
      name: flaky
      memory: 128
      timeout: 30
      init_script: flaky.sh
      container: {{image: python:3.12-alpine}}
      asynchronous_invocation: {{retry_attempts: 2, max_event_age: 3600}}
      input: [{{storage_provider: s3, path: {BUCKET}/in}}]
      output: [{{storage_provider: s3, path: {BUCKET}/out}}]
  - lambda:
      name: flaky-job
      execution_mode: batch
      memory: 128
      timeout: 30
      init_script: flaky.sh
      container: {{image: python:3.12-alpine}}
      input: [{{storage_provider: s3, path: {BUCKET}/job-in}}]
      output: [{{storage_provider: s3, path: {BUCKET}/job-out}}]
"""
# GetObject of the flag, path-style, signed (SigV4) with the role's credentials the script runs with.
FLAKY = f"""\
#!/bin/sh
set -u
if python3 - <<'EOF'
import datetime, hashlib, hmac, os, sys, urllib.error, urllib.request
endpoint, path, region = os.environ["AWS_ENDPOINT_URL"], "/{BUCKET}/{FLAG}", os.environ["AWS_REGION"]
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
headers = {{"host": endpoint.split("://", 1)[1], "x-amz-content-sha256": hashlib.sha256(b"").hexdigest(),
           "x-amz-date": when, "x-amz-security-token": os.environ["AWS_SESSION_TOKEN"]}}
names = ";".join(sorted(headers))
lines = ["GET", path, "", *(f"{{k}}:{{headers[k]}}" for k in sorted(headers)), "", names, headers["x-amz-content-sha256"]]
scope = f"{{when[:8]}}/{{region}}/s3/aws4_request"
text = chr(10).join(["AWS4-HMAC-SHA256", when, scope, hashlib.sha256(chr(10).join(lines).encode()).hexdigest()])
key = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
for part in scope.split("/"):
    key = hmac.new(key, part.encode(), hashlib.sha256).digest()
signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
credential = os.environ["AWS_ACCESS_KEY_ID"] + "/" + scope
headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={{credential}}, SignedHeaders={{names}}, Signature={{signature}}"
try:
    up = urllib.request.urlopen(urllib.request.Request(endpoint + path, headers=headers)).read() == b"up"
except urllib.error.HTTPError as error:
    sys.exit(1 if error.code == 404 else 2)
sys.exit(0 if up else 1)
EOF
then
  echo "the flag is up" >&2
  exit 4
fi
tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"
"""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, mirror: Mirror, frozen_supervisor: Path) -> Iterator[Running]:
    work = tmp_path_factory.mktemp("local-failures")
    files = {"fdl.yaml": FDL, "flaky.sh": FLAKY}
    with applied_locally(work, files, mirror.url, frozen_supervisor, network=work / "network.yaml") as local:
        allow_reading_the_flag(local.client("lambda"), local.client("batch"), local.client("iam"))
        yield Running(local.endpoint, local.pid, local.log, work / "root")


def allow_reading_the_flag(lam: Any, batch: Any, iam: Any) -> None:
    """The roles the scripts run with (flaky's execution role, flaky-job's job role) may read the flag."""
    definition = batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"][0]
    roles = [
        lam.get_function(FunctionName="flaky")["Configuration"]["Role"],
        definition["containerProperties"]["jobRoleArn"],
    ]
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{FLAG}"}
    for role in roles:
        document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        iam.put_role_policy(RoleName=role.rsplit("/", 1)[-1], PolicyName="read-flag", PolicyDocument=document)


def raise_flag(running: Running) -> None:
    running.s3().put_object(Bucket=BUCKET, Key=FLAG, Body=b"up")


def lower_flag(running: Running) -> None:
    running.s3().delete_object(Bucket=BUCKET, Key=FLAG)


def written(running: Running, key: str) -> bytes:
    """What the replay wrote (`faas retry` waits for the workflow it started)."""
    return bytes(running.s3().get_object(Bucket=BUCKET, Key=key)["Body"].read())


def kept(running: Running, function: str) -> list[dict[str, Any]]:
    listed = running.faas("failed", function, "--json", root=False)
    assert listed.code == 0, listed.err
    found: list[dict[str, Any]] = json.loads(listed.out)
    return found


def test_the_rendered_resources_keep_failures(running: Running) -> None:
    lam, sqs, events, iam = (running.client(s) for s in ("lambda", "sqs", "events", "iam"))
    url = sqs.get_queue_url(QueueName="fdl-failures")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    assert attributes["SqsManagedSseEnabled"] == "true" and attributes["MessageRetentionPeriod"] == "1209600"
    for name, age in (("flaky", 3600), ("flaky-job", 21600)):
        config = lam.get_function_event_invoke_config(FunctionName=name)
        assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, age)
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
        role = lam.get_function(FunctionName=name)["Configuration"]["Role"].rsplit("/", 1)[-1]
        policy = iam.get_role_policy(RoleName=role, PolicyName="faas-render")["PolicyDocument"]
        statements = policy["Statement"] if isinstance(policy, dict) else json.loads(policy)["Statement"]
        (send,) = [s for s in statements if s.get("Sid") == "SendFailures"]
        assert send["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"]) and send["Resource"] == queue_arn
    rule = events.describe_rule(Name="fdl-batch-failures")
    queue = running.client("batch").describe_job_queues()["jobQueues"][0]["jobQueueArn"]
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        "detail": {"status": ["FAILED"], "jobQueue": [queue]},
    }
    (target,) = events.list_targets_by_rule(Rule="fdl-batch-failures")["Targets"]
    assert target["Arn"] == queue_arn
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}


def test_a_failed_upload_is_kept_until_a_retry_succeeds(running: Running, tmp_path: Path) -> None:
    raise_flag(running)
    (tmp_path / "a.txt").write_text("abc")
    put = running.faas("put", "flaky", str(tmp_path / "a.txt"))
    assert put.code == 1, put.err
    assert "[flaky] Lambda started by s3://local-failures/in/a.txt (retry 2 of 2)" in put.err, put.err
    assert "RetriesExhausted after 3 attempt(s): kept in fdl-failures" in put.err, put.err

    (failure,) = kept(running, "flaky")
    assert (failure["kind"], failure["function"], failure["attempts"]) == ("lambda", "flaky", 3)
    assert failure["input"] == f"s3://{BUCKET}/in/a.txt" and "exited with status 4" in failure["why"]
    assert failure["message"]["requestContext"]["condition"] == "RetriesExhausted"
    table = running.faas("failed", root=False)
    assert table.code == 0 and table.out.splitlines()[0].split() == [
        "ID",
        "FUNCTION",
        "INPUT",
        "WHEN",
        "WHY",
        "ATTEMPTS",
    ]
    assert failure["id"][:8] in table.out and f"s3://{BUCKET}/in/a.txt" in table.out

    again = running.faas("retry", "flaky")
    assert again.code == 1, again.out + again.err
    assert "failed again" in again.out and "1 failed again (kept)" in again.out
    assert [f["id"] for f in kept(running, "flaky")] == [failure["id"]]  # still there, visible at once

    lower_flag(running)
    retried = running.faas("retry", "--id", failure["id"][:8])
    assert retried.code == 0, retried.out + retried.err
    assert "ok, removed from the queue" in retried.out
    assert kept(running, "flaky") == []
    assert written(running, "out/a.txt") == b"ABC"
    assert running.faas("failed", "flaky", root=False).out.strip() == "no failures kept of flaky"


def test_a_failed_batch_job_is_kept_and_replayed(running: Running, tmp_path: Path) -> None:
    raise_flag(running)
    (tmp_path / "b.txt").write_text("job")
    put = running.faas("put", "flaky-job", str(tmp_path / "b.txt"))
    assert put.code == 1 and "FAILED (exit status 4)" in put.err, put.err

    (failure,) = kept(running, "flaky-job")
    assert (failure["kind"], failure["function"], failure["attempts"]) == ("batch", "flaky-job", 1)
    assert failure["input"] == f"s3://{BUCKET}/job-in/b.txt"
    assert failure["why"] == "Essential container in task exited; exit code 4"
    assert failure["message"]["detail-type"] == "Batch Job State Change"

    again = running.faas("retry", "flaky-job")
    assert again.code == 1 and "kept as the new job's failure" in again.out, again.out + again.err
    (anew,) = kept(running, "flaky-job")
    assert anew["id"] != failure["id"] and anew["input"] == failure["input"]

    lower_flag(running)
    retried = running.faas("retry", "flaky-job")
    assert retried.code == 0, retried.out + retried.err
    assert kept(running, "flaky-job") == []
    assert written(running, "job-out/b.txt") == b"JOB"


def test_nothing_to_list_or_retry_is_said(running: Running) -> None:
    assert running.faas("retry", "flaky").out.strip() == "nothing to retry: no failures kept of flaky"
    missing = running.faas("retry", "--id", "ffffffff")
    assert missing.code == 1 and "no kept failure has an id starting with ffffffff" in missing.err

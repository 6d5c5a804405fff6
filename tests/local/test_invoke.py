"""`faas local` answers Lambda's Invoke by running the function: boto3, Terraform and `faas invoke` get its result.

The workflow of tests/local/faas_local.py (`upper` writes into `count`'s input folder) is applied
to a real `faas local` process once for the folder (tests/local/conftest.py).
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import aws_variables, requires_terraform, terraform
from tests.local.ecr_push import build_image, push_image
from tests.local.faas_local import BUCKET, Running
from tests.local.image_deployment import pull_policy

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]


def s3_event(key: str) -> dict[str, Any]:
    return {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}]}


def staged(running: Running, name: str, content: bytes) -> dict[str, Any]:
    """`in/NAME` uploaded and its workflow run, its results removed again; an event for it."""
    s3 = running.s3()
    s3.put_object(Bucket=BUCKET, Key=f"in/{name}", Body=content)
    running.settle()
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": f"mid/{name}"}, {"Key": f"out/{name}.count"}]})
    return s3_event(f"in/{name}")


def test_invoke_runs_the_function_and_answers_with_its_result(running: Running) -> None:
    event = staged(running, "boto.txt", b"boto")
    answer = running.client("lambda").invoke(FunctionName="upper", Payload=json.dumps(event).encode())
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    result = json.loads(answer["Payload"].read())
    assert result["status"] == "succeeded"
    assert result["uploaded"] == [f"s3://{BUCKET}/mid/boto.txt"]
    assert running.s3().get_object(Bucket=BUCKET, Key="mid/boto.txt")["Body"].read() == b"BOTO"
    assert running.wait_for("out/boto.txt.count").strip() == b"4"  # what its output triggers runs too
    assert "[upper] Lambda started by a direct invocation" in running.log.read_text()


def test_a_failed_function_answers_with_lambdas_error_document(running: Running) -> None:
    event = staged(running, "fail.txt", b"no")
    answer = running.client("lambda").invoke(FunctionName="upper", Payload=json.dumps(event).encode())
    assert (answer["StatusCode"], answer.get("FunctionError")) == (200, "Unhandled")
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ScriptFailed" and "exited with status 3" in error["errorMessage"], error
    assert "[upper] FAILED after" in running.log.read_text()


def test_an_event_invocation_is_queued(running: Running) -> None:
    event = staged(running, "event.txt", b"queued")
    answer = running.client("lambda").invoke(
        FunctionName="upper", InvocationType="Event", Payload=json.dumps(event).encode()
    )
    assert answer["StatusCode"] == 202 and answer["Payload"].read() == b""
    assert running.wait_for("out/event.txt.count").strip() == b"6"
    assert "[upper] Lambda started by an asynchronous invocation" in running.log.read_text()


def test_faas_invoke_needs_no_root_under_faas_local(running: Running) -> None:
    event = staged(running, "cli.txt", b"three")
    invoked = running.faas("invoke", "upper", "--payload", json.dumps(event), root=False)
    assert invoked.code == 0, invoked.err
    assert json.loads(invoked.out)["uploaded"] == [f"s3://{BUCKET}/mid/cli.txt"]
    assert "[upper] Lambda started by a direct invocation" in invoked.err
    assert f"[count] Lambda started by s3://{BUCKET}/mid/cli.txt" in invoked.err  # followed to the end
    assert "local run: 2 run(s), 2 object(s) written" in invoked.err
    assert running.s3().get_object(Bucket=BUCKET, Key="out/cli.txt.count")["Body"].read().strip() == b"5"

    queued = running.faas("invoke", "upper", "--payload", json.dumps(event), "--async", root=False)
    assert queued.code == 0 and "accepted (status 202)" in queued.out, queued.err
    running.settle()


def test_terraform_gets_the_result_of_aws_lambda_invocation(running: Running, tmp_path: Path) -> None:
    event = staged(running, "terraform.txt", b"tf")
    (tmp_path / "main.tf").write_text(
        textwrap.dedent(
            f"""\
            terraform {{
              required_providers {{
                aws = {{ source = "hashicorp/aws", version = ">= 5.0, < 6.0" }}
              }}
            }}
            provider "aws" {{
              region = "us-east-1"
            }}
            resource "aws_lambda_invocation" "upper" {{
              function_name = "upper"
              input         = {json.dumps(json.dumps(event))}
            }}
            output "result" {{
              value = aws_lambda_invocation.upper.result
            }}
            """
        )
    )
    env = {**os.environ, **aws_variables(running.endpoint)}
    terraform(tmp_path, "init", "-input=false", env=env)
    terraform(tmp_path, "apply", "-auto-approve", "-input=false", env=env)
    result = json.loads(terraform(tmp_path, "output", "-raw", "result", env=env).stdout)
    assert (result["status"], result["uploaded"]) == ("succeeded", [f"s3://{BUCKET}/mid/terraform.txt"])
    running.settle()


def test_a_function_that_cannot_run_here_fails_without_hanging(running: Running) -> None:
    lam, ecr = running.client("lambda"), running.client("ecr")
    role = lam.get_function(FunctionName="upper")["Configuration"]["Role"]
    ecr.create_repository(repositoryName="nowhere")
    ecr.set_repository_policy(repositoryName="nowhere", policyText=pull_policy("from-image"))
    push_image(ecr, "nowhere", build_image("unused", tar=b"not a tar archive"), "1")
    lam.create_function(
        FunctionName="from-image",
        PackageType="Image",
        Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/nowhere:1"},
        Role=role,
    )
    answer = lam.invoke(FunctionName="from-image", Payload=b"{}")
    assert answer.get("FunctionError") == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ImageRefused", error
    assert "cannot run the image 123456789012.dkr.ecr.us-east-1.amazonaws.com/nowhere:1" in error["errorMessage"]
    assert "[from-image] FAILED after 0.0 s" in running.log.read_text()

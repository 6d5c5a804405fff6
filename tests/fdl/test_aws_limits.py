"""Limits AWS enforces that the emulator does not: checked at render time, on both sides of each boundary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from faas_supervisor import contract

from render.fdl.lambda_environment import LAMBDA_ENV_LIMIT, environment_size
from tests.helpers import render

FUNCTION = """\
functions:
  aws:
  - lambda:
      name: f1
      execution_mode: {mode}
      init_script: run.sh
      timeout: {timeout}
      container:
        image: alpine
      environment:
        Variables:
          BIG: "{value}"
      input:
      - storage_provider: s3
        path: bucket-one/in
      output:
      - storage_provider: s3
        path: bucket-one/out
{extra}"""
NETWORK = """\
    batch:
      compute_resources:
        subnets: [subnet-0123456789abcdef0]
        security_group_ids: [sg-0123456789abcdef0]
"""


def write(tmp_path: Path, value: str, mode: str = "lambda", timeout: int = 60, extra: str = "") -> Path:
    source = tmp_path / "fdl.yaml"
    source.write_text(FUNCTION.format(mode=mode, value=value, timeout=timeout, extra=extra))
    (tmp_path / "run.sh").write_text("echo hi\n")
    return source


def test_environment_size_is_the_compact_json_document() -> None:
    variables = {"A": "x", "NAME": 'quote " and é'}
    assert environment_size(variables) == len('{"A":"x","NAME":"quote \\" and \\u00e9"}')


@pytest.mark.parametrize("over", [0, 1])
def test_lambda_environment_limit_is_measured_as_json(
    over: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # {"BIG":"..."}: 10 bytes around the value, and each '"' in it takes two.
    value = 'x"' * 10 + "x" * (LAMBDA_ENV_LIMIT - 10 - 30 + over)
    assert environment_size({"BIG": value}) == LAMBDA_ENV_LIMIT + over
    status = render(write(tmp_path, value.replace('"', '\\"')), tmp_path / "out")
    err = capsys.readouterr().err
    if over:
        assert status == 2
        assert (
            f"fdl.yaml:11: functions.aws[0].lambda.environment.Variables: the Lambda environment would be {LAMBDA_ENV_LIMIT + 1} bytes as JSON"
            in err
        ), err
    else:
        assert status == 0, err
        assert f'"BIG" = {json.dumps(value)}\n' in (tmp_path / "out" / "main.tf").read_text()


@pytest.mark.parametrize("over", [0, 1])
def test_batch_functions_count_the_variables_terraform_adds(over: int, tmp_path: Path) -> None:
    # The queue ARN and bucket name at their deployed length (us-east-1, an account id of 12 digits).
    added = {
        contract.ARTIFACTS_BUCKET: "b" * (len("fdl-artifacts-") + 26),
        contract.JOB_DEFINITION: "f1",
        contract.JOB_QUEUE: "arn:aws:batch:us-east-1:123456789012:job-queue/fdl-f1",
    }
    room = LAMBDA_ENV_LIMIT - environment_size({**added, "BIG": ""})
    source = write(tmp_path, "x" * (room + over), mode="batch", extra=NETWORK)
    status = render(source, tmp_path / "out")
    assert status == (2 if over else 0)


@pytest.mark.parametrize(("timeout", "warned"), [(29, False), (30, True)])
def test_api_gateway_functions_longer_than_29_seconds_are_warned_about(
    timeout: int, warned: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path, "v", timeout=timeout, extra="    api_gateway:\n      name: api\n")
    assert render(source, tmp_path / "out") == 0
    err = capsys.readouterr().err
    expected = f"warning: {source}:7: functions.aws[0].lambda.timeout: {timeout} s is longer than API Gateway"
    assert (expected in err) == warned, err
    if not warned:
        assert "API Gateway" not in err


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("bucket", "problem"),
    [
        (f"existing: true\n    kms_key: {KEY}", None),
        ("existing: true\n    kms_key: arn:aws:kms:us-east-1:123456789012:alias/data", "buckets.bucket-one.kms_key"),
        (f"kms_key: {KEY}", "kms_key names the key an existing bucket is encrypted with"),
    ],
)
def test_bucket_kms_keys_are_key_arns_of_existing_buckets(
    bucket: str, problem: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path, "v", extra=f"buckets:\n  bucket-one:\n    {bucket}\n")
    status = render(source, tmp_path / "out")
    err = capsys.readouterr().err
    if problem:
        assert status == 2 and problem in err, err
        assert f"{source}:2" in err or f"{source}:3" in err, err
    else:
        assert status == 0, err
        assert re.search(rf'kms_key_arns += \["{KEY}"\]', (tmp_path / "out" / "main.tf").read_text())


def test_no_kms_keys_no_kms_access(tmp_path: Path) -> None:
    assert render(write(tmp_path, "v"), tmp_path / "out") == 0
    assert "kms_key_arns" not in (tmp_path / "out" / "main.tf").read_text()


@pytest.mark.parametrize(("days", "valid"), [(0, False), (1, True)])
def test_staged_events_expire_after_at_least_a_day(days: int, valid: bool, tmp_path: Path) -> None:
    extra = NETWORK + f"      staged_events_expiration_days: {days}\n"
    assert render(write(tmp_path, "v", mode="batch", extra=extra), tmp_path / "out") == (0 if valid else 2)
    if valid:
        assert 'prefix = "events/f1/"' in (tmp_path / "out" / "main.tf").read_text()

"""Other accounts' storage keys (SCAR's storage_providers) appear in no file, state, environment or log.

The end-to-end test deploys to the emulator with keys of a real second account (moto picks the
account from the access key IAM created in it), so the output landing in that account's bucket
proves the supervisor resolved the keys from SSM at run time; everything else that could hold
them is searched for them.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers import render, render_in_process, requires_terraform, terraform

OTHER_ACCOUNT = "222222222222"
SCRIPT = '#!/bin/sh\ntr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"\n'
FDL = """\
functions:
  aws:
  - lambda:
      name: shout
      init_script: shout.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: secrets-own/in}}]
      output:
      - {{storage_provider: s3.partner, path: partner-results/shouted}}
      - {{storage_provider: s3, path: secrets-own/copy}}
  - lambda:
      name: relay
      init_script: shout.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: secrets-own/relay}}]
      output: [{{storage_provider: s3.team, path: team-results}}]
storage_providers:
  s3:
    partner:
      access_key: {access_key}
      secret_key: {secret_key}
      region: us-east-1
    team:
      credentials_parameter: /team/storage-keys
buckets:
  secrets-own: {{force_destroy: true}}
"""


def write_fdl(folder: Path, access_key: str, secret_key: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shout.sh").write_text(SCRIPT)
    fdl = folder / "secrets.yaml"
    fdl.write_text(FDL.format(access_key=access_key, secret_key=secret_key))
    return fdl


def everything_under(root: Path) -> str:
    """Every file's text, zips and layers unpacked (they hold function_config.json)."""
    texts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".terraform" not in p.parts):
        data = path.read_bytes()
        if path.suffix == ".zip":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                texts += [archive.read(name).decode(errors="replace") for name in archive.namelist()]
        if path.name.endswith(".tar.gz"):
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                files = [layer.extractfile(member) for member in layer.getmembers() if member.isfile()]
                texts += [file.read().decode(errors="replace") for file in files if file]
        texts.append(data.decode(errors="replace"))
    return "\n".join(texts)


def test_render_writes_parameter_names_not_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fdl = write_fdl(tmp_path, "AKIAKEYMARKER0001", "secret-marker-Zq9")
    assert render(fdl, tmp_path / "out") == 0
    said = capsys.readouterr()
    written = everything_under(tmp_path / "out")
    for marker in ("AKIAKEYMARKER0001", "secret-marker-Zq9"):
        assert marker not in written and marker not in said.out + said.err
    main_tf = (tmp_path / "out" / "main.tf").read_text()
    assert "value_wo         = jsonencode(var.storage_credentials[each.key])" in main_tf
    assert "ephemeral = true" in main_tf and 'required_version = ">= 1.11"' in main_tf
    assert 'credentials_parameters = [aws_ssm_parameter.storage_credentials["s3.partner"].name]' in main_tf
    assert 'credentials_parameters = ["/team/storage-keys"]' in main_tf
    with tarfile.open(tmp_path / "out" / "artifacts" / "layers" / "shout.tar.gz") as layer:
        config = json.load(layer.extractfile("var/task/function_config.json"))  # type: ignore[arg-type]
    assert config["storage_providers"] == {
        "s3.partner": {"credentials_parameter": "/faas-render/secrets/storage/s3.partner", "region": "us-east-1"}
    }
    assert [o.get("storage_provider") for o in config["output"]] == ["s3.partner", None]
    assert "TF_VAR_storage_credentials" in said.err  # how to apply without faas-render


def test_buckets_of_other_accounts_are_neither_created_nor_granted(tmp_path: Path) -> None:
    assert render(write_fdl(tmp_path, "AKIAX", "y"), tmp_path / "out") == 0
    main_tf = (tmp_path / "out" / "main.tf").read_text()
    assert '"secrets-own" = {' in main_tf
    assert "partner-results" not in main_tf and "team-results" not in main_tf


CASES = {
    "both forms": ("      credentials_parameter: /x\n", "credentials_parameter", "not both"),
    "half the keys": ("", "secret_key", "need both access_key and secret_key"),
    "bad parameter name": (None, "credentials_parameter", "expected an SSM parameter name"),
    "version with a reference": (None, "credentials_version", "only applies to keys given in the FDL"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_storage_providers_are_located(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = write_fdl(tmp_path, "AKIAX", "y").read_text()
    if case == "both forms":
        text = text.replace("      region: us-east-1\n", "      region: us-east-1\n" + (CASES[case][0] or ""))
    elif case == "half the keys":
        text = text.replace("      secret_key: y\n", "")
    elif case == "bad parameter name":
        text = text.replace("/team/storage-keys", "arn:aws:ssm:us-east-1:1:parameter/x")
    else:
        text = text.replace(
            "credentials_parameter: /team/storage-keys", "{credentials_parameter: /t, credentials_version: 2}"
        )
    (tmp_path / "secrets.yaml").write_text(text)
    assert render(tmp_path / "secrets.yaml", tmp_path / "out") == 2
    err = capsys.readouterr().err
    _, key, message = CASES[case]
    assert "secrets.yaml:" in err and "storage_providers.s3." in err and key in err and message in err, err
    assert not (tmp_path / "out").exists()


def other_account_keys(endpoint: str) -> tuple[Any, str, str]:
    """An S3 client of account 222222222222, and an access key IAM created there."""

    def in_other_account(client: Any) -> Any:
        client.meta.events.register(
            "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", OTHER_ACCOUNT)
        )
        return client

    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    iam = in_other_account(session.client("iam", endpoint_url=endpoint))
    iam.create_user(UserName="partner")
    key = iam.create_access_key(UserName="partner")["AccessKey"]
    s3 = in_other_account(session.client("s3", endpoint_url=endpoint))
    s3.create_bucket(Bucket="partner-results")
    return s3, key["AccessKeyId"], key["SecretAccessKey"]


@requires_terraform()
@pytest.mark.terraform
@pytest.mark.slow
def test_keys_reach_the_function_through_ssm_and_nothing_else(
    aws_env: dict[str, str],
    moto_endpoint: str,
    frozen_supervisor: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAAS_RENDER_SUPERVISOR_BUNDLE", str(frozen_supervisor))  # it runs in the function's image
    # Only the partner's keys open the partner's bucket (the in-process server reads this per request).
    monkeypatch.setenv("MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS", "false")
    partner_s3, access_key, secret_key = other_account_keys(moto_endpoint)
    markers = (access_key, secret_key)
    fdl = write_fdl(tmp_path, access_key, secret_key)
    root = tmp_path / "root"
    applied = render_in_process(fdl, root, "--apply")
    assert applied.returncode == 0, applied.stderr[-3000:]
    try:
        ssm = boto3.client("ssm")
        stored = ssm.get_parameter(Name="/faas-render/secrets/storage/s3.partner", WithDecryption=True)
        assert json.loads(stored["Parameter"]["Value"]) == {"access_key": access_key, "secret_key": secret_key}
        assert stored["Parameter"]["Type"] == "SecureString"

        shown = terraform(root, "show", "-json").stdout
        state = (root / "terraform.tfstate").read_text()
        lambda_ = boto3.client("lambda")
        environments = json.dumps(
            [lambda_.get_function_configuration(FunctionName=n).get("Environment") for n in ("shout", "relay")]
        )
        policies = json.dumps(
            [
                boto3.client("iam").get_role_policy(RoleName=role["RoleName"], PolicyName=name)["PolicyDocument"]
                for role in boto3.client("iam").list_roles()["Roles"]
                if role["RoleName"].startswith("shout-lambda")
                for name in boto3.client("iam").list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
            ]
        )
        assert "parameter/faas-render/secrets/storage/s3.partner" in policies and "ssm:GetParameter" in policies

        (tmp_path / "note.txt").write_text("quiet please")
        put = subprocess.run(
            [
                sys.executable,
                "-m",
                "render.faas_cli",
                "put",
                "shout",
                str(tmp_path / "note.txt"),
                "--root",
                str(root),
                "-v",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert put.returncode == 0, put.stderr
        assert partner_s3.get_object(Bucket="partner-results", Key="shouted/note.txt")["Body"].read() == b"QUIET PLEASE"
        own = boto3.client("s3")
        assert own.get_object(Bucket="secrets-own", Key="copy/note.txt")["Body"].read() == b"QUIET PLEASE"
        with pytest.raises(ClientError, match="AccessDenied"):  # the function's own role could not have written it
            own.list_objects_v2(Bucket="partner-results")

        logs = boto3.client("logs")
        events = json.dumps(
            [
                logs.get_log_events(logGroupName="/aws/lambda/shout", logStreamName=s["logStreamName"])["events"]
                for s in logs.describe_log_streams(logGroupName="/aws/lambda/shout")["logStreams"]
            ]
        )
        assert "START RequestId" in events  # the log was read, and holds the run
        everywhere = {
            "rendered files": everything_under(root),
            "faas-render's output": applied.stdout + applied.stderr,
            "terraform show -json": shown,
            "the state": state,
            "Lambda environments": environments,
            "IAM policies": policies,
            "faas put's output": put.stdout + put.stderr,
            "the function's log": events,
        }
        for where, text in everywhere.items():
            for marker in markers:
                assert marker not in text, f"a key appears in {where}"

        replanned = render_in_process(fdl, root, "--plan")
        assert replanned.returncode == 0 and "No changes." in replanned.stdout, replanned.stdout[-2000:]
        plain = terraform(root, "plan", "-input=false", check=False)
        assert plain.returncode != 0 and "storage_credentials" in plain.stderr  # no keys, no plan
    finally:
        destroyed = render_in_process(fdl, root, "--destroy")
    assert destroyed.returncode == 0, destroyed.stderr[-2000:]

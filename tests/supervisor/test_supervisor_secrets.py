"""Outputs in another AWS account, written with keys read at run time from SSM Parameter Store.

A genuine second account on the moto server: account 222222222222 (reached with the request
header x-moto-account-id) gets an IAM user, an access key and a bucket; the key is stored as a
SecureString parameter in the function's own account. Requests signed with that key land in
account 222222222222, and cross-account S3 access is switched off on the server, so the function's
own credentials cannot touch that bucket: an object there proves the resolved keys were used.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from faas_supervisor import aws as sup_aws
from faas_supervisor import logs
from faas_supervisor.config import StorageProvider, parse_config
from faas_supervisor.credentials import StorageClients
from faas_supervisor.errors import ConfigError, StorageError
from faas_supervisor.lambda_function import lambda_handler

from tests.supervisor.conftest import Aws, ContextFactory, LambdaTask, S3Event

REGION = "us-east-1"  # the aws fixture's default region
OTHER_ACCOUNT = "222222222222"
PROVIDER = "s3.ext"
SCRIPT = 'echo "result of $REQUEST_ID" > "$TMP_OUTPUT_DIR/result.txt"\nenv > "$TMP_OUTPUT_DIR/env.txt"\n'


@cache
def account_client(endpoint: str, service: str, account: str) -> Any:
    """A client whose requests the moto server attributes to `account` (header x-moto-account-id).

    Made once per process, as the conftest's own clients are."""
    client = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION).client(
        service, endpoint_url=endpoint
    )

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-send", add_header)
    return client


@dataclass
class OtherAccount:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def s3(self) -> Any:
        return account_client(self.endpoint, "s3", OTHER_ACCOUNT)

    def keys(self) -> list[str]:
        resp = self.s3().list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in resp.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    @property
    def secrets(self) -> tuple[str, str]:
        return self.access_key, self.secret_key


@pytest.fixture
def other(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> OtherAccount:
    """Account 222222222222: an IAM user's access key and a bucket, out of the default account's reach."""
    monkeypatch.setenv("MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS", "false")  # read per request by the in-process server
    iam = account_client(aws.endpoint, "iam", OTHER_ACCOUNT)
    user = f"partner-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    bucket = f"partner-{uuid.uuid4().hex[:12]}"
    account_client(aws.endpoint, "s3", OTHER_ACCOUNT).create_bucket(Bucket=bucket)
    return OtherAccount(aws.endpoint, key["AccessKeyId"], key["SecretAccessKey"], bucket)


def store_parameter(aws: Aws, value: str) -> str:
    """A SecureString parameter in the function's own (default) account; returns its name."""
    name = f"/faas-render/test-{uuid.uuid4().hex[:8]}/storage/{PROVIDER}"
    aws.client("ssm").put_parameter(Name=name, Type="SecureString", Value=value)
    return name


def keys_json(other: OtherAccount, **extra: str) -> str:
    return json.dumps({"access_key": other.access_key, "secret_key": other.secret_key, "note": "x", **extra})


def function_config(own_bucket: str, other: OtherAccount, parameter: str, **extra: Any) -> dict[str, Any]:
    """Own-account output first: a provider that cannot be used must stop it too."""
    return {
        "name": "fn",
        "output": [
            {"bucket": own_bucket, "key_prefix": "own"},
            {"bucket": other.bucket, "key_prefix": "from-fn", "storage_provider": PROVIDER},
        ],
        "storage_providers": {PROVIDER: {"credentials_parameter": parameter, "region": REGION}},
        **extra,
    }


def assert_nowhere(secrets: tuple[str, ...], **texts: str) -> None:
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret value appears in {where}"


def parameter_reads() -> list[str]:
    """Names of the GetParameter requests the supervisor's own SSM client sends (observed, not mocked)."""
    names: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        names.append(params["Name"])

    sup_aws.client("ssm").meta.events.register("provide-client-params.ssm.GetParameter", record)
    return names


# --- Lambda ------------------------------------------------------------------------------------


def test_output_written_to_the_other_account_with_the_keys_from_ssm(
    aws: Aws,
    other: OtherAccount,
    lambda_task: LambdaTask,
    context: ContextFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    own = aws.bucket("own")
    token = f"session-token-{uuid.uuid4().hex}"
    parameter = store_parameter(aws, keys_json(other, session_token=token))
    reads = parameter_reads()
    lambda_task(function_config(own, other, parameter), script=SCRIPT)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)  # every logger of the process, botocore's included

    result = lambda_handler({"direct": True}, context(request_id="req-ext"))

    assert result["status"] == "succeeded"
    assert f"s3://{other.bucket}/from-fn/result.txt" in result["uploaded"]
    assert other.read("from-fn/result.txt") == b"result of req-ext\n"
    assert other.keys() == ["from-fn/env.txt", "from-fn/result.txt"]
    assert aws.keys(own) == ["own/env.txt", "own/result.txt"]
    assert reads == [parameter]
    # The default account's credentials cannot see that bucket: only the resolved keys reach it.
    assert other.bucket not in [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    with pytest.raises(ClientError, match="AccessDenied"):
        aws.client("s3").list_objects_v2(Bucket=other.bucket)

    # A second invocation in the same (warm) process: its script starts after the keys were used.
    first_env = aws.read(own, "own/env.txt").decode()
    second = lambda_handler({"direct": True}, context(request_id="req-ext-2"))
    second_env = other.read("from-fn/env.txt").decode()
    assert "REQUEST_ID=req-ext\n" in first_env and "REQUEST_ID=req-ext-2\n" in second_env  # the scripts' own
    assert reads == [parameter, parameter]  # read again: nothing kept across invocations

    secrets = (*other.secrets, token)
    out, err = capfd.readouterr()
    assert_nowhere(
        secrets,
        logs=caplog.text,
        stdout=out,
        stderr=err,
        first_environment=first_env,
        second_environment=second_env,
        results=json.dumps([result, second]),
    )
    # DEBUG was on and botocore logged its signed requests: with the key masked
    assert f"credentials from SSM parameter {parameter}" in caplog.text
    assert "Credential=***/" in caplog.text
    assert logs.QUIET_NOTE in caplog.text  # botocore's GetParameter response body, hidden
    assert logs.mask(other.secret_key) == other.secret_key  # forgotten once the invocation ended


def test_own_credentials_cannot_write_there(
    aws: Aws, other: OtherAccount, lambda_task: LambdaTask, context: ContextFactory
) -> None:
    """The control: without the provider the same upload is refused, so the test above can fail."""
    parameter = store_parameter(aws, keys_json(other))
    config = function_config(aws.bucket("own"), other, parameter)
    del config["output"][1]["storage_provider"]
    lambda_task(config, script=SCRIPT)
    with pytest.raises(
        StorageError, match=rf"cannot upload env.txt to s3://{other.bucket}/from-fn/env.txt: access denied"
    ):
        lambda_handler({}, context())
    assert other.keys() == []


def test_parameter_read_once_per_invocation_and_again_on_the_next(
    aws: Aws,
    other: OtherAccount,
    lambda_task: LambdaTask,
    s3_event: S3Event,
    context: ContextFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, own = aws.bucket("in"), aws.bucket("own")
    for key in ("in/a.txt", "in/b.txt"):
        aws.client("s3").put_object(Bucket=src, Key=key, Body=key.encode())
    parameter = store_parameter(aws, keys_json(other))
    reads = parameter_reads()
    lambda_task(function_config(own, other, parameter), script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n')

    assert lambda_handler(s3_event(src, "in/a.txt", "in/b.txt"), context())["runs"] == 2
    assert other.keys() == ["from-fn/a.txt", "from-fn/b.txt"]
    assert reads == [parameter]  # two runs, one read

    # Rotated (here: broken) keys take effect on the next invocation: nothing is cached across them.
    aws.client("ssm").put_parameter(Name=parameter, Type="SecureString", Value="rotated, not JSON", Overwrite=True)
    with pytest.raises(StorageError, match="its value is not JSON"):
        lambda_handler(s3_event(src, "in/a.txt"), context())
    assert reads == [parameter, parameter]


def test_missing_parameter_fails_the_run_and_uploads_nothing(
    aws: Aws,
    other: OtherAccount,
    lambda_task: LambdaTask,
    context: ContextFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    own = aws.bucket("own")
    parameter = f"/faas-render/test-{uuid.uuid4().hex[:8]}/storage/missing"
    lambda_task(function_config(own, other, parameter), script=SCRIPT)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StorageError) as err:
        lambda_handler({}, context())
    message = str(err.value)
    assert (
        f"storage provider {PROVIDER}: cannot get credentials from SSM parameter {parameter}: "
        "it does not exist (ParameterNotFound); nothing uploaded"
    ) in message
    assert message.startswith("function fn: ")
    assert aws.keys(own) == []  # not even the own-account output, listed first
    assert other.keys() == []
    assert "ParameterNotFound); nothing uploaded" in caplog.text  # the invocation's ERROR line


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("access_key={key} secret_key={secret}", "its value is not JSON"),
        ('["{key}", "{secret}"]', "its value is not a JSON object"),
        ('{{"access_key": "{key}", "secret": "{secret}"}}', "its value has no 'secret_key'"),
        ('{{"access_key": "", "secret_key": "{secret}"}}', "its value has no 'access_key'"),
        (
            '{{"access_key": "{key}", "secret_key": "{secret}", "session_token": 7}}',
            "its 'session_token' is not a string",
        ),
    ],
    ids=["not-json", "not-an-object", "no-secret-key", "empty-access-key", "bad-token"],
)
def test_unusable_parameter_value_is_described_not_shown(
    aws: Aws,
    other: OtherAccount,
    lambda_task: LambdaTask,
    context: ContextFactory,
    caplog: pytest.LogCaptureFixture,
    value: str,
    reason: str,
) -> None:
    own = aws.bucket("own")
    parameter = store_parameter(aws, value.format(key=other.access_key, secret=other.secret_key))
    lambda_task(function_config(own, other, parameter), script=SCRIPT)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StorageError) as err:
        lambda_handler({}, context())
    message = str(err.value)
    assert f"storage provider {PROVIDER}: cannot get credentials from SSM parameter {parameter}: {reason}" in message
    assert message.endswith("; nothing uploaded")
    assert aws.keys(own) == [] and other.keys() == []
    assert_nowhere(other.secrets, message=message, logs=caplog.text)


def test_upload_refused_with_the_other_accounts_keys(
    aws: Aws, other: OtherAccount, lambda_task: LambdaTask, context: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The other account's key may not write to a bucket of the function's account: AccessDenied."""
    own, elsewhere = aws.bucket("own"), aws.bucket("not-theirs")
    parameter = store_parameter(aws, keys_json(other))
    config = function_config(own, other, parameter)
    config["output"][1]["bucket"] = elsewhere
    lambda_task(config, script=SCRIPT)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StorageError) as err:
        lambda_handler({}, context())
    message = str(err.value)
    assert (
        f"cannot upload env.txt to s3://{elsewhere}/from-fn/env.txt (storage provider {PROVIDER}): access denied"
    ) in message
    assert f"left in place: s3://{own}/own/env.txt" in message
    assert aws.keys(elsewhere) == []
    assert_nowhere(other.secrets, message=message, logs=caplog.text)


def test_upload_error_through_provider_keeps_no_aws_response(aws: Aws, other: OtherAccount, tmp_path: Path) -> None:
    """The StorageError does not chain botocore's error, whose response may quote the access key."""
    from faas_supervisor import staging
    from faas_supervisor.config import Output

    (tmp_path / "a.txt").write_text("a")
    parameter = store_parameter(aws, keys_json(other))
    providers = {PROVIDER: StorageProvider(PROVIDER, parameter, None)}
    plan = staging.plan_uploads(tmp_path, (Output("no-such-bucket-faas-ext", storage_provider=PROVIDER),))
    with StorageClients(providers) as storage, pytest.raises(StorageError, match="NoSuchBucket") as err:
        staging.upload_plan(plan, storage=storage)
    assert err.value.__cause__ is None and err.value.__suppress_context__


# --- Batch -------------------------------------------------------------------------------------


def run_job(aws: Aws, config: dict[str, Any], **env: str) -> subprocess.CompletedProcess[str]:
    artifacts = aws.bucket("art")
    s3 = aws.client("s3")
    config = {**config, "script": "run.sh"}
    s3.put_object(Bucket=artifacts, Key="functions/fn/function_config.json", Body=json.dumps(config).encode())
    s3.put_object(Bucket=artifacts, Key="functions/fn/run.sh", Body=SCRIPT.encode())
    full_env = dict(
        os.environ,
        FAAS_CONFIG_URI=f"s3://{artifacts}/functions/fn/function_config.json",
        FAAS_EVENT='{"k": 1}',
        AWS_BATCH_JOB_ID="job-ext",
        LOG_LEVEL="DEBUG",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "faas_supervisor"], check=False, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_batch_job_writes_to_the_other_account(aws: Aws, other: OtherAccount) -> None:
    own = aws.bucket("own")
    parameter = store_parameter(aws, keys_json(other))
    proc = run_job(aws, function_config(own, other, parameter))
    assert proc.returncode == 0, proc.stderr
    assert other.read("from-fn/result.txt") == b"result of job-ext\n"
    assert aws.keys(own) == ["own/env.txt", "own/result.txt"]
    assert f"credentials from SSM parameter {parameter}" in proc.stderr  # DEBUG is on
    env = other.read("from-fn/env.txt").decode()
    assert_nowhere(other.secrets, stdout=proc.stdout, stderr=proc.stderr, environment=env)


def test_batch_job_with_missing_parameter_exits_125(aws: Aws, other: OtherAccount) -> None:
    own = aws.bucket("own")
    parameter = f"/faas-render/test-{uuid.uuid4().hex[:8]}/nothing-here"
    proc = run_job(aws, function_config(own, other, parameter))
    assert proc.returncode == 125, proc.stderr
    assert f"storage provider {PROVIDER}: cannot get credentials from SSM parameter {parameter}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert aws.keys(own) == [] and other.keys() == []


# --- configuration -----------------------------------------------------------------------------


def config_with(output: dict[str, Any], providers: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": "f", "output": [{"bucket": "b", **output}]}
    if providers is not None:
        doc["storage_providers"] = providers
    return doc


def test_storage_providers_parsed() -> None:
    cfg = parse_config(
        {
            "name": "f",
            "output": [
                {"bucket": "a"},
                {"bucket": "b", "storage_provider": "s3.ext"},
                {"bucket": "c", "storage_provider": "s3"},
            ],
            "storage_providers": {
                "s3.ext": {"credentials_parameter": "/p/ext", "region": "eu-west-1"},
                "s3.unused": {"credentials_parameter": "/p/unused", "region": None},
            },
        },
        "cfg",
    )
    assert [o.storage_provider for o in cfg.outputs] == ["s3", "s3.ext", "s3"]
    assert cfg.storage_providers == {
        "s3.ext": StorageProvider("s3.ext", "/p/ext", "eu-west-1"),
        "s3.unused": StorageProvider("s3.unused", "/p/unused", None),
    }
    assert parse_config({"name": "f"}, "cfg").storage_providers == {}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            config_with({"storage_provider": "s3.ext"}),
            r"cfg: output\[0\]\.storage_provider 's3.ext' is not defined in storage_providers",
        ),
        (
            config_with({"storage_provider": "s3.ext"}, {"s3.other": {"credentials_parameter": "/p"}}),
            r"cfg: output\[0\]\.storage_provider 's3.ext' is not defined in storage_providers",
        ),
        (
            config_with({"storage_provider": "minio.x"}),
            r"""cfg: output\[0\]\.storage_provider must be "s3" or "s3.<id>", got 'minio.x'""",
        ),
        (
            config_with({"storage_provider": "s3."}),
            r"""output\[0\]\.storage_provider must be "s3" or "s3.<id>", got 's3.'""",
        ),
        (config_with({"storage_provider": 3}), r"""output\[0\]\.storage_provider must be "s3" or "s3.<id>", got 3"""),
        (
            config_with({}, {"s3.ext": {"region": "us-east-1"}}),
            r'cfg: storage_providers\["s3.ext"\]\.credentials_parameter must be a non-empty string',
        ),
        (
            config_with({}, {"s3.ext": {"credentials_parameter": " "}}),
            r'storage_providers\["s3.ext"\]\.credentials_parameter must be a non-empty string',
        ),
        (config_with({}, {"s3.ext": "/p"}), r'cfg: storage_providers\["s3.ext"\] must be an object'),
        (
            config_with({}, {"ext": {"credentials_parameter": "/p"}}),
            r"""cfg: storage_providers key 'ext' is not of the form "s3.<id>\"""",
        ),
        (
            config_with({}, {"s3.ext": {"credentials_parameter": "/p", "region": 5}}),
            r'storage_providers\["s3.ext"\]\.region must be a region name or null',
        ),
        (config_with({}, ["s3.ext"]), r"cfg: 'storage_providers' must be an object"),
    ],
)
def test_storage_provider_config_errors(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(doc, "cfg")


def test_config_error_does_not_quote_misplaced_keys() -> None:
    """Keys written where the parameter name belongs are not repeated in the message."""
    doc = config_with(
        {}, {"s3.ext": {"credentials_parameter": {"access_key": "AKIAMISPLACED", "secret_key": "s3cr3t-misplaced"}}}
    )
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "cfg")
    assert "AKIAMISPLACED" not in str(err.value) and "s3cr3t-misplaced" not in str(err.value)


# --- log masking -------------------------------------------------------------------------------


def test_hidden_values_are_masked_in_every_log_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f"hidden-{uuid.uuid4().hex}"
    logs.hide(secret)
    try:
        logging.getLogger("botocore.endpoint").debug("headers %s", {"Authorization": f"Credential={secret}/x"})
        logging.getLogger("faas_supervisor.test").info("value %s", secret)
        try:
            raise ValueError(f"boom {secret}")
        except ValueError:
            logging.getLogger("anything").exception("failed")
        with logs.libraries_quiet():
            logging.getLogger("botocore.parsers").debug("Response body: %s", "not yet known")
            logging.getLogger("faas_supervisor.test").info("ours still shown")
    finally:
        logs.unhide(secret)
    logging.getLogger("faas_supervisor.test").info("after %s", secret)
    text = caplog.text
    assert text.count(secret) == 1 and f"after {secret}" in text  # only once unhidden
    assert "Credential=***/x" in text and "value ***" in text and "boom ***" in text
    assert "not yet known" not in text and logs.QUIET_NOTE in text and "ours still shown" in text

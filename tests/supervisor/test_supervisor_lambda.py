"""Lambda handler end to end against the moto server: S3 in, script, S3 out."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from faas_supervisor.errors import ScriptFailed
from faas_supervisor.lambda_function import lambda_handler

from tests.supervisor.conftest import Aws, ContextFactory, LambdaTask, S3Event

ENV_DUMP = """
for v in INPUT_FILE_PATH TMP_INPUT_DIR TMP_OUTPUT_DIR STORAGE_OBJECT_KEY EVENT_TIME REQUEST_ID \
         GREETING LITERAL SCRIPT_REGION FAAS_CONTAINER_AWS_REGION CONT_VAR_name CONT_VAR_weird_key; do
  eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\"" >> "$TMP_OUTPUT_DIR/env.txt"
done
env | cut -d= -f1 | sort > "$TMP_OUTPUT_DIR/names.txt"
pwd > "$TMP_OUTPUT_DIR/pwd.txt"
"""


def parse_env(data: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in data.decode().splitlines())


def test_s3_event_end_to_end(
    aws: Aws, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = aws.bucket("in"), aws.bucket("out")
    aws.client("s3").put_object(Bucket=src, Key="in/hello world.txt", Body=b"hello supervisor\n")
    monkeypatch.setenv("FAAS_JOB_QUEUE", "internal-not-for-the-script")
    # container.environment is deployed in the Lambda function's environment; the config names it
    monkeypatch.setenv("GREETING", "hi there")
    monkeypatch.setenv("LITERAL", "${HOME} $PATH")
    monkeypatch.setenv("FAAS_CONTAINER_AWS_REGION", "eu-west-1")  # a name Lambda reserves
    lambda_task(
        {
            "name": "fn",
            "execution_mode": "lambda",
            "container": {
                "environment_from": {
                    "GREETING": "GREETING",
                    "LITERAL": "LITERAL",
                    "SCRIPT_REGION": "FAAS_CONTAINER_AWS_REGION",
                }
            },
            "input": [{"bucket": src, "key_prefix": "in"}],
            "output": [
                {"bucket": dst, "key_prefix": "out"},
                {"bucket": dst, "key_prefix": "", "prefix": ["sub/result-"], "suffix": ["wav"]},
            ],
        },
        script='tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").up"\n'
        'mkdir -p "$TMP_OUTPUT_DIR/sub" && echo wave > "$TMP_OUTPUT_DIR/sub/result-1.wav"\n' + ENV_DUMP,
    )
    ctx = context(request_id="req-1")
    result = lambda_handler(s3_event(src, "in/hello+world.txt"), ctx)

    assert result["status"] == "succeeded"
    assert aws.read(dst, "out/hello world.txt.up") == b"HELLO SUPERVISOR\n"
    # one file can go to several outputs; empty key_prefix gives no leading slash
    assert aws.read(dst, "sub/result-1.wav") == b"wave\n"
    assert aws.keys(dst) == sorted(
        [
            "out/hello world.txt.up",
            "out/sub/result-1.wav",
            "sub/result-1.wav",
            "out/env.txt",
            "out/names.txt",
            "out/pwd.txt",
        ]
    )
    env = parse_env(aws.read(dst, "out/env.txt"))
    assert env["STORAGE_OBJECT_KEY"] == "in/hello world.txt"
    assert env["INPUT_FILE_PATH"] == env["TMP_INPUT_DIR"] + "/hello world.txt"
    assert env["EVENT_TIME"] == "2024-05-01T12:00:00.000Z"
    assert env["REQUEST_ID"] == "req-1"
    assert env["GREETING"] == "hi there"
    assert env["LITERAL"] == "${HOME} $PATH"  # literal, not expanded
    assert env["SCRIPT_REGION"] == "eu-west-1"  # from the variable the configuration names
    assert env["FAAS_CONTAINER_AWS_REGION"] == "<unset>"  # internal: not passed on as such
    names = aws.read(dst, "out/names.txt").decode().split()
    assert "EVENT" in names and "PATH" in names and "AWS_ACCESS_KEY_ID" in names
    assert not [n for n in names if n.startswith("FAAS_")]
    pwd = aws.read(dst, "out/pwd.txt").decode().strip()
    assert pwd.startswith("/tmp/faas-") and not Path(pwd).exists()  # fresh work dir, removed


def test_several_records_each_processed(
    aws: Aws, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory
) -> None:
    src, dst = aws.bucket("in"), aws.bucket("out")
    for key in ("in/a.txt", "in/b c.txt"):
        aws.client("s3").put_object(Bucket=src, Key=key, Body=key.encode())
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst, "key_prefix": "out"}]},
        script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/copy-$(basename "$INPUT_FILE_PATH")"\n',
    )
    event = s3_event(src, "in/a.txt", "in/b+c.txt", "in/")  # the folder marker is skipped
    result = lambda_handler(event, context())
    assert result["runs"] == 2
    assert aws.keys(dst) == ["out/copy-a.txt", "out/copy-b c.txt"]
    assert aws.read(dst, "out/copy-b c.txt") == b"in/b c.txt"


def test_failing_script_fails_invocation_and_uploads_nothing(
    aws: Aws, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory
) -> None:
    src, dst = aws.bucket("in"), aws.bucket("out")
    aws.client("s3").put_object(Bucket=src, Key="in/x.txt", Body=b"x")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst, "key_prefix": "out"}]},
        script='echo partial > "$TMP_OUTPUT_DIR/partial.txt"\n'
        'echo "line one" >&2\necho "boom: cannot parse x.txt" >&2\nexit 3\n',
    )
    with pytest.raises(ScriptFailed) as err:
        lambda_handler(s3_event(src, "in/x.txt"), context())
    message = str(err.value)
    assert "exited with status 3" in message
    assert "boom: cannot parse x.txt" in message
    assert f"s3://{src}/in/x.txt" in message
    assert aws.keys(dst) == []


def test_missing_input_object_names_bucket_and_key(
    aws: Aws, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory
) -> None:
    src = aws.bucket("in")
    lambda_task({"name": "fn"}, script="true\n")
    from faas_supervisor.errors import StorageError

    with pytest.raises(StorageError, match=f"s3://{src}/in/nope.txt"):
        lambda_handler(s3_event(src, "in/nope.txt"), context())


def test_lambda_deadline_kills_process_group(
    aws: Aws, lambda_task: LambdaTask, context: ContextFactory, tmp_path: Path
) -> None:
    dst = aws.bucket("out")
    pidfile = tmp_path / "bg.pid"
    lambda_task(
        {"name": "fn", "container": {"timeout_threshold": 1}, "output": [{"bucket": dst}]},
        script=f'echo partial > "$TMP_OUTPUT_DIR/p.txt"\nsleep 60 &\necho $! > {pidfile}\nwait\n',
    )
    start = time.monotonic()
    with pytest.raises(ScriptFailed, match="killed at the deadline"):
        lambda_handler({"direct": True}, context(remaining_ms=2000))
    assert time.monotonic() - start < 10
    bg = int(pidfile.read_text())
    assert _gone(bg), "the script's background child survived the deadline"
    assert aws.keys(dst) == []


def test_timeout_threshold_env_overrides_config(
    aws: Aws, lambda_task: LambdaTask, context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_task({"name": "fn", "container": {"timeout_threshold": 0}}, script="sleep 5\n")
    monkeypatch.setenv("TIMEOUT_THRESHOLD", "59.5")
    start = time.monotonic()
    with pytest.raises(ScriptFailed, match="deadline"):
        lambda_handler({}, context(remaining_ms=60_000))
    assert time.monotonic() - start < 3


def _gone(pid: int) -> bool:
    for _ in range(50):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    return True  # killed, waiting for its (re)parent to reap it
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_direct_json_invocation_is_the_input_file(aws: Aws, lambda_task: LambdaTask, context: ContextFactory) -> None:
    dst = aws.bucket("out")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/got-$(basename "$INPUT_FILE_PATH")"\n'
        'printf %s "$EVENT" > "$TMP_OUTPUT_DIR/event.txt"\n',
    )
    lambda_handler({"cmd": "resize", "size": [1, 2]}, context())
    assert json.loads(aws.read(dst, "got-event.json")) == {"cmd": "resize", "size": [1, 2]}
    assert json.loads(aws.read(dst, "event.txt")) == {"cmd": "resize", "size": [1, 2]}


def test_raw_string_invocation(aws: Aws, lambda_task: LambdaTask, context: ContextFactory) -> None:
    dst = aws.bucket("out")
    lambda_task({"name": "fn", "output": [{"bucket": dst}]}, script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n')
    lambda_handler("just some text", context())
    assert aws.read(dst, "event") == b"just some text"


def api_event(body: str | None, *, b64: bool = False, params: dict | None = None) -> dict:
    return {
        "resource": "/run",
        "path": "/run",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/octet-stream", "Authorization": "Bearer secret-token"},
        "queryStringParameters": params,
        "requestContext": {"requestTime": "01/May/2024:12:00:00 +0000", "requestId": "api-1"},
        "body": body,
        "isBase64Encoded": b64,
    }


def test_api_gateway_json_body_and_query_params(aws: Aws, lambda_task: LambdaTask, context: ContextFactory) -> None:
    dst = aws.bucket("out")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/input-$(basename "$INPUT_FILE_PATH")"\n' + ENV_DUMP,
    )
    event = api_event('{"x": 1}', params={"name": "Ada Lovelace", "weird-key": "v"})
    response = lambda_handler(event, context())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "succeeded"
    assert json.loads(aws.read(dst, "input-body.json")) == {"x": 1}
    env = parse_env(aws.read(dst, "env.txt"))
    assert env["CONT_VAR_name"] == "Ada Lovelace"
    assert env["CONT_VAR_weird_key"] == "v"
    assert env["STORAGE_OBJECT_KEY"] == "<unset>"


def test_api_gateway_base64_body(aws: Aws, lambda_task: LambdaTask, context: ContextFactory) -> None:
    dst = aws.bucket("out")
    payload = bytes(range(256)) * 3
    lambda_task({"name": "fn", "output": [{"bucket": dst}]}, script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/bin"\n')
    lambda_handler(api_event(base64.b64encode(payload).decode(), b64=True), context())
    assert aws.read(dst, "bin") == payload


def test_api_gateway_body_that_is_an_s3_event(
    aws: Aws, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory
) -> None:
    src, dst = aws.bucket("in"), aws.bucket("out")
    aws.client("s3").put_object(Bucket=src, Key="in/photo 1.jpg", Body=b"jpeg")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\necho "$CONT_VAR_mode" > "$TMP_OUTPUT_DIR/mode"\n',
    )
    event = api_event(json.dumps(s3_event(src, "in/photo+1.jpg")), params={"mode": "fast"})
    lambda_handler(event, context())
    assert aws.read(dst, "photo 1.jpg") == b"jpeg"
    assert aws.read(dst, "mode") == b"fast\n"


def test_upload_error_names_bucket_and_key(aws: Aws, lambda_task: LambdaTask, context: ContextFactory) -> None:
    from faas_supervisor import aws as sup_aws
    from faas_supervisor.errors import StorageError

    missing = "no-such-bucket-for-outputs"
    lambda_task(
        {"name": "fn", "output": [{"bucket": missing, "key_prefix": "o"}]},
        script='echo x > "$TMP_OUTPUT_DIR/out.txt"\n',
    )
    with pytest.raises(StorageError, match=f"s3://{missing}/o/out.txt"):
        lambda_handler({}, context())
    retries = sup_aws.client("s3").meta.config.retries
    assert retries["mode"] == "standard" and retries["total_max_attempts"] >= 3


def test_debug_log_has_event_but_no_secrets(
    aws: Aws,
    lambda_task: LambdaTask,
    context: ContextFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lambda_task({"name": "fn"}, script="true\n")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-value-123")  # no AWS call in this test
    caplog.set_level("DEBUG", logger="faas_supervisor")
    lambda_handler(api_event('{"x": 1}', params={"q": "1"}), context(request_id="req-log"))
    text = caplog.text
    assert "request req-log: function fn (lambda): apigateway event" in text
    assert '"x\\": 1' in text or '{\\"x\\": 1}' in text  # the event, at DEBUG
    assert "secret-token" not in text and "***" in text
    assert "sekrit-value-123" not in text

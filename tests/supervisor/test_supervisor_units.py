"""Unit tests of the supervisor's pieces that need no AWS."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from faas_supervisor import runner
from faas_supervisor.config import Output, parse_config
from faas_supervisor.environment import base_environment, script_environment
from faas_supervisor.errors import ConfigError
from faas_supervisor.events import parse_event
from faas_supervisor.logs import redact


def s3_record(key: str, name: str = "ObjectCreated:Put") -> dict:
    return {
        "eventSource": "aws:s3",
        "eventName": name,
        "eventTime": "t",
        "s3": {"bucket": {"name": "b"}, "object": {"key": key}},
    }


def test_s3_keys_are_url_decoded() -> None:
    parsed = parse_event({"Records": [s3_record("in/hello+world%21.txt")]})
    assert parsed.kind == "s3"
    assert [i.object_key for i in parsed.items] == ["in/hello world!.txt"]
    assert parsed.items[0].own_event == {"Records": [s3_record("in/hello+world%21.txt")]}


def test_s3_several_records_each_own_event_and_skips() -> None:
    event = {"Records": [s3_record("a"), s3_record("b", "ObjectRemoved:Delete"), s3_record("dir/"), s3_record("c")]}
    parsed = parse_event(event)
    assert [i.object_key for i in parsed.items] == ["a", "c"]
    assert parsed.items[1].own_event == {"Records": [s3_record("c")]}
    assert len(parsed.skipped) == 2


def test_s3_test_event_is_ignored() -> None:
    parsed = parse_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert parsed.kind == "s3-test" and parsed.items == ()


def test_api_gateway_v2_and_params() -> None:
    event = {
        "version": "2.0",
        "requestContext": {"http": {"method": "POST"}, "time": "now"},
        "queryStringParameters": {"a.b": "1"},
        "body": base64.b64encode(b"\x00\xff").decode(),
        "isBase64Encoded": True,
    }
    parsed = parse_event(event)
    assert parsed.kind == "apigateway"
    assert parsed.extra_env == {"CONT_VAR_a_b": "1"}
    (item,) = parsed.items
    assert item.body == b"\x00\xff" and item.body_name == "body" and item.event_time == "now"


def test_api_gateway_s3_body_with_several_records_rewraps_each() -> None:
    inner = {"Records": [s3_record("x"), s3_record("y")]}
    event = {"httpMethod": "POST", "body": json.dumps(inner), "isBase64Encoded": False}
    parsed = parse_event(event)
    assert [i.object_key for i in parsed.items] == ["x", "y"]
    second = parse_event(parsed.items[1].own_event)
    assert second.kind == "apigateway" and [i.object_key for i in second.items] == ["y"]


def test_strings_and_other_values() -> None:
    assert parse_event('{"a": 1}').kind == "json"
    raw = parse_event("not json")
    assert raw.kind == "raw" and raw.items[0].body == b"not json"
    assert parse_event([1, 2]).items[0].body == b"[1,2]"
    assert parse_event(None).items[0].body is None


def test_output_filters_scar_semantics() -> None:
    out = Output("b", "p", prefix=("result-",), suffix=("wav", "avi"))
    assert out.matches("result-1.wav") and not out.matches("result-1.txt") and not out.matches("x.wav")
    assert Output("b").matches("anything") and Output("b").key_for("f") == "f"
    assert Output("b", "o/p").key_for("d/f") == "o/p/d/f"


def test_config_validation_messages() -> None:
    with pytest.raises(ConfigError, match="execution_mode"):
        parse_config({"name": "f", "execution_mode": "fargate"}, "cfg")
    with pytest.raises(ConfigError, match=r"output\[0\]"):
        parse_config({"name": "f", "output": [{"key_prefix": "x"}]}, "cfg")
    cfg = parse_config({"name": "f", "container": {"environment_from": {"A": "A", "AWS_REGION": "FAAS_C"}}}, "cfg")
    assert cfg.environment_from == {"A": "A", "AWS_REGION": "FAAS_C"}
    with pytest.raises(ConfigError, match=r"container.environment_from must map names to variable names"):
        parse_config({"name": "f", "container": {"environment_from": ["A"]}}, "cfg")


def test_child_environment_hygiene() -> None:
    env = {
        "PATH": "/bin",
        "LD_LIBRARY_PATH": "/tmp/_MEIabc",
        "LD_LIBRARY_PATH_ORIG": "/opt/lib",
        "_PYI_ARCHIVE_FILE": "x",
        "FAAS_EVENT": "{}",
        "AWS_ACCESS_KEY_ID": "k",
    }
    assert base_environment(env, frozen=True) == {
        "PATH": "/bin",
        "LD_LIBRARY_PATH": "/opt/lib",
        "AWS_ACCESS_KEY_ID": "k",
    }
    assert "LD_LIBRARY_PATH" not in base_environment({"LD_LIBRARY_PATH": "/tmp/_MEI"}, frozen=True)
    assert base_environment({"LD_LIBRARY_PATH": "/usr/local/lib"}, frozen=False) == {
        "LD_LIBRARY_PATH": "/usr/local/lib"
    }


def test_redact_masks_secret_looking_keys() -> None:
    event = {
        "headers": {"Authorization": "Bearer x", "Accept": "*/*"},
        "identity": {"accessKey": "AKIA"},
        "body": "b",
    }
    assert redact(event) == {
        "headers": {"Authorization": "***", "Accept": "*/*"},
        "identity": {"accessKey": "***"},
        "body": "b",
    }


def test_runner_kills_whole_group_at_deadline(tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_text(f"sleep 60 &\necho $! > {tmp_path}/pid\necho oops >&2\nwait\n")
    start = time.monotonic()
    res = runner.run(["/bin/sh", str(script)], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, timeout=0.5)
    assert res.timed_out and res.returncode is None and time.monotonic() - start < 5
    assert "oops" in res.stderr_tail
    pid = int((tmp_path / "pid").read_text())
    time.sleep(0.2)
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split(") ", 1)[1].startswith("Z")


def test_runner_stderr_tail_is_bounded_and_no_time_left(tmp_path: Path) -> None:
    res = runner.run(
        ["/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line$i >&2; i=$((i+1)); done; exit 4"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        timeout=30,
    )
    assert res.returncode == 4 and not res.ok
    assert len(res.stderr_tail.encode()) <= runner.STDERR_TAIL_BYTES and "line1999" in res.stderr_tail
    skipped = runner.run(["/bin/false"], env={}, cwd=tmp_path, timeout=-1)
    assert skipped.timed_out and skipped.duration == 0.0


def test_container_environment_comes_from_the_process_and_beats_the_caller() -> None:
    """container.environment is deployed in the process environment; the config only names it."""
    process = {"CONT_VAR_mode": "deployed", "TOKEN": "s3cr3t", "PATH": "/bin"}
    extra = {"CONT_VAR_mode": "from-the-caller", "CONT_VAR_other": "x"}
    process["FAAS_CONTAINER_AWS_REGION"] = "eu-west-1"
    container = {
        "CONT_VAR_mode": "CONT_VAR_mode",
        "TOKEN": "TOKEN",
        "UNSET": "UNSET",
        "AWS_REGION": "FAAS_CONTAINER_AWS_REGION",
    }
    merged = script_environment({"REQUEST_ID": "r"}, container, process, extra)
    assert merged == {
        "CONT_VAR_mode": "deployed",
        "CONT_VAR_other": "x",
        "TOKEN": "s3cr3t",
        "AWS_REGION": "eu-west-1",
        "REQUEST_ID": "r",
    }

"""The command line itself: help, version, schema, summary, and failures without tracebacks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from render.cli import main
from tests.helpers import EXAMPLE_FILES, NETWORK_CONFIG, render, render_in_process


def test_help_lists_the_options_and_the_precedence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("-o DIR", "--config FILE", "--set", "--apply", "--destroy", "--schema", "lists replace"):
        assert option in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("faas-render ")


def test_schema_is_valid_and_accepts_every_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    for fdl in EXAMPLE_FILES.values():
        jsonschema.validate(yaml.safe_load(fdl.read_text()), schema)


def test_summary_counts_functions_buckets_and_profiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert render(EXAMPLE_FILES["video-process"], tmp_path, "--config", str(NETWORK_CONFIG)) == 0
    out = capsys.readouterr().out
    assert "functions:  2 (1 lambda, 1 batch)" in out
    assert "buckets:    1 (1 created, 0 existing)" in out
    assert "Batch compute profiles: 1" in out and "used by video-split" in out


def test_existing_buckets_are_referenced_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fdl = tmp_path / "hello.yaml"
    fdl.write_text(EXAMPLE_FILES["hello"].read_text() + "buckets:\n  hello-123456789012:\n    existing: true\n")
    (tmp_path / "hello.sh").write_text("echo hi\n")
    assert render(fdl, tmp_path / "out") == 0
    assert "1 existing" in capsys.readouterr().out
    assert "create = false" in (tmp_path / "out" / "main.tf").read_text()


def test_unbuildable_supervisor_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAAS_RENDER_SUPERVISOR_BUNDLE", str(tmp_path / "missing"))
    assert render(EXAMPLE_FILES["plant-classification"], tmp_path / "out", "--config", str(NETWORK_CONFIG)) == 1
    err = capsys.readouterr().err
    assert "nothing was written" in err and "is not a file" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_file_name_that_is_not_utf8_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """The FDL's name is written into main.tf and every message: a name that is not UTF-8 gets exit 2."""
    (tmp_path / "hello.sh").write_text("#!/bin/sh\n")
    source = EXAMPLE_FILES["hello"].read_text()
    fdl = Path(os.fsdecode(bytes(tmp_path) + b"/fdl-\xff\xfe.yaml"))
    fdl.write_text(source)
    out = tmp_path / "out"
    done = render_in_process(fdl, out)
    assert done.returncode == 2, done.stderr
    assert "fdl-\\xff\\xfe.yaml: the file name is not UTF-8" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()

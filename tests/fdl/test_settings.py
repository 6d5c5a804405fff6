"""Loading and merging: precedence, list replacement, SCAR config compatibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from render.fdl.errors import FdlError
from render.fdl.settings import MAX_SHARED_COPIES, load_settings

FDL = """\
functions:
  aws:
  - lambda:
      name: f1
      memory: 1024
      container:
        image: alpine
    batch:
      compute_resources:
        instance_types: [g4dn.xlarge]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_precedence_flags_over_fdl_over_config_over_builtin(tmp_path: Path) -> None:
    fdl = write(tmp_path / "f.yaml", FDL)
    config = write(tmp_path / "c.yaml", "aws:\n  lambda:\n    memory: 2048\n    timeout: 120\n")
    settings = load_settings(fdl, [config], ["lambda.timeout=30"])
    function = settings.functions[0]
    assert function.get(("lambda", "memory")) == 1024  # FDL beats config
    assert function.get(("lambda", "timeout")) == 30  # flag beats config
    assert function.get(("lambda", "runtime")) == "python3.12"  # built-in default
    assert function.origin(("lambda", "memory")).line == 5
    assert function.origin(("lambda", "timeout")).file == "--set"


def test_lists_replace_instead_of_concatenating(tmp_path: Path) -> None:
    fdl = write(tmp_path / "f.yaml", FDL)
    config = write(tmp_path / "c.yaml", "aws:\n  batch:\n    compute_resources:\n      instance_types: [m5.large]\n")
    function = load_settings(fdl, [config], []).functions[0]
    assert function.get(("batch", "compute_resources", "instance_types")) == ["g4dn.xlarge"]


def test_dicts_merge_key_by_key(tmp_path: Path) -> None:
    fdl = write(tmp_path / "f.yaml", FDL)
    config = write(
        tmp_path / "c.yaml", "aws:\n  lambda:\n    container:\n      environment:\n        Variables: {A: '1'}\n"
    )
    function = load_settings(fdl, [config], []).functions[0]
    assert function.get(("lambda", "container")) == {
        "image": "alpine",
        "timeout_threshold": 10,
        "environment": {"Variables": {"A": "1"}},
    }


def test_scar_cfg_is_read_and_its_stale_defaults_are_dropped(tmp_path: Path, isolated_home: Path) -> None:
    scar = isolated_home / ".scar"
    scar.mkdir()
    (scar / "scar.cfg").write_text(
        json.dumps(
            {
                "scar": {"config_version": "1.1.0"},
                "aws": {
                    "iam": {"role": "arn:aws:iam::123456789012:role/scar"},
                    "lambda": {"runtime": "python3.7", "timeout": 60},
                    "batch": {"compute_resources": {"instance_types": ["m3.medium"], "subnets": ["subnet-1"]}},
                },
            }
        )
    )
    function = load_settings(
        write(
            tmp_path / "f.yaml",
            FDL.replace("    batch:\n      compute_resources:\n        instance_types: [g4dn.xlarge]\n", ""),
        ),
        [],
        [],
    ).functions[0]
    assert function.get(("iam", "role")) == "arn:aws:iam::123456789012:role/scar"
    assert function.get(("lambda", "timeout")) == 60
    assert function.get(("lambda", "runtime")) == "python3.12"
    assert function.get(("batch", "compute_resources", "instance_types")) is None
    assert function.get(("batch", "compute_resources", "subnets")) == ["subnet-1"]
    assert function.origin(("lambda", "timeout")).file.endswith("scar.cfg")


def test_scar_cfg_can_be_ignored(tmp_path: Path, isolated_home: Path) -> None:
    (isolated_home / ".scar").mkdir()
    (isolated_home / ".scar" / "scar.cfg").write_text('{"aws": {"lambda": {"timeout": 60}}}')
    function = load_settings(write(tmp_path / "f.yaml", FDL), [], [], use_scar_config=False).functions[0]
    assert function.get(("lambda", "timeout")) == 300


def test_explicit_null_means_not_set(tmp_path: Path) -> None:
    function = load_settings(write(tmp_path / "f.yaml", FDL.replace("memory: 1024", "memory:")), [], []).functions[0]
    assert function.get(("lambda", "memory")) == 512


def test_bad_override_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FdlError, match="SECTION.KEY=VALUE"):
        load_settings(write(tmp_path / "f.yaml", FDL), [], ["memory"])


def test_a_later_flag_replaces_a_scalar_with_a_mapping(tmp_path: Path) -> None:
    overrides = ["lambda.container=alpine", "lambda.container.image=busybox"]
    function = load_settings(write(tmp_path / "f.yaml", FDL), [], overrides).functions[0]
    assert function.get(("lambda", "container", "image")) == "busybox"


def test_large_config_merges_in_linear_time(tmp_path: Path) -> None:
    """Replacing a value forgets the origins under it alone, not after scanning every origin."""
    variables = "".join(f"        K{i}: v\n" for i in range(20_000))
    config = write(tmp_path / "c.yaml", f"aws:\n  lambda:\n    environment:\n      Variables:\n{variables}")
    overrides = [f"lambda.environment.Variables.K{i}=w" for i in range(0, 20_000, 1000)]
    function = load_settings(write(tmp_path / "f.yaml", FDL), [config], overrides).functions[0]
    assert function.get(("lambda", "environment", "Variables", "K1000")) == "w"
    assert function.origin(("lambda", "environment", "Variables", "K1000")).file == "--set"
    assert function.origin(("lambda", "environment", "Variables", "K1001")).line == 5 + 1001


def test_config_copied_into_too_many_functions_is_refused(tmp_path: Path) -> None:
    """Config files and --set values are copied into every function: the copies are bounded."""
    items = "".join(f"  - lambda: {{name: f{i}, container: {{image: a}}}}\n" for i in range(100))
    fdl = write(tmp_path / "f.yaml", f"functions:\n  aws:\n{items}")
    variables = "".join(f"        K{i}: v\n" for i in range(MAX_SHARED_COPIES // 100))
    config = write(tmp_path / "c.yaml", f"aws:\n  lambda:\n    environment:\n      Variables:\n{variables}")
    with pytest.raises(FdlError) as refused:
        load_settings(fdl, [config], [])
    assert refused.value.format() == (
        f"{config}:1: aws: {MAX_SHARED_COPIES // 100 + 3} values from config files and --set copied into 100 "
        f"functions make {(MAX_SHARED_COPIES // 100 + 3) * 100} copies (limit {MAX_SHARED_COPIES}): refused"
    )

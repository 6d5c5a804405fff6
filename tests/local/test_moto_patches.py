"""Every change the emulator makes to moto is checked against the installed moto before it is made.

The first test lists every patched target (its id names it), so a moto release that moves one
fails here, in a second, naming the target, before the long tests start.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from render.local import moto as moto_patches
from render.local.moto.patch import SUPPORTED_TEXT, MotoUnsupported, Patches, check_version, release
from tests.helpers import REPO

PATCHES = list(moto_patches.patches())


@pytest.mark.parametrize("patch", PATCHES, ids=[p.target for p in PATCHES])
def test_every_patched_target_fits_the_installed_moto(patch: moto_patches.Patch | moto_patches.Addition) -> None:
    assert patch.problem() is None


def test_the_patches_cover_every_service_module() -> None:
    owners = {p.replacement.__module__.rsplit(".", 1)[-1] for p in PATCHES}
    assert owners == set(moto_patches.SERVICES)
    assert len({p.target for p in PATCHES}) == len(PATCHES), "a target patched twice"


def test_setup_cfg_states_the_supported_range() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    local = [line.strip() for line in config["options.extras_require"]["local"].splitlines() if line.strip()]
    assert local == [f"moto[server]{SUPPORTED_TEXT}"]


@pytest.mark.parametrize("version", ["5.2.6", "5.2.7", "5.2.99"])
def test_a_supported_moto_is_accepted(version: str) -> None:
    assert check_version(version) == version


@pytest.mark.parametrize("version", ["5.2.5", "5.1.22", "5.3.0", "5.3.0.dev1", "6.0.0"])
def test_another_moto_is_refused_in_one_line(version: str) -> None:
    with pytest.raises(MotoUnsupported) as refused:
        check_version(version)
    message = str(refused.value)
    assert "\n" not in message
    assert f"moto {version} is installed" in message and SUPPORTED_TEXT in message


def test_release_numbers_ignore_suffixes() -> None:
    assert release("5.2.6") == (5, 2, 6)
    assert release("5.3.0.dev1") == (5, 3, 0)
    assert release("5.3.0rc1") == (5, 3, 0)


class Target:
    def method(self, first: int) -> int:
        return first


def test_a_patch_receives_the_original_and_is_undone() -> None:
    patches = Patches()

    @patches.patch(Target, "method", ("self", "first"))
    def doubled(original: Any, self: Target, first: int) -> int:
        return 2 * int(original(self, first))

    undo = patches.apply()
    try:
        assert Target().method(21) == 42
    finally:
        undo()
    assert Target().method(21) == 21


@pytest.mark.parametrize(
    ("name", "parameters", "problem"),
    [
        ("method", ("self", "first", "second"), "takes ('self', 'first'), the patch expects"),
        ("renamed", ("self", "first"), "Target.renamed is missing"),
    ],
)
def test_a_target_that_moved_is_named_and_nothing_is_patched(
    name: str, parameters: tuple[str, ...], problem: str
) -> None:
    patches = Patches()
    patches.patch(Target, "method", ("self", "first"))(lambda original, self, first: 0)
    patches.patch(Target, name, parameters)(lambda original, *args: 0)
    with pytest.raises(MotoUnsupported) as refused:
        patches.apply()
    assert problem in str(refused.value)
    assert Target().method(21) == 21  # the fitting patch was not applied either


def fake_moto(tmp_path: Path, version: str) -> dict[str, str]:
    """An environment where importlib.metadata finds moto `version` first (moto itself is not touched)."""
    info = tmp_path / f"moto-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: moto\nVersion: {version}\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}


@pytest.mark.parametrize("version", ["5.2.5", "5.3.0"])
def test_faas_local_with_an_unsupported_moto_exits_2_in_one_line(tmp_path: Path, version: str) -> None:
    command = [sys.executable, "-m", "render.faas_cli", "local", "--port", "0"]
    done = subprocess.run(command, env=fake_moto(tmp_path, version), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"moto {version} is installed" in lines[0] and SUPPORTED_TEXT in lines[0]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a", "must have length greater than or equal to 2"),
        ("a" * 257, "must have length less than or equal to 256"),
        *((name, "must satisfy regular expression") for name in ("fn__x-", "_lead", "a--b", "Upper_Case-2")),
        ("deployment/fn__x-", "must satisfy regular expression"),
    ],
)
def test_the_emulators_ecr_refuses_repository_names_ecr_refuses(name: str, problem: str) -> None:
    """moto checks the pattern only; the emulator adds ECR's 2-256 characters."""
    from moto.ecr import models
    from moto.ecr.exceptions import InvalidParameterException

    from render.local.moto import ecr

    undo = ecr.PATCHES.apply()
    try:
        backend = models.ECRBackend("us-east-1", "123456789012")
        with pytest.raises(InvalidParameterException) as refused:
            backend.create_repository(name, None, {}, {"scanOnPush": False}, "MUTABLE", [])
        assert problem in str(refused.value)
        assert not backend.repositories
        for valid in ("ab", "a" * 256, "hello/video-split", "plants/fn_x-1a2b3c4d"):
            assert backend.create_repository(valid, None, {}, {"scanOnPush": False}, "MUTABLE", []).name == valid
    finally:
        undo()

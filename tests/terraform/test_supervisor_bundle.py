"""Which supervisor a render stages: an override, the packaged binary, or (in a checkout) a developer build."""

from __future__ import annotations

from pathlib import Path

import pytest

from render.terraform import supervisor_bundle as lookup


def test_the_override_serves_every_architecture_and_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prebuilt = tmp_path / "prebuilt"
    prebuilt.write_bytes(b"\x7fELF")
    monkeypatch.setenv(lookup.ENV_OVERRIDE, str(prebuilt))
    assert lookup.supervisor_bundle("x86_64") == lookup.supervisor_bundle("arm64") == prebuilt
    monkeypatch.setenv(lookup.ENV_OVERRIDE, str(tmp_path / "missing"))
    with pytest.raises(lookup.SupervisorBundleError, match="is not a file"):
        lookup.supervisor_bundle("x86_64")


def test_unknown_architectures_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(lookup.ENV_OVERRIDE, raising=False)
    with pytest.raises(lookup.SupervisorBundleError, match="unknown architecture 'riscv64'"):
        lookup.supervisor_bundle("riscv64")


def test_the_packaged_bundle_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(lookup.ENV_OVERRIDE, raising=False)
    for architecture in lookup.ARCHITECTURES:
        packaged = lookup.packaged_bundle(architecture)
        if packaged.is_file():
            assert lookup.supervisor_bundle(architecture) == packaged


def test_a_checkout_without_binaries_builds_only_its_own_architecture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(lookup.ENV_OVERRIDE, raising=False)
    monkeypatch.setattr(lookup, "packaged_bundle", lambda architecture: tmp_path / "absent")
    other = "arm64" if lookup.native_architecture() == "x86_64" else "x86_64"
    with pytest.raises(lookup.SupervisorBundleError, match="make binaries"):
        lookup.supervisor_bundle(other)
    monkeypatch.setattr(lookup, "source_builder", lambda: None)  # an installed package without its binaries
    with pytest.raises(lookup.SupervisorBundleError, match="reinstall it"):
        lookup.supervisor_bundle(other)

"""The /tmp a build from an archive takes: the bound faas-render sizes the builder's storage with
holds for what open_archive really writes, and is not far above it."""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from faas_supervisor.image import LayerEntry, build_layer
from faas_supervisor.image.archive import open_archive
from faas_supervisor.image.archive_space import MIB, ephemeral_storage_mb, gzip_bound, scratch_bytes

from tests.supervisor.image_builders import (
    base_config,
    write_docker_save,
    write_oci_layout,
    write_sparse_docker_save,
)

# Random bytes do not compress: gzip's worst case, where the copies are largest.
NOISE = build_layer([LayerEntry("noise", os.urandom(3 * MIB))], "noise")
TEXT = build_layer([LayerEntry("text", b"compressible line\n" * 200_000)], "text")
LAYERS = [NOISE, TEXT]
WRITERS: dict[str, Callable[[Path], None]] = {
    "docker save": lambda path: write_docker_save(path, base_config("amd64", LAYERS), [x.blob for x in LAYERS], "b:1"),
    "OCI, plain layers": lambda path: write_oci_layout(
        path, base_config("amd64", LAYERS), [x.blob for x in LAYERS], compressed=False
    ),
    "OCI, gzip layers": lambda path: write_oci_layout(path, base_config("amd64", LAYERS), [x.blob for x in LAYERS]),
}


def used_while_open(archive: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """The archive's bytes plus those open_archive writes to its temporary folder, measured while open."""
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with open_archive(archive, "x86_64"):
        written = sum(path.stat().st_size for path in scratch.rglob("*") if path.is_file())
    return archive.stat().st_size + written


@pytest.mark.parametrize("kind", list(WRITERS))
def test_the_bound_holds_what_a_build_writes(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive, scratch = tmp_path / "image.tar", tmp_path / "scratch"
    scratch.mkdir()
    WRITERS[kind](archive)
    used, bound = used_while_open(archive, scratch, monkeypatch), scratch_bytes(archive)
    plain = sum(len(gzip.decompress(x.blob)) for x in LAYERS)
    assert used <= bound, (used, bound)
    if kind == "OCI, gzip layers":  # nothing copied: the archive, and the small JSON members' bound
        assert used == archive.stat().st_size and bound - used < 64 * 1024
    else:  # a copy of each plain layer, the noise one at least as large as itself
        assert used > archive.stat().st_size + len(NOISE.blob)
        assert bound - archive.stat().st_size < gzip_bound(plain) + 64 * 1024


def test_a_gzipped_archive_counts_its_plain_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain, archive, scratch = tmp_path / "image.tar", tmp_path / "image.tar.gz", tmp_path / "scratch"
    scratch.mkdir()
    WRITERS["docker save"](plain)
    archive.write_bytes(gzip.compress(plain.read_bytes()))
    used, bound = used_while_open(archive, scratch, monkeypatch), scratch_bytes(archive)
    assert used <= bound
    assert bound - archive.stat().st_size == scratch_bytes(plain) - plain.stat().st_size


def test_a_large_sparse_archive_is_measured_from_its_headers(tmp_path: Path) -> None:
    archive = tmp_path / "big.tar"
    write_sparse_docker_save(archive, 2 * 1024 * MIB)
    size = archive.stat().st_size
    assert size > 2 * 1024 * MIB and archive.stat().st_blocks * 512 < MIB  # sparse on disk
    bound = scratch_bytes(archive)
    assert 2 * size < bound < 2 * size + size // 1000
    assert ephemeral_storage_mb(bound) * MIB >= bound * 1.05


def test_the_builder_storage_stays_within_lambda_below_and_grows_with_the_files() -> None:
    assert ephemeral_storage_mb(0) == ephemeral_storage_mb(100 * MIB) == 512
    assert ephemeral_storage_mb(4 * 1024 * MIB) == 4301 + 256  # 5% and 256 MB of headroom
    assert ephemeral_storage_mb(10 * 1024 * MIB) > 10240

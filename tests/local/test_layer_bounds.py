"""Hostile layers through local mode's unpacking, in outer bounds: each is refused fast, in little memory, with the number.

Every layer is built at test time (a few MB at most), pushed to a real registry and unpacked by
LocalImages, the emulator's own path, in a child process held in a 512 MiB memory cgroup of this
module's own, its unpack cache on a 256 MiB loop-mounted file system. The child then unpacks a
good image, as the emulator would next: a refusal leaves it alive and the disk as it was.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from faas_supervisor.image import Layer, RegistryClient, RegistrySource, read_image
from faas_supervisor.image.layer_bounds import LayerLimits
from faas_supervisor.image.oci import DOCKER_MANIFEST, sha256_digest

from render.local.execution.deployed_images import LocalImages
from render.local.execution.errors import LocalError
from render.local.execution.rootfs import unpack_image
from tests import hostile_layers as hostile
from tests.helpers import LocalRegistry
from tests.local.images import file, raw_layer
from tests.local.outer_bounds import entering, outer_groups, remove_groups, scratch_fs, scratch_fs_available
from tests.supervisor.image_builders import base_config, busybox_layer, push_image

OUTER_MEMORY = 512 * 1024 * 1024
SCRATCH_MB = 256
SECONDS = 5.0  # a refusal, from the first byte read to the error
RSS_MB = 150  # the child's peak, Python and the imports included

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the outer bounds (cgroups, a loop mount) need root")


@dataclass(frozen=True)
class Bounds:
    groups: list[Path]
    scratch: Path


@dataclass(frozen=True)
class Outcome:
    error: str
    seconds: float
    rss_mb: int
    good_image_unpacked: bool


@pytest.fixture(scope="module")
def bounds() -> Iterator[Bounds]:
    top = Path(tempfile.mkdtemp(prefix="faas-layer-bounds-"))
    groups = outer_groups(f"faas-layer-bounds-{os.getpid()}", OUTER_MEMORY, 64)
    try:
        if not groups or not scratch_fs_available():
            pytest.skip("no outer memory cgroup, or no mkfs.ext4")
        with scratch_fs(top / "scratch.ext4", top / "scratch", SCRATCH_MB) as mounted:
            yield Bounds(groups, mounted)
    finally:
        remove_groups(groups)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def good_image(registry: LocalRegistry) -> str:
    return _push(registry, "bounds/good", [busybox_layer()])


def _push(registry: LocalRegistry, repository: str, layers: list[Layer]) -> str:
    manifest = push_image(
        RegistryClient(registry.url), repository, "v1", layers, base_config("amd64", layers), DOCKER_MANIFEST
    )
    return f"{registry.host}/{repository}@{manifest.digest}"


def _used_bytes(folder: Path) -> int:
    stat = os.statvfs(folder)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize


def unpack_in_bounds(bounds: Bounds, image: str, good: str, limits: LayerLimits | None = None) -> Outcome:
    """`image` then `good` unpacked by a child in the outer bounds; the disk is checked to be as it was."""
    cache = bounds.scratch / "cache"
    before = _used_bytes(bounds.scratch)
    order = {"image": image, "good": good, "cache": str(cache), "limits": asdict(limits) if limits else None}
    argv = entering(bounds.groups, [sys.executable, __file__, json.dumps(order)])
    child = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    assert child.returncode == 0, child.stderr.decode()[-2000:]
    outcome = Outcome(**json.loads(child.stdout))
    shutil.rmtree(cache / next(p.name for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")))
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == [], "a partial unpack was left"
    assert abs(_used_bytes(bounds.scratch) - before) < 4 * hostile.MIB
    shutil.rmtree(cache)
    return outcome


def _peak_mb() -> int:
    """This process's peak RSS since its exec (ru_maxrss would start at the parent's: Linux carries
    the high-water mark of a forked process over its exec)."""
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) // 1024


def _child(order: dict[str, Any]) -> dict[str, Any]:
    """In the outer bounds: as the emulator would, unpack the hostile image, then a good one."""
    cache = Path(order["cache"])
    started = time.monotonic()
    try:
        if order["limits"]:
            with read_image(RegistrySource.parse(order["image"]), "x86_64") as source:
                unpack_image(source, cache, LayerLimits(**order["limits"]))
        else:
            LocalImages(None, cache).unpacked(order["image"], "x86_64")
        error = ""
    except LocalError as refused:
        error = str(refused)
    except Exception as refused:  # noqa: BLE001 (what the emulator would not expect, reported whole)
        error = f"{type(refused).__name__}: {refused}"
    seconds = time.monotonic() - started
    good = LocalImages(None, cache).unpacked(order["good"], "x86_64").root
    return {
        "error": error,
        "seconds": seconds,
        "rss_mb": _peak_mb(),
        "good_image_unpacked": (good / "bin" / "busybox").is_file(),
    }


BOMBS: dict[str, tuple[Callable[[], Layer], str]] = {
    # the report's three: a gzip bomb (6 GiB there), a 200 GiB sparse file, a 1 GiB GNU long name
    "gzip bomb": (lambda: hostile.gzip_bomb(1, hostile.GIB), "(1073741824 bytes) brings what the layer unpacks to"),
    "gzip bomb in many files": (lambda: hostile.gzip_bomb(64, 16 * hostile.MIB), "more than this layer's bound of"),
    "sparse 200 GiB (PAX 1.0)": (lambda: hostile.sparse_file(200 * hostile.GIB), "(214748364800 bytes)"),
    "1 GiB GNU long name": (lambda: hostile.long_name(hostile.GIB), "long name or link of 1073741824 bytes"),
    "256 MiB PAX header": (lambda: hostile.pax_header(256 * hostile.MIB), "PAX header of 268435456 bytes"),
    "chain of long names": (lambda: hostile.long_name_chain(500), "more than 8 extension headers"),
    "zstd": (hostile.zstd_layer, "zstd-compressed layer"),
}


@pytest.mark.parametrize("kind", list(BOMBS))
def test_a_hostile_layer_is_refused_fast_in_bounded_memory(
    kind: str, bounds: Bounds, registry: LocalRegistry, good_image: str
) -> None:
    make, message = BOMBS[kind]
    layer = make()
    assert layer.size < 2 * hostile.MIB
    first = raw_layer(file("etc/written-first", b"partial"))  # so the refusal has a partial unpack to remove
    image = _push(registry, f"bounds/{sha256_digest(kind.encode())[7:19]}", [first, layer])
    outcome = unpack_in_bounds(bounds, image, good_image)
    assert layer.digest in outcome.error and message in outcome.error, outcome.error
    assert outcome.seconds < SECONDS and outcome.rss_mb < RSS_MB, outcome
    assert outcome.good_image_unpacked


@pytest.mark.skipif(not shutil.which("tar"), reason="no tar")
@pytest.mark.parametrize("tar_format", ["gnu", "pax"])
def test_a_200_gib_sparse_file_from_gnu_tar_is_refused(
    tar_format: str, bounds: Bounds, registry: LocalRegistry, good_image: str, tmp_path: Path
) -> None:
    """The report's own reproduction: `truncate -s 200G`, then GNU tar --sparse (old GNU and PAX formats)."""
    if b"GNU tar" not in subprocess.run(["tar", "--version"], capture_output=True, check=True).stdout:
        pytest.skip("tar is not GNU tar")
    (tmp_path / "hostile").mkdir()
    subprocess.run(["truncate", "-s", "200G", str(tmp_path / "hostile" / "sparse")], check=True)
    command = ["tar", "-C", str(tmp_path), "--sparse", f"--format={tar_format}", "-cf", "-", "hostile"]
    plain = subprocess.run(command, capture_output=True, check=True).stdout
    blob = gzip.compress(plain, mtime=0)
    layer = Layer(blob, sha256_digest(blob), sha256_digest(plain), f"GNU tar --sparse --format={tar_format}")
    outcome = unpack_in_bounds(bounds, _push(registry, f"bounds/gnu-sparse-{tar_format}", [layer]), good_image)
    assert layer.digest in outcome.error and "(214748364800 bytes)" in outcome.error, outcome.error
    assert outcome.seconds < SECONDS and outcome.rss_mb < RSS_MB, outcome


def test_members_and_unpacked_bytes_are_bounded_per_image(
    bounds: Bounds, registry: LocalRegistry, good_image: str
) -> None:
    """Two layers, each well within its ratio, over the image's bounds together (small bounds, same checks)."""
    files = hostile.empty_files(600)
    image = _push(registry, "bounds/members", [files, hostile.empty_files(601)])
    outcome = unpack_in_bounds(bounds, image, good_image, LayerLimits(members=1000))
    assert "the image has more than 1000 members" in outcome.error, outcome.error
    incompressible = [raw_layer(file(f"data/{n}", os.urandom(3 * hostile.MIB))) for n in range(2)]
    image = _push(registry, "bounds/bytes", incompressible)
    outcome = unpack_in_bounds(bounds, image, good_image, LayerLimits(unpacked_bytes=5 * hostile.MIB))
    assert f"brings the image to {6 * hostile.MIB} bytes unpacked, more than its bound of {5 * hostile.MIB}" in (
        outcome.error
    ), outcome.error
    assert incompressible[1].digest in outcome.error and outcome.good_image_unpacked


def test_a_layer_within_its_bounds_unpacks(bounds: Bounds, registry: LocalRegistry, good_image: str) -> None:
    """Just under the ratio bound: zeros a little below 100 x the blob plus the allowance are written whole."""
    layer = hostile.gzip_bomb(1, 16 * hostile.MIB)
    assert 100 * layer.size + LayerLimits().allowance > 16 * hostile.MIB
    cache = bounds.scratch / "cache"
    order = {"image": _push(registry, "bounds/within", [layer]), "good": good_image, "cache": str(cache)}
    child = subprocess.run(
        entering(bounds.groups, [sys.executable, __file__, json.dumps({**order, "limits": None})]),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr.decode()[-2000:]
    assert json.loads(child.stdout)["error"] == ""
    shutil.rmtree(cache)


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))

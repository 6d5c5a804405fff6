"""Unpacking images into root folders: layer order, whiteouts, links, the cache, and hostile layers refused."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from faas_supervisor.image import Layer, RegistryClient, RegistrySource, read_image
from faas_supervisor.image.oci import DOCKER_MANIFEST

from render.local.execution.rootfs import LayerError, UnpackedImage, unpack_image
from tests.helpers import LocalRegistry
from tests.local.images import archive_image, file, folder, link, raw_layer, special
from tests.supervisor.image_builders import base_config, busybox_layer, push_image

MOUNT_POINTS = {"proc": None, "dev": None, "tmp": None, "etc": None, "etc/resolv.conf": b"", "etc/hosts": b""}


def unpack_archive(tmp_path: Path, layers: list[Layer], cache: Path, compressed: bool = True) -> UnpackedImage:
    source = archive_image(tmp_path / "image.tar", layers, compressed)
    with read_image(source, "x86_64") as image:
        return unpack_image(image, cache)


def tree(top: Path, skip: Path | None = None) -> dict[str, bytes | str | None]:
    """Everything under `top` (but `skip`): file contents, symlink targets, None for folders."""
    found: dict[str, bytes | str | None] = {}
    for folder_path, folders, files in os.walk(top):
        folders[:] = [f for f in folders if Path(folder_path, f) != skip]
        for name in folders + files:
            path = Path(folder_path, name)
            relative = str(path.relative_to(top))
            if path.is_symlink():
                found[relative] = os.readlink(path)
            else:
                found[relative] = path.read_bytes() if path.is_file() else None
    return found


def test_busybox_image_from_a_registry_with_whiteouts_links_and_opaque_folders(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    lower = raw_layer(
        folder("data"), file("data/old", b"old"), folder("data/sub"), file("data/sub/x", b"x"), file("etc/gone", b"g")
    )
    upper = raw_layer(
        folder("data"),
        file("data/new", b"new"),
        file("data/.wh..wh..opq"),  # after `new`: only what lower layers put there goes
        file("etc/.wh.gone"),
        file("bin/.wh.echo"),
        link("bin/hard", "bin/busybox", tarfile.LNKTYPE),
        link("usr/bin/ls", "/bin/busybox"),
    )
    layers = [busybox_layer(), lower, upper]
    client = RegistryClient(registry.url)
    push_image(client, "local/rootfs", "v1", layers, base_config("amd64", layers), DOCKER_MANIFEST)
    with read_image(RegistrySource.parse(f"{registry.host}/local/rootfs:v1"), "x86_64") as image:
        unpacked = unpack_image(image, tmp_path / "cache")
        again = unpack_image(image, tmp_path / "cache")
    root = unpacked.root
    assert again == unpacked
    assert tree(root / "data") == {"new": b"new"}
    assert not (root / "etc/gone").exists() and not (root / "bin/echo").is_symlink()
    assert os.readlink(root / "bin/sh") == "busybox" and os.readlink(root / "usr/bin/ls") == "/bin/busybox"
    assert (root / "bin/hard").stat().st_ino == (root / "bin/busybox").stat().st_ino
    assert os.access(root / "bin/busybox", os.X_OK)
    assert unpacked.settings["Entrypoint"] == ["/bin/sh", "-c"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")) == [root.parent.name]


def test_uncompressed_layers_and_replaced_entries(tmp_path: Path) -> None:
    first = raw_layer(file("a", b"file"), folder("b"), file("b/inner", b"i"), link("c", "a"))
    second = raw_layer(folder("a"), file("b", b"now a file"), file("c", b"no longer a link"))
    root = unpack_archive(tmp_path, [first, second], tmp_path / "cache", compressed=False).root
    assert tree(root) == {"a": None, "b": b"now a file", "c": b"no longer a link", **MOUNT_POINTS}


def test_absolute_symlinks_resolve_inside_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    layer = raw_layer(link("abs", str(outside)), file("abs/written", b"inside"))
    root = unpack_archive(tmp_path, [layer], tmp_path / "cache").root
    assert (root / str(outside).lstrip("/") / "written").read_bytes() == b"inside"
    assert list(outside.iterdir()) == []


def test_mount_points_are_real_folders_and_files(tmp_path: Path) -> None:
    layer = raw_layer(link("tmp", "/var/tmp"), link("etc/hosts", "/outside/hosts"), file("etc/resolv.conf", b"kept"))
    root = unpack_archive(tmp_path, [layer], tmp_path / "cache").root
    assert tree(root) == {**MOUNT_POINTS, "etc/resolv.conf": b"kept"}


HOSTILE = {
    "dot-dot": ([file("../../../sentinel", b"pwned")], "'..' in the path"),
    "absolute": ([file("{outside}/sentinel", b"pwned")], "absolute path"),
    "symlink out": ([link("up", "../../..")], "outside the root"),
    "nested symlink out": ([folder("a"), link("a/up", "../../x")], "outside the root"),
    "parent through a symlink out": (
        [link("s", "/"), link("t", "s/.."), file("t/sentinel", b"pwned")],
        "climbs above the root",
    ),
    "hard link out": ([link("hl", "../../../sentinel", tarfile.LNKTYPE)], "'..' in the path"),
    "absolute hard link": ([link("hl", "{outside}/sentinel", tarfile.LNKTYPE)], "absolute path"),
    "hard link through a symlink out": (
        [link("s", "/"), link("t", "s/.."), link("hl", "t/sentinel", tarfile.LNKTYPE)],
        "climbs above the root",
    ),
    "character device": ([special("dev/mem", tarfile.CHRTYPE)], "device files"),
    "block device": ([special("dev/sda", tarfile.BLKTYPE)], "device files"),
    "fifo": ([special("run/pipe", tarfile.FIFOTYPE)], "FIFOs"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_layers_are_refused_and_nothing_is_written_outside(tmp_path: Path, kind: str) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.write_bytes(b"untouched")
    members, message = HOSTILE[kind]
    members = [(info.replace(name=info.name.format(outside=tmp_path)), data) for info, data in members]
    members = [(info.replace(linkname=info.linkname.format(outside=tmp_path)), data) for info, data in members]
    hostile = raw_layer(file("ok", b"fine"), *members)
    cache = tmp_path / "cache"
    before = tree(tmp_path, skip=cache)
    with pytest.raises(LayerError) as refused:
        unpack_archive(tmp_path, [hostile], cache)
    assert hostile.digest in str(refused.value) and repr(members[-1][0].name) in str(refused.value)
    assert message in str(refused.value)
    after = tree(tmp_path, skip=cache)
    assert after.pop("image.tar") is not None
    assert after == before and sentinel.read_bytes() == b"untouched"
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []

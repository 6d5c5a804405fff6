"""Deterministic layers: same entries, same bytes; parents, order, owners and times fixed."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest
from faas_supervisor.image import ImageError, LayerEntry, build_layer

ENTRIES = [
    LayerEntry("/opt/faas-render/bin/faas-supervisor", b"\x7fELF supervisor", 0o755),
    LayerEntry("/opt/faas-render/config.json", b"{}"),
    LayerEntry("/usr/local/bin/faas", symlink="/opt/faas-render/bin/faas-supervisor"),
]


def members(blob: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        return archive.getmembers()


def test_same_entries_in_any_order_give_the_same_bytes_and_digests() -> None:
    first, second = build_layer(ENTRIES), build_layer(reversed(ENTRIES))
    assert first.blob == second.blob
    assert first.digest == "sha256:" + hashlib.sha256(first.blob).hexdigest()
    assert first.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(first.blob)).hexdigest()
    assert first.size == len(first.blob)
    changed = build_layer([*ENTRIES[:2], LayerEntry("/usr/local/bin/faas", symlink="/bin/true")])
    assert changed.digest != first.digest


def test_the_tar_has_sorted_parents_fixed_owners_and_times() -> None:
    found = members(build_layer(ENTRIES).blob)
    assert [m.name for m in found] == [
        "opt",
        "opt/faas-render",
        "opt/faas-render/bin",
        "opt/faas-render/bin/faas-supervisor",
        "opt/faas-render/config.json",
        "usr",
        "usr/local",
        "usr/local/bin",
        "usr/local/bin/faas",
    ]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in found} == {(0, 0, "", "", 0)}
    by_name = {m.name: m for m in found}
    assert by_name["opt"].isdir() and by_name["opt"].mode == 0o755
    assert by_name["opt/faas-render/bin/faas-supervisor"].mode == 0o755
    assert by_name["opt/faas-render/config.json"].mode == 0o644
    assert by_name["usr/local/bin/faas"].issym()
    assert by_name["usr/local/bin/faas"].linkname == "/opt/faas-render/bin/faas-supervisor"


def test_folders_given_as_entries_keep_their_mode_even_when_empty_or_parents() -> None:
    entries = [LayerEntry("/tmp", mode=0o1777, folder=True), LayerEntry("/etc", mode=0o750, folder=True)]
    found = {m.name: m for m in members(build_layer([*entries, LayerEntry("/etc/passwd", b"root")]).blob)}
    assert list(found) == ["etc", "etc/passwd", "tmp"]
    assert found["tmp"].isdir() and found["tmp"].mode == 0o1777
    assert found["etc"].isdir() and found["etc"].mode == 0o750


def test_the_gzip_header_holds_no_name_and_no_time() -> None:
    header = build_layer(ENTRIES).blob[:10]
    assert header[3] == 0  # FLG: no file name, no comment
    assert header[4:8] == b"\0\0\0\0"  # MTIME


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([LayerEntry("/a", b"1"), LayerEntry("a", b"2")], "given twice"),
        ([LayerEntry("/a", b"1"), LayerEntry("/a/b", b"2")], "both a file and a folder"),
        ([LayerEntry("/../etc/passwd", b"x")], "invalid layer path"),
        ([LayerEntry("/", b"x")], "invalid layer path"),
    ],
)
def test_ambiguous_or_escaping_paths_are_refused(entries: list[LayerEntry], message: str) -> None:
    with pytest.raises(ImageError, match=message):
        build_layer(entries)

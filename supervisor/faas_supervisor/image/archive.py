"""Images from archives: `docker save` tars and OCI image layout tars, read without unpacking them."""

from __future__ import annotations

import hashlib
import json
import tarfile
import tempfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from faas_supervisor.image.errors import ArchiveError, DigestMismatch
from faas_supervisor.image.layer import compress
from faas_supervisor.image.layer_bounds import BATCH_LIMITS, check_archive
from faas_supervisor.image.oci import (
    CHUNK,
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    FAMILY,
    Blob,
    blob_of,
    parse_json,
    sha256_digest,
    verified,
)
from faas_supervisor.image.platform import check_platform, pick_manifest
from faas_supervisor.image.source import SourceImage, diff_ids, manifest_kind, manifest_parts, read_config

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DOCUMENT = 4 * 1024 * 1024


class Archive:
    """The members of an image tar, and the gzipped copies of its uncompressed layers."""

    def __init__(self, tar: tarfile.TarFile, path: Path, scratch: Path) -> None:
        self.name, self._tar, self._scratch = str(path), tar, scratch
        self._members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile() or m.issym() or m.islnk()}
        self._files: dict[str, Path | str] = {}  # blob digest -> scratch file or member name

    def has(self, name: str) -> bool:
        return name in self._members

    def read(self, name: str) -> bytes:
        with self._open(name) as member:
            data = member.read(_MAX_DOCUMENT + 1)
        if len(data) > _MAX_DOCUMENT:
            raise ArchiveError(f"{self.name}: {name} is larger than {_MAX_DOCUMENT} bytes")
        return data

    def layer(self, name: str, descriptor: dict[str, Any], diff_id: str, layer_type: str) -> dict[str, Any]:
        """The descriptor of a layer member: as it is when gzipped, else of its gzipped copy."""
        with self._open(name) as member:
            gzipped = member.read(2) == _GZIP_MAGIC
            member.seek(0)
            if gzipped:
                blob = blob_of(descriptor, self.name) if descriptor else _hashed(member, layer_type)
                self._files[blob.digest] = name
                return descriptor or blob.descriptor()
            target = self._scratch / f"layer-{len(self._files)}.tar.gz"
            with target.open("wb") as out:
                packed = compress(member, out)
        if packed.diff_id != diff_id:
            raise ArchiveError(f"{self.name}: layer {name} has content {packed.diff_id}, its config says {diff_id}")
        self._files[packed.digest] = target
        return {**descriptor, "mediaType": layer_type, "digest": packed.digest, "size": packed.size}

    def blob_chunks(self, blob: Blob) -> Generator[bytes, None, None]:
        where = self._files.get(blob.digest)
        if where is None:
            raise ArchiveError(f"{self.name}: no blob {blob.digest}")
        return verified(self._chunks(where), blob, self.name)

    def _chunks(self, where: Path | str) -> Iterator[bytes]:
        with where.open("rb") if isinstance(where, Path) else self._open(where) as file:
            while chunk := file.read(CHUNK):
                yield chunk

    def _open(self, name: str) -> IO[bytes]:
        member = self._members.get(name)
        file = self._tar.extractfile(member) if member else None
        if file is None:
            raise ArchiveError(f"{self.name}: {name} is missing from the archive")
        return file


@contextmanager
def open_archive(path: Path, architecture: str) -> Iterator[SourceImage]:
    """The image of a `docker save` or OCI layout tar; gzipped copies of plain layers in a temporary folder."""
    with _tar(path) as tar, tempfile.TemporaryDirectory(prefix="faas-image-") as scratch:
        archive = Archive(tar, path, Path(scratch))
        if archive.has("oci-layout") and archive.has("index.json"):
            yield _oci_image(archive, architecture)
        elif archive.has("manifest.json"):
            yield _docker_image(archive, architecture)
        else:
            raise ArchiveError(f"{path}: neither an OCI image layout (oci-layout, index.json) nor a docker save tar")


def _tar(path: Path) -> tarfile.TarFile:
    check_archive(path, BATCH_LIMITS, str(path))  # its layers are checked again as they are copied
    try:
        return tarfile.open(path)  # noqa: SIM115 (closed by the caller's with)
    except (OSError, tarfile.TarError) as error:
        raise ArchiveError(f"{path}: not a readable tar archive ({error})") from None


def _oci_image(archive: Archive, architecture: str) -> SourceImage:
    document = parse_json(archive.read("index.json"), f"{archive.name}: index.json")
    for _ in range(3):  # index.json may point to an image index, which points to the manifests
        chosen = _only_image(document, architecture, archive.name)
        document = parse_json(_blob_bytes(archive, chosen), f"{archive.name}: {chosen.digest}")
        media_type = str(document.get("mediaType") or chosen.media_type)
        if manifest_kind(media_type, archive.name) == "manifest":
            return _image(archive, document, media_type, architecture)
    raise ArchiveError(f"{archive.name}: image indexes nested too deep")


def _only_image(index: dict[str, Any], architecture: str, name: str) -> Blob:
    entries = index.get("manifests")
    if isinstance(entries, list) and not any(isinstance(e, dict) and e.get("platform") for e in entries):
        if len(entries) != 1:
            raise ArchiveError(f"{name} holds {len(entries)} images; expected one")
        return blob_of(entries[0], f"{name}: manifests[0]")
    return pick_manifest(index, architecture, name)


def _image(archive: Archive, manifest: dict[str, Any], media_type: str, architecture: str) -> SourceImage:
    config_blob, layers = manifest_parts(manifest, archive.name)
    config = read_config(_blob_bytes(archive, config_blob), archive.name, len(layers))
    check_platform(config, architecture, archive.name)
    layer_type = FAMILY.get(media_type, FAMILY[DOCKER_MANIFEST])[1]
    layers = [
        archive.layer(_blob_path(blob_of(layer, archive.name)), layer, diff_id, layer_type)
        for layer, diff_id in zip(layers, diff_ids(config, archive.name), strict=True)
    ]
    return SourceImage(archive.name, manifest, media_type, config, layers, None, archive.blob_chunks)


def _docker_image(archive: Archive, architecture: str) -> SourceImage:
    try:
        images = json.loads(archive.read("manifest.json"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ArchiveError(f"{archive.name}: manifest.json is not valid JSON: {error}") from None
    if not isinstance(images, list) or len(images) != 1 or not isinstance(images[0], dict):
        raise ArchiveError(f"{archive.name}: manifest.json must list exactly one image")
    config_path, layer_paths = images[0].get("Config"), images[0].get("Layers")
    if not isinstance(config_path, str) or not isinstance(layer_paths, list):
        raise ArchiveError(f"{archive.name}: manifest.json has no Config or Layers")
    config_data = archive.read(config_path)
    config = read_config(config_data, archive.name, len(layer_paths))
    check_platform(config, architecture, archive.name)
    config_blob = Blob(sha256_digest(config_data), len(config_data), DOCKER_CONFIG)
    layer_type = FAMILY[DOCKER_MANIFEST][1]
    layers = [
        archive.layer(str(path), {}, diff_id, layer_type)
        for path, diff_id in zip(layer_paths, diff_ids(config, archive.name), strict=True)
    ]
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": config_blob.descriptor(), "layers": layers}
    return SourceImage(archive.name, manifest, DOCKER_MANIFEST, config, layers, None, archive.blob_chunks)


def _blob_path(blob: Blob) -> str:
    return "blobs/sha256/" + blob.digest.removeprefix("sha256:")


def _blob_bytes(archive: Archive, blob: Blob) -> bytes:
    data = archive.read(_blob_path(blob))
    if sha256_digest(data) != blob.digest or len(data) != blob.size:
        raise DigestMismatch(f"{archive.name}: {_blob_path(blob)} does not match its digest {blob.digest}; refused")
    return data


def _hashed(member: IO[bytes], media_type: str) -> Blob:
    digest, size = hashlib.sha256(), 0
    while chunk := member.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return Blob("sha256:" + digest.hexdigest(), size, media_type)

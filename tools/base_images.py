"""Stand-ins for the Docker Hub base images the examples and tests name, built offline from Debian packages.

Docker Hub is out of reach where the demo and the tests run; Debian's package archive is not.
So `alpine:3.20` is Debian's busybox-static (one binary and a link per applet, a minimal /etc),
and `python:3.12-alpine` is that layer plus Debian's Python 3.11 interpreter, its standard
library (compiled, as the real image ships it) and the shared libraries they load. Both are
labelled as stand-ins, with the Debian versions they hold. They are pushed, single-platform
(OCI), under Docker Hub's names (`library/alpine:3.20`...) to a registry that `faas local
--registry-mirror` then pulls `docker.io` images through.

Deterministic: the same .debs (tools/debs.py caches them) give the same layers, configs and
manifest digests. Usage:

    python -m tools.base_images push http://127.0.0.1:5000 [--check]
    python -m tools.base_images serve --port 5000 --data demo/mirror   # a registry holding both, until stopped
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faas_supervisor.image import (
    ImageError,
    Layer,
    LayerEntry,
    RegistryDestination,
    RegistrySource,
    build_layer,
    read_image,
)
from faas_supervisor.image import layer as layer_module
from faas_supervisor.image.derive import EPOCH
from faas_supervisor.image.oci import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Blob, canonical_json, sha256_digest
from faas_supervisor.image.platform import oci_architecture

from tools import debs
from tools.registry import RegistryUnavailable, start_registry

ALPINE = "alpine:3.20"
PYTHON = "python:3.12-alpine"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
# Package files no image needs: documentation, translations, and glibc's iconv modules (8 MB).
DROPPED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/locale")
DROPPED_LIBRARIES = ("usr/lib/*/gconv",)
PYTHON_PACKAGES = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib")
# Dependencies of the Python packages left out: only the modules named here need them, and the
# scripts the stand-in runs (json, fractions, struct, sys...) import none of those.
PYTHON_EXCLUDED = frozenset(
    {
        "libssl3",  # _ssl, _hashlib (hashlib falls back on its built-in sha* and md5)
        "media-types",  # /etc/mime.types for mimetypes
        "libbz2-1.0",  # bz2
        "liblzma5",  # lzma
        "libdb5.3",  # dbm.ndbm
        "libsqlite3-0",  # sqlite3
        "libncursesw6",  # curses
        "libtinfo6",  # curses, readline
        "libreadline8",  # readline
        "libnsl2",  # nis
        "libtirpc3",  # nis
        "libcrypt1",  # crypt
        "libuuid1",  # _uuid (uuid falls back on Python code)
    }
)
PYTHON_LIBRARY = "usr/lib/python3.11"


class BuildError(Exception):
    """An image that could not be built, pushed or run."""


@dataclass(frozen=True)
class StandIn:
    """An image to build: its Docker Hub name, layers, command, and the packages it was built from."""

    name: str  # "alpine:3.20"
    layers: list[Layer]
    cmd: list[str]
    env: list[str]
    description: str

    @property
    def repository(self) -> str:
        return "library/" + self.name.partition(":")[0]

    @property
    def tag(self) -> str:
        return self.name.partition(":")[2]


@dataclass(frozen=True)
class PushedImage:
    name: str  # "alpine:3.20"
    repository: str  # "library/alpine"
    tag: str
    digest: str  # of the manifest
    size: int  # the compressed layers' bytes


def stand_ins(architecture: str = "x86_64", cache: Path | None = None) -> list[StandIn]:
    """Both images for `architecture`, their .debs fetched into `cache` (tools/debs.py's by default) when missing.

    Each layer is built once per set of .debs (and version of this code), then read from the cache."""
    cache = cache or debs.cache_folder()
    busybox_packages = debs.fetch(["busybox-static"], architecture, frozenset(), cache)
    busybox = _cached_layer(cache, busybox_packages, architecture, _busybox_layer)
    python_packages = debs.fetch(PYTHON_PACKAGES, architecture, PYTHON_EXCLUDED, cache)
    python = _cached_layer(cache, python_packages, architecture, _python_layer)
    return [
        StandIn(ALPINE, [busybox], ["/bin/sh"], [PATH], _description(ALPINE, busybox_packages)),
        StandIn(
            PYTHON,
            [busybox, python],
            ["python3"],
            [PATH, "LANG=C.UTF-8"],
            _description(PYTHON, busybox_packages + python_packages),
        ),
    ]


def push(stand_in: StandIn, registry: str, architecture: str = "x86_64") -> PushedImage:
    """Push `stand_in` to `registry` (a URL, or host:port) under Docker Hub's name; only missing blobs are sent."""
    config = canonical_json(_config(stand_in, architecture))
    config_blob = Blob(sha256_digest(config), len(config), OCI_CONFIG)
    layer_blobs = [Blob(layer.digest, layer.size, OCI_LAYER_GZIP) for layer in stand_in.layers]
    contents = {config_blob.digest: config} | {layer.digest: layer.blob for layer in stand_in.layers}
    destination = RegistryDestination(registry)
    for blob in destination.missing_blobs(stand_in.repository, [config_blob, *layer_blobs]):
        destination.push_blob(stand_in.repository, blob, [contents[blob.digest]])
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_blob.descriptor(),
            "layers": [blob.descriptor() for blob in layer_blobs],
        }
    )
    digest = sha256_digest(manifest)
    destination.put_manifest(stand_in.repository, stand_in.tag, manifest, OCI_MANIFEST, digest)
    size = sum(layer.size for layer in stand_in.layers)
    return PushedImage(stand_in.name, stand_in.repository, stand_in.tag, digest, size)


def build_and_push(registry: str, architecture: str = "x86_64", cache: Path | None = None) -> list[PushedImage]:
    """Both stand-ins, built and pushed to `registry`."""
    return [push(stand_in, registry, architecture) for stand_in in stand_ins(architecture, cache)]


def run_in_image(registry: str, name: str, argv: Sequence[str], work: Path, architecture: str = "x86_64") -> str:
    """`argv` run in the image `name` (e.g. "alpine:3.20") pulled from the mirror `registry`, in the local
    sandbox (render/local/execution/sandbox.py); its output. `work` holds the unpacked root (readable by anyone:
    proot may run as nobody)."""
    from render.local.execution import sandbox
    from render.local.execution.rootfs import unpack_image

    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    source = RegistrySource.parse(f"docker.io/library/{name}", mirror=_url(registry))
    with read_image(source, architecture) as image:
        unpacked = unpack_image(image, work / "images")
    env = dict(entry.split("=", 1) for entry in unpacked.settings.get("Env", []))
    scratch = Path(tempfile.mkdtemp(dir=work))
    scratch.chmod(0o777)
    spec = sandbox.RunSpec(unpacked.root, list(argv), env, scratch)
    try:
        process = sandbox.detect().start(spec, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = process.communicate(timeout=60)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if process.returncode != 0:
        raise BuildError(f"{name}: {' '.join(argv)} exited with {process.returncode}: {output.decode().strip()}")
    return output.decode()


CHECKS: dict[str, tuple[list[str], str]] = {
    ALPINE: (["sh", "-c", "echo hi | tr a-z A-Z"], "HI\n"),
    PYTHON: (
        ["python3", "-c", "import json, fractions, struct, sys; print(json.dumps(str(fractions.Fraction(3, 6))))"],
        '"1/2"\n',
    ),
}


def check(registry: str, work: Path, architecture: str = "x86_64") -> None:
    """Each stand-in in `registry` runs its check command in the local sandbox, or BuildError."""
    for name, (argv, expected) in CHECKS.items():
        output = run_in_image(registry, name, argv, work, architecture)
        if output != expected:
            raise BuildError(f"{name}: {' '.join(argv)} printed {output!r}, expected {expected!r}")


def _cached_layer(
    cache: Path,
    packages: list[debs.Package],
    architecture: str,
    build: Callable[[list[debs.Package], Path, str], Layer],
) -> Layer:
    """The layer `build` makes of `packages`, kept in `cache`/layers under a key naming the .debs and this code."""
    code = [Path(module.__file__ or "").read_bytes() for module in (sys.modules[__name__], layer_module)]
    inputs = [
        build.__name__,
        architecture,
        [package.path.name for package in packages],
        [sha256_digest(c) for c in code],
    ]
    key = sha256_digest(canonical_json(inputs)).removeprefix("sha256:")[:32]
    blob_file, meta_file = cache / "layers" / f"{key}.tar.gz", cache / "layers" / f"{key}.json"
    if meta_file.is_file() and blob_file.is_file():
        meta, blob = json.loads(meta_file.read_text()), blob_file.read_bytes()
        if sha256_digest(blob) == meta["digest"]:
            return Layer(blob, meta["digest"], meta["diff_id"], meta["comment"])
    with tempfile.TemporaryDirectory(prefix="faas-base-images-") as work:
        layer = build(packages, Path(work), architecture)
    debs.write_atomically(blob_file, layer.blob)
    meta = {"digest": layer.digest, "diff_id": layer.diff_id, "comment": layer.comment}
    debs.write_atomically(meta_file, json.dumps(meta).encode())
    return layer


def _busybox_layer(packages: list[debs.Package], work: Path, architecture: str) -> Layer:
    tree = _unpacked(packages, work)
    busybox = tree / "bin" / "busybox"
    applets = _run([str(busybox), "--list-full"], "listing busybox's applets").split()
    entries = _tree_entries(tree, DROPPED)
    entries += [LayerEntry(path, symlink="/bin/busybox") for path in applets if path != "bin/busybox"]
    entries += [
        LayerEntry("/etc/passwd", PASSWD.encode()),
        LayerEntry("/etc/group", GROUP.encode()),
        LayerEntry("/tmp", mode=0o1777, folder=True),
        LayerEntry("/root", mode=0o700, folder=True),
    ]
    return build_layer(entries, "busybox (" + _versions(packages) + ")")


def _python_layer(packages: list[debs.Package], work: Path, architecture: str) -> Layer:
    tree = _unpacked(packages, work)
    _compile_library(tree, architecture)
    entries = _tree_entries(tree, DROPPED + DROPPED_LIBRARIES)
    entries += [LayerEntry("/usr/bin/python3", symlink="python3.11"), LayerEntry("/usr/bin/python", symlink="python3")]
    return build_layer(entries, "python3.11 (" + _versions(packages) + ")")


def _compile_library(tree: Path, architecture: str) -> None:
    """The standard library's .pyc files, written by the image's own interpreter through its own loader.

    Unchecked-hash .pyc files do not depend on times (the image never changes), and name their
    sources by their paths in the image. Skipped for a foreign architecture (the modules then compile at each run).
    """
    if architecture != _host_architecture():
        return
    libraries = [
        str(folder) for folder in sorted(tree.glob("lib/*-linux-gnu")) + sorted(tree.glob("usr/lib/*-linux-gnu"))
    ]
    loader = next(iter(sorted(tree.glob("lib/*-linux-gnu/ld-linux*.so.*"))), None)  # lib64/ links to the host
    if loader is None:
        raise BuildError(f"no dynamic loader in the unpacked packages ({tree}/lib/*-linux-gnu/ld-linux*)")
    command = [str(loader), "--library-path", ":".join(libraries), str(tree / "usr/bin/python3.11")]
    command += ["-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash", "-s", str(tree), "-p", "/"]
    # A fixed hash seed (a frozenset constant's order follows its strings' hashes), and no .pyc
    # written by the imports of compileall itself: those would be timestamped, and kept.
    env = {"PYTHONHOME": str(tree / "usr"), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    _run([*command, str(tree / PYTHON_LIBRARY)], "compiling the standard library", env)


def _host_architecture() -> str:
    machine = os.uname().machine
    return {"aarch64": "arm64", "amd64": "x86_64"}.get(machine, machine)


def _unpacked(packages: list[debs.Package], work: Path) -> Path:
    for package in packages:
        debs.unpack(package, work)
    return work


def _tree_entries(tree: Path, dropped: Sequence[str]) -> list[LayerEntry]:
    """The folders, files and links under `tree` (modes kept, hard links as copies), less the `dropped` paths."""

    def kept(path: Path) -> bool:
        relative = path.relative_to(tree).as_posix()
        return not any(fnmatch.fnmatch(relative, pattern) for pattern in dropped)

    entries = []
    for top, folders, files in os.walk(tree):  # symbolic links to folders are listed, not followed
        folders[:] = [name for name in folders if kept(Path(top) / name)]
        entries += [_entry(Path(top) / name, tree) for name in [*folders, *files] if kept(Path(top) / name)]
    return entries


def _entry(path: Path, tree: Path) -> LayerEntry:
    name, mode = "/" + path.relative_to(tree).as_posix(), path.lstat().st_mode & 0o7777
    if path.is_symlink():
        return LayerEntry(name, symlink=os.readlink(path))
    if path.is_dir():
        return LayerEntry(name, mode=mode, folder=True)
    if path.is_file():
        return LayerEntry(name, path.read_bytes(), mode)
    raise BuildError(f"{name}: not a file, folder or link; a base image holds none of those")


def _config(stand_in: StandIn, architecture: str) -> dict[str, Any]:
    return {
        "architecture": oci_architecture(architecture),
        "os": "linux",
        "created": EPOCH,
        "config": {
            "Cmd": stand_in.cmd,
            "Env": stand_in.env,
            "WorkingDir": "/",
            "Labels": {
                "org.opencontainers.image.description": stand_in.description,
                "org.opencontainers.image.title": f"faas-render stand-in for {stand_in.name}",
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in stand_in.layers]},
        "history": [
            {"created": EPOCH, "created_by": layer.comment, "comment": stand_in.description}
            for layer in stand_in.layers
        ],
    }


def _description(name: str, packages: list[debs.Package]) -> str:
    return f"faas-render stand-in for {name}, built from Debian {_versions(packages)}"


def _versions(packages: list[debs.Package]) -> str:
    return ", ".join(f"{package.name} {package.version}" for package in packages)


def _url(registry: str) -> str:
    return registry if "://" in registry else f"http://{registry}"


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BuildError(f"{what}: {command[0]} exited with {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.base_images",
        description="Build the stand-ins for alpine:3.20 and python:3.12-alpine from Debian packages and push "
        "them, under Docker Hub's names, to a registry that serves as a mirror.",
    )
    parser.add_argument("--arch", default="x86_64", choices=sorted(debs.DEB_ARCHITECTURES))
    parser.add_argument(
        "--cache", type=Path, help=f"where the .debs and layers are kept (default: {debs.cache_folder()})"
    )
    parser.add_argument("--check", action="store_true", help="run each image in the local sandbox after the push")
    commands = parser.add_subparsers(dest="command", required=True)
    push_command = commands.add_parser("push", help="push to a running registry")
    push_command.add_argument("registry", help="its URL or host:port, e.g. http://127.0.0.1:5000")
    serve = commands.add_parser(
        "serve",
        help="start docker-registry on 127.0.0.1, push, print 'mirror ready at URL', serve until SIGINT/SIGTERM",
    )
    serve.add_argument("--port", type=int, default=0, help="its port (default: a free one)")
    serve.add_argument("--data", type=Path, required=True, help="the registry's folder (config, blobs, log)")
    options = parser.parse_args(argv)
    try:
        if options.command == "push":
            _push_all(options.registry, options)
            return 0
        # SIGINT and SIGTERM stop the registry below (a shell starts background jobs with SIGINT ignored).
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.default_int_handler)
        registry = start_registry(options.data.resolve(), options.port)
        try:
            _push_all(registry.url, options)
            print(f"mirror ready at {registry.url}", flush=True)
            while True:
                signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            registry.stop()
    except (BuildError, debs.DebError, RegistryUnavailable, ImageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _push_all(registry: str, options: argparse.Namespace) -> None:
    started = time.monotonic()
    for image in build_and_push(registry, options.arch, options.cache):
        print(f"{image.name}: {_url(registry)}/v2/{image.repository}/manifests/{image.digest} ({image.size} bytes)")
    print(f"built and pushed in {time.monotonic() - started:.1f} s", flush=True)
    if options.check:
        with tempfile.TemporaryDirectory(prefix="faas-base-images-check-") as work:
            check(registry, Path(work), options.arch)
        print("both images run in the local sandbox", flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""Deterministic build artifacts: the same inputs always give the same bytes."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping, Set
from dataclasses import dataclass
from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from faas_supervisor.config import FunctionConfig, Output
from faas_supervisor.config import StorageProvider as SupervisorStorageProvider
from faas_supervisor.contract import CONFIG_FILE_NAME

from render.fdl.container_environment import deployed_name
from render.fdl.errors import FdlError, Location
from render.fdl.model import Function, StorageProvider

if TYPE_CHECKING:  # importlib.resources.abc exists from Python 3.11 on
    from importlib.resources.abc import Traversable

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
COPY_CHUNK = 1024 * 1024
SUPERVISOR_PACKAGE = "faas_supervisor"
# Files of the runtime that the Lambda zip never needs (the Python runtime has its own Runtime API client).
EXCLUDED_FROM_LAMBDA = {"__main__.py", "batch_job.py", "runtime_api.py"}
# Folders of the package a function's zip never needs: image assembly, the static binaries.
EXCLUDED_FOLDERS = {"__pycache__", "image", "bin"}


@dataclass(frozen=True)
class Artifact:
    """A file to write under the output directory, by its path relative to that directory."""

    path: str
    content: bytes
    mode: int = 0o644

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def sha256_base64(self) -> str:
        """The encoding aws_lambda_function.source_code_hash compares with."""
        return base64.b64encode(hashlib.sha256(self.content).digest()).decode()

    def write(self, target: Path) -> None:
        target.write_bytes(self.content)


@dataclass(frozen=True)
class FileArtifact:
    """A file copied under the output directory from `source` (a base image archive, up to
    gigabytes): never held in memory, hashed in one streamed pass, its copy checked against the hash."""

    path: str
    source: Path
    sha256_hex: str
    mode: int = 0o644

    @classmethod
    def of(cls, path: str, source: Path) -> FileArtifact:
        digest = hashlib.sha256()
        with source.open("rb") as file:
            while chunk := file.read(COPY_CHUNK):
                digest.update(chunk)
        return cls(path, source, digest.hexdigest())

    def write(self, target: Path) -> None:
        """Copy the source, hashing as it goes: a source changed since it was hashed is refused, since
        main.tf names the object by the hash. (A hard link would let a later in-place rewrite of the
        source, such as `docker save -o`, change the rendered root behind main.tf's back.)"""
        digest = hashlib.sha256()
        with self.source.open("rb") as source, target.open("wb") as copy:
            while chunk := source.read(COPY_CHUNK):
                digest.update(chunk)
                copy.write(chunk)
        if digest.hexdigest() != self.sha256_hex:
            raise FdlError.single(
                Location(str(self.source)), "changed while faas-render was reading it; render again once it is written"
            )


RootFile = Artifact | FileArtifact  # what a rendered root's artifacts/ holds


def function_config(function: Function, providers: Mapping[str, StorageProvider]) -> FunctionConfig:
    """The supervisor's configuration of `function`: other accounts' keys only by parameter name."""
    return FunctionConfig(
        name=function.name,
        execution_mode=function.execution_mode,
        log_level=function.log_level,
        script=function.script_name,
        image=function.image,
        timeout_threshold=function.timeout_threshold,
        environment_from={name: deployed_name(name) for name in function.container_environment},
        inputs=function.inputs,
        outputs=tuple(
            Output(
                bucket=o.location.bucket,
                key_prefix=o.location.key_prefix,
                prefix=o.prefix,
                suffix=o.suffix,
                storage_provider=o.provider,
            )
            for o in function.outputs
        ),
        storage_providers={
            ident: SupervisorStorageProvider(ident, providers[ident].parameter, providers[ident].region)
            for ident in function.provider_idents
        },
    )


def supervisor_sources(
    excluded_folders: Set[str] = EXCLUDED_FOLDERS, excluded_files: Set[str] = EXCLUDED_FROM_LAMBDA
) -> list[tuple[str, bytes]]:
    """The runtime's Python files, as (path inside the zip, content), sorted."""
    root = resources.files(SUPERVISOR_PACKAGE)
    found: list[tuple[str, bytes]] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            name = f"{prefix}/{child.name}"
            if child.is_dir() and child.name not in excluded_folders:
                walk(child, name)
            elif child.name.endswith(".py") and child.name not in excluded_files:
                found.append((name, child.read_bytes()))

    walk(root, SUPERVISOR_PACKAGE)
    return sorted(found)


def deterministic_zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    """A zip with sorted entries, a fixed timestamp and fixed permissions."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, mode in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the permission bits
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def lambda_zip(function: Function, config: FunctionConfig, path: str) -> Artifact:
    """The deployment package: the supervisor, its configuration and the user script."""
    entries = [(name, content, 0o644) for name, content in supervisor_sources()]
    entries.append((CONFIG_FILE_NAME, config.to_json(), 0o644))
    if function.script:
        entries.append((function.script.name, function.script.read_bytes(), 0o755))
    return Artifact(path, deterministic_zip(entries))


def staged_files(function: Function, config: FunctionConfig, folder: str) -> list[Artifact]:
    """What a Batch job reads from the deployment bucket: its config and its script."""
    files = [Artifact(f"{folder}/{CONFIG_FILE_NAME}", config.to_json())]
    if function.script:
        files.append(Artifact(f"{folder}/{function.script.name}", function.script.read_bytes(), 0o755))
    return files

"""What the functions' images are built from: our layers and the builder's package, as artifacts.

An image is its base plus two layers of ours (contract: IMAGE_ENTRYPOINT, IMAGE_TASK_ROOT). The
supervisor layer holds the frozen supervisor of one architecture, unpacked at SUPERVISOR_HOME
from the tar the package ships (so nothing is extracted when a function starts): it is the same
for every function and every render, so the registry already has it after the first build. The function
layer holds the function configuration and the script: a script-only change changes this small
layer alone. Layers are deterministic (faas_supervisor.image.build_layer), staged in the
deployment bucket under their digest, and checked by the builder against it.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from faas_supervisor import contract
from faas_supervisor.config import FunctionConfig
from faas_supervisor.contract import CONFIG_FILE_NAME
from faas_supervisor.image import Layer, LayerEntry, build_layer

from render import __version__
from render.fdl.model import Function
from render.terraform.artifacts import Artifact, deterministic_zip, supervisor_sources
from render.terraform.supervisor_bundle import SupervisorBundleError

# The builder needs the image package and nothing that runs functions.
BUILDER_FOLDERS = {"bin", "__pycache__"}
IMAGE_ENVIRONMENT = {"LAMBDA_TASK_ROOT": contract.IMAGE_TASK_ROOT}


@dataclass(frozen=True)
class StagedLayer:
    """A layer written as `artifact` and uploaded to the deployment bucket as `key`."""

    artifact: Artifact
    layer: Layer

    @property
    def key(self) -> str:
        return f"layers/{self.layer.digest.removeprefix('sha256:')}.tar.gz"


def bundle_entries(bundle: Path) -> list[LayerEntry]:
    """The bundle's files and links as layer entries under SUPERVISOR_HOME (modes kept)."""
    entries = []
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts:
                raise SupervisorBundleError(f"{bundle}: member {member.name!r} is outside the bundle")
            path = f"{contract.SUPERVISOR_HOME}/{name}"
            mode = member.mode & 0o777
            if member.isdir():
                entries.append(LayerEntry(path, mode=mode, folder=True))
            elif member.issym():
                entries.append(LayerEntry(path, symlink=member.linkname))
            elif member.isfile():
                data = tar.extractfile(member)
                entries.append(LayerEntry(path, data.read() if data else b"", mode))
            else:
                raise SupervisorBundleError(f"{bundle}: member {member.name!r} is not a file, folder or link")
    if not any(e.path == contract.SUPERVISOR_PATH and e.mode & 0o111 for e in entries):
        raise SupervisorBundleError(f"{bundle} holds no executable {contract.SUPERVISOR_NAME}")
    return entries


def supervisor_layer(bundle: Path, architecture: str) -> StagedLayer:
    layer = build_layer(bundle_entries(bundle), comment=f"faas-render {__version__}: supervisor ({architecture})")
    return StagedLayer(Artifact(f"artifacts/layers/supervisor-{architecture}.tar.gz", layer.blob), layer)


def function_layer(function: Function, config: FunctionConfig) -> StagedLayer:
    root = contract.IMAGE_TASK_ROOT
    entries = [LayerEntry(f"{root}/{CONFIG_FILE_NAME}", config.to_json())]
    if function.script:
        entries.append(LayerEntry(f"{root}/{function.script.name}", function.script.read_bytes(), 0o755))
    layer = build_layer(entries, comment=f"faas-render {__version__}: function {function.name}")
    return StagedLayer(Artifact(f"artifacts/layers/{function.name}.tar.gz", layer.blob), layer)


def builder_zip(path: str) -> Artifact:
    """The builder function's package: the supervisor package with its image assembly."""
    sources = supervisor_sources(excluded_folders=BUILDER_FOLDERS, excluded_files=set())
    return Artifact(path, deterministic_zip([(name, content, 0o644) for name, content in sources]))

"""What the functions' images are built from: our layers and the builder's package, as artifacts.

An image is its base plus two layers of ours (contract: IMAGE_ENTRYPOINT, IMAGE_TASK_ROOT). The
supervisor layer holds the static supervisor of one architecture: it is the same for every
function and every render, so the registry already has it after the first build. The function
layer holds the function configuration and the script: a script-only change changes this small
layer alone. Layers are deterministic (faas_supervisor.image.build_layer), staged in the
deployment bucket under their digest, and checked by the builder against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from faas_supervisor import contract
from faas_supervisor.config import FunctionConfig
from faas_supervisor.contract import CONFIG_FILE_NAME
from faas_supervisor.image import Layer, LayerEntry, build_layer

from render import __version__
from render.fdl.model import Function
from render.terraform.artifacts import Artifact, deterministic_zip, supervisor_sources

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


def supervisor_layer(binary: Path, architecture: str) -> StagedLayer:
    layer = build_layer(
        [LayerEntry(contract.SUPERVISOR_PATH, binary.read_bytes(), 0o755)],
        comment=f"faas-render {__version__}: supervisor ({architecture})",
    )
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

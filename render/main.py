"""The library entry point of faas-render: `render_fdl`, which the `faas-render` command calls.

    from render.main import render_fdl
    result = render_fdl(Path("fdl.yaml"), Path("deploy"), configs=[Path("network.yaml")])

Everything is validated before anything is written; invalid input raises FdlError (naming the
file, line and key of every problem) and leaves `output` untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from render.fdl.load import load_deployment
from render.fdl.model import Deployment
from render.fdl.storage_credentials import StorageCredentials
from render.terraform.base_registries import check_mirror
from render.terraform.module_source import parse_module_source
from render.terraform.output_dir import write_root
from render.terraform.root_module import render_root
from render.terraform.supervisor_bundle import supervisor_bundle


@dataclass(frozen=True)
class RenderResult:
    deployment: Deployment
    output: Path
    credentials: StorageCredentials  # keys Terraform needs in its environment (SCAR's in-FDL form)


def render_fdl(
    fdl: Path,
    output: Path,
    *,
    configs: Sequence[Path] = (),
    overrides: Sequence[str] = (),
    region: str | None = None,
    name: str | None = None,
    use_scar_config: bool = True,
    module_source: str | None = None,
    module_version: str | None = None,
    registry_mirror: str | None = None,
) -> RenderResult:
    """Render `fdl` into a Terraform root module in `output` (main.tf, modules/, artifacts/)."""
    modules = parse_module_source(module_source, module_version)
    check_mirror(registry_mirror)
    deployment, credentials = load_deployment(
        fdl, configs=configs, overrides=overrides, region=region, name=name, use_scar_config=use_scar_config
    )
    rendered = render_root(
        deployment,
        module_source=modules.source,
        supervisor_bundle=supervisor_bundle,
        module_version=modules.version,
        registry_mirror=registry_mirror,
    )
    write_root(output, rendered.main_tf, rendered.artifacts, copy_modules=modules.copies_modules)
    return RenderResult(deployment, output, credentials)

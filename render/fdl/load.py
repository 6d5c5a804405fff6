"""Read an FDL file, with its config files and overrides, into a validated Deployment."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from render.fdl.model import Deployment
from render.fdl.resolve import resolve
from render.fdl.settings import load_settings
from render.fdl.storage_credentials import StorageCredentials, storage_credentials


def load_deployment(
    fdl: Path,
    *,
    configs: Sequence[Path] = (),
    overrides: Sequence[str] = (),
    region: str | None = None,
    name: str | None = None,
    use_scar_config: bool = True,
) -> tuple[Deployment, StorageCredentials]:
    """The deployment, and the storage keys the FDL holds (for Terraform's environment, nothing else).

    `configs` are scar.cfg-style files (later ones win), `overrides` `SECTION.KEY=VALUE` strings;
    `use_scar_config` reads ~/.scar/scar.cfg too. Raises FdlError naming every problem.
    """
    settings = load_settings(fdl, list(configs), list(overrides), use_scar_config=use_scar_config)
    deployment = resolve(settings, name=name, region=region)
    return deployment, storage_credentials(settings, deployment.managed_credentials)

"""Locate the root-module template and the Terraform modules shipped with faas-render."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

ASSET_PACKAGE = "faas_render_assets"


@cache
def assets_root() -> Path:
    """The folder holding main.tf.j2 and modules/ (the repository root in a source checkout).

    The assets package maps to the repository root, which has no __init__.py; in an editable
    install it is a namespace package, so look through its search locations.
    """
    spec = importlib.util.find_spec(ASSET_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location)
        if (candidate / "main.tf.j2").is_file():
            return candidate
    fallback = Path(__file__).resolve().parents[2]
    if (fallback / "main.tf.j2").is_file():
        return fallback
    raise RuntimeError("faas-render is installed without its Terraform assets (main.tf.j2, modules/)")


def module_dir(name: str) -> Path:
    return assets_root() / "modules" / name

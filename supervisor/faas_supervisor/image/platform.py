"""Picking the linux/amd64 or linux/arm64 image of an index, as Lambda wants one architecture."""

from __future__ import annotations

from typing import Any

from faas_supervisor.image.errors import ImageError, PlatformNotFound
from faas_supervisor.image.oci import Blob, blob_of

# Lambda's architecture names -> the OCI ones.
ARCHITECTURES = {"x86_64": "amd64", "arm64": "arm64"}
_VARIANTS = {"amd64": ("",), "arm64": ("", "v8")}


def oci_architecture(architecture: str) -> str:
    try:
        return ARCHITECTURES[architecture]
    except KeyError:
        raise ImageError(f"unknown architecture {architecture!r}: expected x86_64 or arm64") from None


def pick_manifest(index: dict[str, Any], architecture: str, image: str) -> Blob:
    """The descriptor of the index's linux image for `architecture` (arm64: variant v8 or none)."""
    wanted = oci_architecture(architecture)
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ImageError(f"{image}: the index has no manifests list")
    for number, entry in enumerate(entries):
        platform = _platform(entry)
        if (
            platform["os"] == "linux"
            and platform["architecture"] == wanted
            and platform["variant"] in _VARIANTS[wanted]
        ):
            return blob_of(entry, f"{image}: manifests[{number}]")
    available = ", ".join(sorted({_name(_platform(entry)) for entry in entries})) or "none"
    raise PlatformNotFound(f"{image} has no linux/{wanted} image (for {architecture}); available: {available}")


def check_platform(config: dict[str, Any], architecture: str, image: str) -> None:
    """A single-platform image must itself be linux/<architecture>."""
    wanted = oci_architecture(architecture)
    found = {"os": config.get("os", ""), "architecture": config.get("architecture", ""), "variant": ""}
    if found["os"] != "linux" or found["architecture"] != wanted:
        raise PlatformNotFound(f"{image} is a {_name(found)} image, not linux/{wanted} (for {architecture})")


def _platform(entry: object) -> dict[str, str]:
    platform = entry.get("platform") if isinstance(entry, dict) else None
    if not isinstance(platform, dict):
        platform = {}
    return {key: str(platform.get(key) or "") for key in ("os", "architecture", "variant")}


def _name(platform: dict[str, str]) -> str:
    return "/".join(value for value in (platform["os"], platform["architecture"], platform["variant"]) if value)

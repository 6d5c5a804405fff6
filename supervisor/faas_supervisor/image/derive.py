"""The new image's config and manifest, derived from the base's, serialized canonically."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from faas_supervisor.image.base_record import LABELS
from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.layer import Layer
from faas_supervisor.image.oci import FAMILY, Blob, canonical_json, sha256_digest

EPOCH = "1970-01-01T00:00:00Z"


def derive_config(
    base: dict[str, Any],
    layers: Sequence[Layer],
    entrypoint: Sequence[str],
    env: Mapping[str, str],
    working_dir: str | None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The base config plus `layers`; the base's Entrypoint + Cmd become the Cmd (the entry point's arguments).

    New history entries carry the base's `created` time (the epoch when it has none), so the
    result depends only on the inputs; the config's own `created` stays the base's. `labels`
    record the base (base_record); a base's own record of its base is dropped, never inherited.
    """
    config = copy.deepcopy(base)
    run = dict(config.get("config") or {})
    command = [*_strings(run, "Entrypoint"), *_strings(run, "Cmd")]
    run["Entrypoint"] = list(entrypoint)
    if command:
        run["Cmd"] = command
    else:
        run.pop("Cmd", None)
    merged_env = _merged_env(_strings(run, "Env"), env)
    if merged_env:
        run["Env"] = merged_env
    if working_dir is not None:
        run["WorkingDir"] = working_dir
    base_labels = run.get("Labels") or {}
    if not isinstance(base_labels, dict):
        raise ImageError("the base image's config.Labels must be an object")
    if labels or any(name in base_labels for name in LABELS):
        run["Labels"] = {**{k: v for k, v in base_labels.items() if k not in LABELS}, **(labels or {})}
    config["config"] = run
    created = base.get("created") or EPOCH
    config["rootfs"] = {"type": "layers", "diff_ids": [*base["rootfs"]["diff_ids"], *(x.diff_id for x in layers)]}
    if base.get("history"):  # without a base history, a partial one would not match the layers
        config["history"] = [*base["history"], *({"created": created, "created_by": x.comment} for x in layers)]
    return config


def _strings(run: dict[str, Any], key: str) -> list[str]:
    value = run.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ImageError(f"the base image's config.{key} must be a list of strings")
    return value


def _merged_env(base: list[str], env: Mapping[str, str]) -> list[str]:
    """Base entries in their order, those named in `env` replaced in place, the new ones appended."""
    merged = {entry.partition("=")[0]: entry for entry in base}
    merged.update({name: f"{name}={value}" for name, value in env.items()})
    return list(merged.values())


def derive_manifest(
    base: dict[str, Any], media_type: str, config: bytes, base_layers: list[dict[str, Any]], layers: Sequence[Layer]
) -> tuple[bytes, Blob, list[Blob]]:
    """The manifest (bytes), the config blob and the new layers' blobs, in the base manifest's family."""
    config_type, layer_type = FAMILY[media_type]
    config_blob = Blob(sha256_digest(config), len(config), config_type)
    new_layers = [Blob(layer.digest, layer.size, layer_type) for layer in layers]
    manifest = {
        **base,
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config_blob.descriptor(),
        "layers": [*base_layers, *(blob.descriptor() for blob in new_layers)],
    }
    return canonical_json(manifest), config_blob, new_layers

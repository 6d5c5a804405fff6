"""The base an image was built on, recorded in its config, so that a rebuild on an unchanged base pulls nothing.

Docker Hub counts each manifest GET as a pull, and a HEAD as none ("Docker Hub pull usage and
limits": version checks do not count). Every build resolves the base's tag with a HEAD, and the
image it pushes records, in two labels of its config, the digest the tag resolved to and the
descriptor of the base's config. When the repository's previous image (read through the ECR API,
which Docker Hub never sees) recorded the digest the tag still resolves to, the base is the one
that image was built on: its manifest is the previous manifest with the base's layers (the first
ones, as many as the base config lists) and config, and its config is one blob GET, which is no
pull. A moved tag resolves to another digest, and the base is read again. The labels depend on the
base alone, so the same inputs still give the same image.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.oci import MANIFESTS, Blob, blob_of, canonical_json, is_digest
from faas_supervisor.image.source import MAX_CONFIG

if TYPE_CHECKING:
    from faas_supervisor.image.destination import Destination

BASE_DIGEST = "org.opencontainers.image.base.digest"  # the OCI annotation of that meaning, as a label
BASE_CONFIG = "faas-render.base.config"  # the base config's descriptor, canonical JSON
LABELS = (BASE_DIGEST, BASE_CONFIG)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedBase:
    """What an image built here records of its base, with that image's manifest and config."""

    digest: str  # what the base reference resolved to (an index or a manifest)
    config: Blob  # the base's config
    manifest: dict[str, Any]  # the image's manifest: the base's, plus layers
    architecture: str  # the image's (OCI) architecture, the base's
    diff_ids: list[str]  # the image's, the base's first

    def base_manifest(self, base_diff_ids: list[str]) -> dict[str, Any] | None:
        """The base's manifest, given its config's diff_ids; None when they do not begin the image's."""
        count, layers = len(base_diff_ids), self.manifest["layers"]
        if count > len(layers) or self.diff_ids[:count] != base_diff_ids:
            return None
        return {**self.manifest, "config": self.config.descriptor(), "layers": layers[:count]}


def base_labels(digest: str, config: Blob) -> dict[str, str]:
    """The labels an image built on the base `digest`, whose config is `config`, records."""
    return {BASE_DIGEST: digest, BASE_CONFIG: canonical_json(config.descriptor()).decode()}


def recorded_base(destination: Destination, repository: str) -> RecordedBase | None:
    """What the previous image of `repository` records of its base; None when there is none, or nothing usable."""
    try:
        latest = destination.latest_image(repository)
    except ImageError as error:
        log.warning("cannot read the previous image of %s (%s): the base is read from its registry", repository, error)
        return None
    return None if latest is None else _parse(*latest)


def _parse(manifest_data: bytes, config_data: bytes) -> RecordedBase | None:
    try:
        manifest, config = json.loads(manifest_data), json.loads(config_data)
        labels = config["config"]["Labels"]
        base_config = blob_of(json.loads(labels[BASE_CONFIG]), BASE_CONFIG)
        digest, diff_ids = labels[BASE_DIGEST], config["rootfs"]["diff_ids"]
        layers, architecture = manifest["layers"], config["architecture"]
    except (ValueError, TypeError, KeyError, ImageError):
        return None
    usable = (
        is_digest(digest)
        and manifest.get("mediaType") in MANIFESTS
        and isinstance(layers, list)
        and isinstance(diff_ids, list)
        and len(diff_ids) == len(layers)
        and isinstance(architecture, str)
        and base_config.size <= MAX_CONFIG
    )
    return RecordedBase(digest, base_config, manifest, architecture, diff_ids) if usable else None

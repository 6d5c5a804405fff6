"""The ECR repositories the image builder pulls bases from, for its role: exactly these, no others.

A base in private ECR (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME:TAG`) is read with BatchGetImage
and GetDownloadUrlForLayer. A Docker Hub base pulled through a registry mirror that is an ECR
pull-through cache (`https://ACCOUNT.dkr.ecr.REGION.amazonaws.com/PREFIX`) is the cache's repository
`PREFIX/library/NAME`: on its first pull ECR creates it and imports the image, which takes
BatchImportUpstreamImage and CreateRepository as well
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html). The builder
finds each repository the same way (faas_supervisor.image.reference.endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from faas_supervisor.image.ecr_login import ecr_registry
from faas_supervisor.image.errors import InvalidReference
from faas_supervisor.image.reference import endpoint, parse_reference

from render.fdl.errors import FdlError, Location

MIRROR_OPTION = Location("command line", key="--registry-mirror")


def check_mirror(mirror: str | None) -> None:
    """A mirror the builder can use: HTTPS (plain HTTP on loopback only), an optional repository prefix."""
    if mirror is None:
        return
    try:
        endpoint(parse_reference("alpine"), mirror)
    except InvalidReference as error:
        raise FdlError.single(MIRROR_OPTION, str(error)) from None


def base_repositories(bases: Iterable[str], mirror: str | None) -> list[dict[str, Any]]:
    """The builder module's `base_repositories`: each ECR repository a base comes from, sorted, once."""
    found: dict[tuple[str, str, str], bool] = {}
    for base in bases:
        reference = parse_reference(base)
        base_url, repository = endpoint(reference, mirror)
        registry = ecr_registry(urlsplit(base_url).hostname or "")
        if registry:
            key = (*registry, repository)
            found[key] = found.get(key, False) or bool(mirror and reference.on_docker_hub)
    return [
        {"account_id": account, "region": region, "name": name, "pull_through": through}
        for (account, region, name), through in sorted(found.items())
    ]

"""The images deployed functions and jobs run from: read back from the emulator, unpacked once.

A Lambda function's ImageUri, and the image of the job definitions faas-render writes, name an
ECR repository (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:...` or `...:TAG`). The
emulator keeps what is pushed to its ECR and serves it as a registry at its own address
(render/local/registry.py), so such an image is read from there. Any other reference (a job
definition may name one) is read from its own registry, Docker Hub's through the registry mirror
when one is given. Each manifest is unpacked once (render/local/execution/rootfs.py); a reference by digest
is looked up once.
"""

from __future__ import annotations

import base64
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from faas_supervisor.image import Credentials, ImageError, RegistrySource, read_image

from render.aws.connection import EMULATOR_CREDENTIALS
from render.local.execution.errors import IMAGE_REFUSED, LocalError
from render.local.execution.rootfs import LayerError, UnpackedImage, unpack_image

ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<name>.+)$")
ANY_ADDRESS = ("0.0.0.0", "::", "")  # a server listening everywhere is reached on loopback


def is_ecr_image(image: str) -> bool:
    return ECR_IMAGE.match(image) is not None


def emulator_reference(image: str, endpoint: str | None) -> str:
    """Where the emulator at `endpoint` serves an ECR image (other references are left alone)."""
    match = ECR_IMAGE.match(image)
    if match is None:
        return image
    if not endpoint:
        raise LocalError(f"{image} is in ECR: local mode reads it from the emulator's ECR, and there is none")
    address = urlsplit(endpoint)
    host = "127.0.0.1" if address.hostname in ANY_ADDRESS else address.hostname
    if host and ":" in host:
        host = f"[{host}]"
    return f"{host}:{address.port or 80}/{match['name']}"


class LocalImages:
    """Images unpacked into `cache` (readable by anyone: proot runs images as nobody)."""

    def __init__(self, endpoint: str | None, cache: Path, mirror: str | None = None) -> None:
        self.endpoint, self.cache, self.mirror = endpoint, cache, mirror
        self._lock = threading.Lock()
        self._by_digest: dict[tuple[str, str], UnpackedImage] = {}

    def unpacked(self, image: str, architecture: str) -> UnpackedImage:
        """The image's root folder and config (`architecture`: x86_64 or arm64)."""
        key = (image, architecture)
        with self._lock:
            if key in self._by_digest:
                return self._by_digest[key]
        reference = emulator_reference(image, self.endpoint)
        try:
            registry = RegistrySource.parse(reference, self.mirror, self._login(image))
            with read_image(registry, architecture) as source:
                found = unpack_image(source, self.cache)
        except (ImageError, LayerError) as error:
            raise LocalError(f"cannot run the image {image}: {error}", kind=IMAGE_REFUSED) from None
        if "@sha256:" in image:  # a tag may move, a digest cannot
            with self._lock:
                self._by_digest[key] = found
        return found

    def _login(self, image: str) -> Credentials | None:
        """ECR's login to the emulator for an image in its ECR (its registry view demands it, as ECR does)."""
        match = ECR_IMAGE.match(image)
        if match is None or not self.endpoint:
            return None
        import boto3

        keys = {name.lower(): value for name, value in EMULATOR_CREDENTIALS.items()}
        client = boto3.session.Session(**keys, region_name=match["region"]).client("ecr", endpoint_url=self.endpoint)
        try:
            answer = client.get_authorization_token(registryIds=[match["account"]])
        except (BotoCoreError, ClientError) as error:
            raise LocalError(f"cannot run the image {image}: ecr:GetAuthorizationToken: {error}") from None
        token = base64.b64decode(answer["authorizationData"][0]["authorizationToken"]).decode()
        username, _, password = token.partition(":")
        return Credentials(username, password)

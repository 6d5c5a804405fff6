"""Logging in to a private Amazon ECR registry: its Basic challenge answered with GetAuthorizationToken.

ECR's registry endpoint (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`) answers
`Basic realm="https://ACCOUNT.dkr.ecr.REGION.amazonaws.com/",service="ecr.amazonaws.com"` and takes
only the user `AWS` with a token from the ECR API, valid for 12 hours
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html). The token is asked for
with the caller's own AWS credentials, in the registry's region and for the registry's account.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from faas_supervisor import aws
from faas_supervisor.image.errors import RegistryError

SERVICE = "ecr.amazonaws.com"  # the `service` of ECR's challenge
_HOST = re.compile(r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")


def ecr_registry(host: str) -> tuple[str, str] | None:
    """The account and region of an ECR registry's host name; None for any other host."""
    match = _HOST.fullmatch(host.lower())
    return (match["account"], match["region"]) if match else None


def is_ecr_host(host: str) -> bool:
    return ecr_registry(host) is not None


def is_ecr_challenge(params: dict[str, str]) -> bool:
    """A Basic challenge from ECR (or from a registry speaking as ECR does, as the local emulator's)."""
    return params.get("service") == SERVICE or is_ecr_host(urlsplit(params.get("realm", "")).hostname or "")


def ecr_credentials(registry_url: str, doing: str) -> tuple[str, str]:
    """The user (`AWS`) and a fresh token for the registry at `registry_url`.

    An ECR host names its account and region; any other (the emulator's) is the caller's account in
    the default region.
    """
    registry = ecr_registry(urlsplit(registry_url).hostname or "")
    try:
        client = aws.regional_client("ecr", registry[1] if registry else None)  # NoRegionError too
        answer = client.get_authorization_token(**({"registryIds": [registry[0]]} if registry else {}))
        token = answer["authorizationData"][0]["authorizationToken"]
        username, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except aws.client_errors() as error:
        raise RegistryError(f"{doing}: ecr:GetAuthorizationToken: {aws.describe_error(error)}") from None
    except (KeyError, IndexError, TypeError, binascii.Error, UnicodeDecodeError):
        username = password = ""
    if not username or not password:
        raise RegistryError(f"{doing}: ecr:GetAuthorizationToken answered no usable token")
    return username, password

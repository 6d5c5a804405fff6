"""Image references as Docker reads them, and the URL of the registry that serves each."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from faas_supervisor.image.errors import InvalidReference

DOCKER_HUB = "registry-1.docker.io"
_HUB_DOMAINS = ("docker.io", "index.docker.io")
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_MAX_NAME = 255


@dataclass(frozen=True)
class Reference:
    """`registry` is the host[:port] of the registry API; `tag` is None only for digest references."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def version(self) -> str:
        """What to ask the registry for: the digest when there is one (a tag may move)."""
        return self.digest or self.tag or "latest"

    @property
    def on_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.repository}{tag}{digest}"


def parse_reference(text: str) -> Reference:
    """`alpine` -> registry-1.docker.io/library/alpine:latest; `ghcr.io/o/x:tag`; `repo@sha256:...`."""
    if not text or text != text.strip():
        raise InvalidReference(f"invalid image reference {text!r}: empty or surrounded by spaces")
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise InvalidReference(f"invalid image reference {text!r}: the digest must be sha256:<64 lowercase hex>")
    name, tag = _split_tag(name, text)
    domain, path = _split_domain(name)
    _check_path(path, text)
    if len(name) > _MAX_NAME:
        raise InvalidReference(f"invalid image reference {text!r}: the name is longer than {_MAX_NAME} characters")
    if domain in _HUB_DOMAINS:
        domain, path = DOCKER_HUB, path if "/" in path else f"library/{path}"
    return Reference(domain, path, tag or (None if digest else "latest"), digest or None)


def _split_tag(name: str, text: str) -> tuple[str, str | None]:
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon <= slash:
        return name, None
    tag = name[colon + 1 :]
    if not _TAG.fullmatch(tag):
        raise InvalidReference(f"invalid image reference {text!r}: invalid tag {tag!r}")
    return name[:colon], tag


def _split_domain(name: str) -> tuple[str, str]:
    """Docker's rule: the first component is a registry when it has a '.' or ':', or is localhost."""
    first, slash, rest = name.partition("/")
    if slash and (("." in first or ":" in first) or first == "localhost" or first != first.lower()):
        if not _DOMAIN.fullmatch(first):
            raise InvalidReference(f"invalid image reference {name!r}: invalid registry {first!r}")
        return first, rest
    return "docker.io", name


def _check_path(path: str, text: str) -> None:
    for component in path.split("/"):
        if component.lower() != component:
            raise InvalidReference(f"invalid image reference {text!r}: repository names must be lowercase")
        if not _COMPONENT.fullmatch(component):
            raise InvalidReference(
                f"invalid image reference {text!r}: {component!r} is not a valid repository name component"
            )


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1: the registries Docker lets us reach over plain HTTP."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def registry_url(registry: str) -> str:
    """The base URL of a registry given as host[:port]: HTTPS, or HTTP for a loopback registry."""
    host = urlsplit(f"//{registry}").hostname or ""
    return f"{'http' if is_loopback(host) else 'https'}://{registry}"


def checked_url(url: str) -> str:
    """`url`, if it may be used: HTTPS, or plain HTTP to loopback only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidReference(f"invalid registry URL {url!r}: expected http(s)://host[:port]")
    if parts.username or parts.password:
        raise InvalidReference("invalid registry URL: credentials do not belong in the URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InvalidReference(
            f"refusing plain HTTP to {parts.hostname}: only loopback registries (localhost, 127.0.0.0/8, ::1) "
            "may be reached without TLS"
        )
    return url


def endpoint(reference: Reference, mirror: str | None = None) -> tuple[str, str]:
    """Where `reference` is fetched from: a registry's base URL and the repository's name there.

    Docker Hub images come from the mirror (Docker's registry-mirrors). A mirror's path is a
    repository prefix, as an ECR pull-through cache's: `https://ACCOUNT.dkr.ecr.REGION.amazonaws.com/docker-hub`
    serves `library/alpine` as `docker-hub/library/alpine` (`/v2/docker-hub/library/alpine/...`).
    """
    if mirror and reference.on_docker_hub:
        parts = urlsplit(checked_url(mirror))
        if parts.query or parts.fragment:
            raise InvalidReference(f"invalid registry mirror {mirror!r}: expected http(s)://host[:port][/PREFIX]")
        prefix = parts.path.strip("/")
        if prefix:
            _check_path(prefix, mirror)
        return (
            f"{parts.scheme}://{parts.netloc}",
            f"{prefix}/{reference.repository}" if prefix else reference.repository,
        )
    return registry_url(reference.registry), reference.repository

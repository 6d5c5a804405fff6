"""Where a rendered root takes its modules from: copied next to main.tf, a registry, or git.

`--module-source app.terraform.io/acme/faas-render/aws --module-version 1.2.0` renders
`source = "app.terraform.io/acme/faas-render/aws//modules/lambda"` with `version = "1.2.0"`;
`--module-source git::https://github.com/acme/faas-render.git?ref=v1.2.0` renders
`source = "git::https://github.com/acme/faas-render.git//modules/lambda?ref=v1.2.0"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from render.fdl.errors import FdlError, Location

SOURCE_FLAG = Location("--module-source")
VERSION_FLAG = Location("--module-version")

_LABEL = r"[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?"
_HOST = r"(?:[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?\.)+[A-Za-z]{2,63}(?::[0-9]{1,5})?"
_REGISTRY = re.compile(
    rf"(?:(?P<host>{_HOST})/)?(?P<namespace>{_LABEL})/(?P<name>{_LABEL})/(?P<provider>[0-9a-z]{{1,64}})"
)
_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
_GIT_URL = re.compile(r"(?:(?:https?|ssh|file)://[^\s?#]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s?#]+)")
# Hosts that Terraform reads as source shorthands, never as registries.
_SHORTHAND_HOSTS = ("github.com", "bitbucket.org")

EXPECTED = (
    "expected a registry address HOST/NAMESPACE/NAME/PROVIDER (for example "
    "app.terraform.io/acme/faas-render/aws, with --module-version 1.2.0) or a git source "
    "git::URL?ref=TAG (for example git::https://github.com/acme/faas-render.git?ref=v1.2.0)"
)


@dataclass(frozen=True)
class ModuleSource:
    """The modules' location: None copies them next to main.tf (the self-contained default)."""

    address: str | None = None  # registry address, or git URL without its query
    version: str | None = None  # registry only: the `version` argument of every module block
    query: str = ""  # git only: `ref=...` and any other parameters

    @property
    def copies_modules(self) -> bool:
        return self.address is None

    def source(self, module: str) -> str:
        """The `source` argument of the module block that uses modules/<module>."""
        if self.address is None:
            return f"./modules/{module}"
        if self.address.startswith("git::"):
            return f"{self.address}//modules/{module}?{self.query}"
        return f"{self.address}//modules/{module}"


def parse_module_source(text: str | None, version: str | None) -> ModuleSource:
    """Validate --module-source and --module-version; raise FdlError naming the flag."""
    if version == "":
        raise FdlError.single(VERSION_FLAG, "is empty")
    if text is None:
        if version is not None:
            raise FdlError.single(VERSION_FLAG, "needs --module-source (the local modules/ copy has no version)")
        return ModuleSource()
    if text.startswith("git::"):
        return _git(text, version)
    return _registry(text, version)


def _git(text: str, version: str | None) -> ModuleSource:
    url, _, query = text.removeprefix("git::").partition("?")
    if not _GIT_URL.fullmatch(url):
        raise FdlError.single(SOURCE_FLAG, f"{text!r} is not a git source: {EXPECTED}")
    if "//" in url.split("://", 1)[-1]:
        raise FdlError.single(
            SOURCE_FLAG, f"{text!r} names a subdirectory: point at the repository, faas-render adds //modules/NAME"
        )
    refs = [value for key, value in parse_qsl(query, keep_blank_values=True) if key == "ref"]
    if refs and version is not None:
        raise FdlError.single(VERSION_FLAG, f"the git source already pins ref={refs[0]}: give the ref only once")
    if version is not None:
        query = "&".join(filter(None, [query, urlencode({"ref": version})]))
    elif not refs or not refs[0]:
        raise FdlError.single(
            SOURCE_FLAG, f"{text!r} is not pinned: add ?ref=TAG (for example ?ref=v1.2.0) or --module-version TAG"
        )
    return ModuleSource(address=f"git::{url}", query=query)


def _registry(text: str, version: str | None) -> ModuleSource:
    match = _REGISTRY.fullmatch(text)
    if match is None:
        raise FdlError.single(SOURCE_FLAG, f"{text!r} is not a module source: {EXPECTED}")
    host = (match.group("host") or "").lower()
    if host in _SHORTHAND_HOSTS:
        raise FdlError.single(
            SOURCE_FLAG,
            f"Terraform reads {host}/... as a git shorthand, not a registry: use git::https://{host}/"
            f"{match.group('namespace')}/{match.group('name')}.git?ref=TAG",
        )
    if version is None:
        raise FdlError.single(VERSION_FLAG, "a registry source needs an exact version, e.g. --module-version 1.2.0")
    if not _SEMVER.fullmatch(version):
        hint = f" (tag {version} is version {version[1:]} in a registry)" if _SEMVER.fullmatch(version[1:]) else ""
        raise FdlError.single(VERSION_FLAG, f"{version!r} is not an exact version such as 1.2.0{hint}")
    return ModuleSource(address=text, version=version)

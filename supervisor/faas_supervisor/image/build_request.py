"""The image builder's event, parsed and checked before anything is read or pushed.

The event is what Terraform sends (see contract.BUILDER_HANDLER); each error names the field
at fault, as `terraform apply` shows the message to the user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.oci import checked_digest
from faas_supervisor.image.platform import ARCHITECTURES
from faas_supervisor.image.reference import parse_reference

_FIELDS = (
    "repository",
    "tag",
    "architecture",
    "base",
    "base_archive",
    "credentials_secret",
    "layers",
    "entrypoint",
    "environment",
    "lambda",
)
TAG_ACTION = "tag"
_TAG_FIELDS = ("action", "repository", "tag", "digest")
_LAYER_FIELDS = ("bucket", "key", "digest", "diff_id", "size", "comment")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # ECR's (and Docker's) image tags
_ENV_NAME = re.compile(r"[^=\0]+")
_ARCHITECTURE = re.compile("|".join(map(re.escape, ARCHITECTURES)))


class BuildRequestError(ImageError):
    """The builder's event is malformed; the message names the field."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class StagedLayer:
    """A gzipped layer staged in S3, with the digests it must have."""

    location: S3Object
    digest: str
    diff_id: str
    size: int
    comment: str


@dataclass(frozen=True)
class BuildRequest:
    """One image to build: `base` (a registry image) or `base_archive` (an image archive in S3), plus `layers`."""

    repository: str
    tag: str
    architecture: str
    base: str | None
    base_archive: S3Object | None
    credentials_secret: str | None
    layers: tuple[StagedLayer, ...]
    entrypoint: tuple[str, ...]
    environment: dict[str, str]
    for_lambda: bool = False  # the event's `lambda`: Lambda runs the image, so its layer rules apply

    @classmethod
    def parse(cls, event: object) -> BuildRequest:
        fields = _object(event, "the event")
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            _fail(unknown[0], f"unknown field (expected {', '.join(_FIELDS)})")
        base, archive = fields.get("base"), fields.get("base_archive")
        if (base is None) == (archive is None):
            _fail("base", "give exactly one of base (an image reference) and base_archive (an S3 object)")
        secret = fields.get("credentials_secret")
        if secret is not None and archive is not None:
            _fail("credentials_secret", "only a registry base needs credentials, not base_archive")
        for_lambda = fields.get("lambda", False)
        if not isinstance(for_lambda, bool):
            _fail("lambda", f"expected true or false, got {_shown(for_lambda)}")
        return cls(
            repository=_text(fields, "repository"),
            tag=_text(fields, "tag", _TAG, "an image tag: letters, digits, '_', '.', '-', at most 128"),
            architecture=_text(fields, "architecture", _ARCHITECTURE, "x86_64 or arm64"),
            base=None if base is None else _reference(base),
            base_archive=None if archive is None else _s3_object(_object(archive, "base_archive"), "base_archive"),
            credentials_secret=None if secret is None else _text(fields, "credentials_secret"),
            layers=tuple(_layer(layer, f"layers[{n}]") for n, layer in enumerate(_list(fields, "layers"))),
            entrypoint=_entrypoint(_list(fields, "entrypoint")),
            environment=_environment(fields.get("environment", {})),
            for_lambda=for_lambda,
        )


@dataclass(frozen=True)
class TagRequest:
    """Put `tag` on the image `digest` already in `repository` (the event's `action` is "tag").

    Terraform sends it once the functions run the image: the tag then moves to the image in use,
    which the repository's lifecycle policy never expires.
    """

    repository: str
    tag: str
    digest: str

    @classmethod
    def parse(cls, event: object) -> TagRequest:
        fields = _object(event, "the event")
        if fields.get("action") != TAG_ACTION:
            _fail("action", f"expected {TAG_ACTION!r}, got {_shown(fields.get('action'))}")
        unknown = sorted(set(fields) - set(_TAG_FIELDS))
        if unknown:
            _fail(unknown[0], f"unknown field (expected {', '.join(_TAG_FIELDS)})")
        try:
            digest = checked_digest(fields.get("digest"), "digest")
        except ImageError as error:
            raise BuildRequestError(f"invalid builder event: {error}") from None
        return cls(
            repository=_text(fields, "repository"),
            tag=_text(fields, "tag", _TAG, "an image tag: letters, digits, '_', '.', '-', at most 128"),
            digest=digest,
        )


def is_tag_request(event: object) -> bool:
    """Whether the event asks to tag an image (TagRequest) rather than to build one."""
    return isinstance(event, dict) and "action" in event


def _reference(value: object) -> str:
    if not isinstance(value, str):
        _fail("base", f"expected an image reference string, got {_shown(value)}")
    try:
        parse_reference(value)
    except ImageError as error:
        _fail("base", str(error))
    return value


def _entrypoint(items: list[Any]) -> tuple[str, ...]:
    if not items:
        _fail("entrypoint", "expected the image's entry point, a non-empty list of strings")
    return tuple(_text_item(item, f"entrypoint[{n}]") for n, item in enumerate(items))


def _layer(value: object, where: str) -> StagedLayer:
    fields = _object(value, where)
    unknown = sorted(set(fields) - set(_LAYER_FIELDS))
    if unknown:
        _fail(f"{where}.{unknown[0]}", f"unknown field (expected {', '.join(_LAYER_FIELDS)})")
    size = fields.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        _fail(f"{where}.size", f"expected the blob's size in bytes, got {_shown(size)}")
    comment = fields.get("comment", "")
    if not isinstance(comment, str):
        _fail(f"{where}.comment", f"expected a string, got {_shown(comment)}")
    return StagedLayer(
        _s3_object(fields, where), _digest(fields, where, "digest"), _digest(fields, where, "diff_id"), size, comment
    )


def _digest(fields: Mapping[str, Any], where: str, name: str) -> str:
    try:
        return checked_digest(fields.get(name), f"{where}.{name}")
    except ImageError as error:
        raise BuildRequestError(f"invalid builder event: {error}") from None


def _s3_object(fields: Mapping[str, Any], where: str) -> S3Object:
    return S3Object(_text(fields, "bucket", where=where), _text(fields, "key", where=where))


def _environment(value: object) -> dict[str, str]:
    environment = _object(value, "environment")
    for name, setting in environment.items():
        if not _ENV_NAME.fullmatch(name) or not isinstance(setting, str):
            _fail(
                f"environment.{name}", f"expected a variable name without '=' and a string value, got {_shown(setting)}"
            )
    return dict(environment)


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(where, f"expected a JSON object, got {_shown(value)}")
    return value


def _list(fields: Mapping[str, Any], name: str) -> list[Any]:
    value = fields.get(name)
    if not isinstance(value, list):
        _fail(name, f"expected a list, got {_shown(value)}")
    return value


def _text(
    fields: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None, expected: str = "", where: str = ""
) -> str:
    return _text_item(fields.get(name), f"{where}.{name}" if where else name, pattern, expected)


def _text_item(value: object, where: str, pattern: re.Pattern[str] | None = None, expected: str = "") -> str:
    if not isinstance(value, str) or not value:
        _fail(where, f"expected a non-empty string, got {_shown(value)}")
    if pattern and not pattern.fullmatch(value):
        _fail(where, f"{value!r} is not {expected}")
    return value


def _shown(value: object) -> str:
    text = json.dumps(value, default=str) if value is not None else "nothing"
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(field: str, problem: str) -> NoReturn:
    raise BuildRequestError(f"invalid builder event: {field}: {problem}")

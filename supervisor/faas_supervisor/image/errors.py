"""Exceptions of image assembly; their messages name the image, registry or archive concerned."""

from __future__ import annotations

from faas_supervisor.errors import SupervisorError


class ImageError(SupervisorError):
    """Base class of every image assembly failure."""


class InvalidReference(ImageError):
    """An image reference (or a registry mirror URL) that cannot be parsed or is not allowed."""


class RegistryError(ImageError):
    """A registry refused a request or answered something unusable."""


class DigestMismatch(ImageError):
    """Content whose sha256 or size differs from the digest that names it."""


class PlatformNotFound(ImageError):
    """The image has no variant for the wanted architecture."""


class ArchiveError(ImageError):
    """An image archive (docker save or OCI layout) that is malformed or incomplete."""

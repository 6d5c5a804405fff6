"""Container images assembled at the registry API level, without Docker and without unpacking the base.

`assemble` pushes a base image (from a registry, a mirror or an archive) plus deterministic
layers as a single-platform image to a registry or to Amazon ECR; `read_image` reads a base
image's manifest, config and layers. Standard library and boto3 only, so the code runs in a
Lambda function from a plain zip.
"""

from faas_supervisor.image.assemble import AssembledImage, assemble
from faas_supervisor.image.auth import Credentials
from faas_supervisor.image.destination import Destination, RegistryDestination, TransferStats
from faas_supervisor.image.ecr import EcrDestination
from faas_supervisor.image.errors import (
    ArchiveError,
    DigestMismatch,
    ImageError,
    InvalidReference,
    PlatformNotFound,
    RegistryError,
)
from faas_supervisor.image.layer import Layer, LayerEntry, build_layer
from faas_supervisor.image.oci import Blob
from faas_supervisor.image.pull import read_image
from faas_supervisor.image.reference import Reference, parse_reference
from faas_supervisor.image.registry import RegistryClient
from faas_supervisor.image.source import ArchiveSource, ImageSource, RegistrySource, SourceImage

__all__ = [
    "ArchiveError",
    "ArchiveSource",
    "AssembledImage",
    "Blob",
    "Credentials",
    "Destination",
    "DigestMismatch",
    "EcrDestination",
    "ImageError",
    "ImageSource",
    "InvalidReference",
    "Layer",
    "LayerEntry",
    "PlatformNotFound",
    "Reference",
    "RegistryClient",
    "RegistryDestination",
    "RegistryError",
    "RegistrySource",
    "SourceImage",
    "TransferStats",
    "assemble",
    "build_layer",
    "parse_reference",
    "read_image",
]

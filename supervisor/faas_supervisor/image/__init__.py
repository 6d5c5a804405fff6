"""Container images assembled at the registry API level, without Docker and without unpacking the base.

`assemble` pushes a base image (from a registry, a mirror or an archive) plus deterministic
layers as a single-platform image to a registry or to Amazon ECR; `read_image` reads a base
image's manifest, config and layers. Standard library and boto3 only, so the code runs in a
Lambda function from a plain zip.

- `builder`: the image builder, the Lambda function Terraform invokes to assemble an image;
- `build_request`: the builder's event, parsed and checked before anything is read or pushed;
- `assemble`: a base image plus our layers, pushed blob by missing blob;
- `pull`: reading a base image from a registry (through a mirror for Docker Hub) or an archive;
- `base_record`: the base an image records in its config, so a rebuild on an unchanged base pulls nothing;
- `source`: base images to build on, what they hold and their blobs as verified streams;
- `archive`: `docker save` tars and OCI image layout tars, read without unpacking them;
- `archive_space`: the /tmp a build from an archive takes, and the builder's storage that holds it;
- `platform`: the linux/amd64 or linux/arm64 image of an index;
- `derive`: the new image's config and manifest, derived from the base's;
- `layer`: deterministic layers, the same entries always giving the same tar and digests;
- `destination`: where assembled images go, the interface, its counters and a registry;
- `ecr`: an Amazon ECR destination through the ECR API, with no registry login;
- `ecr_login`: ECR's registry token (GetAuthorizationToken) for bases in private ECR and ECR mirrors;
- `layer_bounds`: base layers read within bounds (sizes, members, headers, compression ratio), and
  the layer formats and image size Lambda accepts;
- `progress`: copy throughput, and the warning when a base would take longer than an invocation;
- `registry`: a client of the registry HTTP API v2, manifests and streamed blobs;
- `reference`: image references as Docker reads them, and the registry that serves each;
- `auth`: registry authentication, the Bearer token flow and Basic auth;
- `transport`: HTTP requests to registries, streamed bodies, redirects without credentials;
- `oci`: media types, descriptors, digests and canonical JSON;
- `errors`: the exceptions, naming the image, registry or archive concerned.
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

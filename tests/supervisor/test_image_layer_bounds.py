"""The builder refuses hostile base layers before they are stored, fast and in little memory; Lambda's layer rules.

Each hostile layer is built at test time (under 2 MB) and pushed to a real registry as the top
of a base image; a child process assembles a function image on it into a second registry, as
the builder does, and reports its error, time and peak memory. The refused layer and the
manifest must be absent from the destination afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from faas_supervisor.image import Layer, RegistryClient, RegistryError
from faas_supervisor.image.build_request import BuildRequest, BuildRequestError
from faas_supervisor.image.layer_bounds import LAMBDA_IMAGE_BYTES, LayerRefused, check_image_layers
from faas_supervisor.image.oci import DOCKER_LAYER_GZIP, OCI_LAYER_GZIP, OCI_MANIFEST, Blob

from tests import hostile_layers as hostile
from tests.helpers import LocalRegistry
from tests.supervisor.image_builders import base_config, busybox_layer, push_image

SECONDS = 5.0
PEAK_MB = 150  # the child's peak, Python and the imports included

# The child reads its peak RSS from VmHWM (ru_maxrss would start at the parent's size).
BUILD = """
import json, sys, time
from faas_supervisor.image import ImageError, LayerEntry, RegistryDestination, RegistrySource, assemble, build_layer

def peak_mb():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) // 1024

ours = [build_layer([LayerEntry("/opt/faas-render/bin/faas-supervisor", b"supervisor", 0o755)])]
source, destination = RegistrySource.parse(sys.argv[1]), RegistryDestination(sys.argv[2])
started, error = time.monotonic(), ""
try:
    assemble(source, destination, sys.argv[3], "v1", "x86_64", ours, ["/opt/faas-render/bin/faas-supervisor"], {},
             for_lambda=sys.argv[4] == "lambda")
except ImageError as refused:
    error = str(refused)
print(json.dumps({"error": error, "seconds": time.monotonic() - started, "peak_mb": peak_mb()}))
"""

BOMBS: dict[str, tuple[Callable[[], Layer], str]] = {
    "gzip bomb": (lambda: hostile.gzip_bomb(1, hostile.GIB), "(1073741824 bytes) brings what the layer unpacks to"),
    "sparse 200 GiB": (lambda: hostile.sparse_file(200 * hostile.GIB), "(214748364800 bytes)"),
    "1 GiB GNU long name": (lambda: hostile.long_name(hostile.GIB), "long name or link of 1073741824 bytes"),
    "256 MiB PAX header": (lambda: hostile.pax_header(256 * hostile.MIB), "PAX header of 268435456 bytes"),
    "zstd bytes under a gzip type": (hostile.zstd_layer, "zstd-compressed layer"),
}


@pytest.mark.parametrize("kind", list(BOMBS))
@pytest.mark.parametrize("runs_on", ["lambda", "batch"])
def test_a_hostile_base_layer_is_refused_before_it_is_stored(
    kind: str, runs_on: str, registry: LocalRegistry, other_registry: LocalRegistry
) -> None:
    make, message = BOMBS[kind]
    bomb = make()
    assert bomb.size < 2 * hostile.MIB
    layers = [busybox_layer(), bomb]
    base = f"bounds/{uuid.uuid4().hex[:8]}"
    push_image(RegistryClient(registry.url), base, "v1", layers, base_config("amd64", layers), OCI_MANIFEST)
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-c", BUILD, f"{registry.host}/{base}:v1", other_registry.host, repository, runs_on]
    child = subprocess.run(argv, capture_output=True, timeout=120, check=True)
    outcome = json.loads(child.stdout)
    assert f"base layer {bomb.digest}" in outcome["error"] and message in outcome["error"], outcome
    assert outcome["seconds"] < SECONDS and outcome["peak_mb"] < PEAK_MB, outcome
    destination = RegistryClient(other_registry.url)
    assert not destination.has_blob(repository, bomb.digest)
    assert destination.has_blob(repository, layers[0].digest)  # copied before the bomb was reached
    with pytest.raises(RegistryError):
        destination.get_manifest(repository, "v1")


def _blob(media_type: str, size: int = 1000) -> Blob:
    return Blob("sha256:" + uuid.uuid4().hex * 2, size, media_type)


def test_zstd_layers_are_refused_whoever_runs_the_image() -> None:
    zstd = _blob("application/vnd.oci.image.layer.v1.tar+zstd")
    for for_lambda in (True, False):
        with pytest.raises(LayerRefused, match=f"layer {zstd.digest} is zstd-compressed"):
            check_image_layers([_blob(OCI_LAYER_GZIP), zstd], for_lambda, "the image fn:v1")


def test_lambda_takes_gzip_layers_only() -> None:
    plain = _blob("application/vnd.oci.image.layer.v1.tar")
    check_image_layers([_blob(DOCKER_LAYER_GZIP), plain], False, "the image fn:v1")  # Batch reads plain tars
    with pytest.raises(LayerRefused, match="is application/vnd.oci.image.layer.v1.tar, and Lambda accepts gzip"):
        check_image_layers([_blob(DOCKER_LAYER_GZIP), plain], True, "the image fn:v1")


def test_a_lambda_image_over_10_gb_fails_before_anything_is_copied() -> None:
    layers = [_blob(OCI_LAYER_GZIP, 6 * 1024**3), _blob(OCI_LAYER_GZIP, 4 * 1024**3), _blob(OCI_LAYER_GZIP, 1)]
    check_image_layers(layers[:2], True, "the image fn:v1")  # exactly 10 GiB
    check_image_layers(layers, False, "the image fn:v1")  # Batch has no such limit
    expected = f"its 3 layers are {LAMBDA_IMAGE_BYTES + 1} bytes compressed, more than Lambda's image size limit"
    with pytest.raises(LayerRefused, match=expected):
        check_image_layers(layers, True, "the image fn:v1")


def test_the_builder_event_says_whether_lambda_runs_the_image() -> None:
    event = {
        "repository": "fn/x",
        "tag": "v1",
        "architecture": "x86_64",
        "base": "alpine:3.20",
        "layers": [],
        "entrypoint": ["/opt/faas-render/bin/faas-supervisor"],
    }
    assert not BuildRequest.parse(event).for_lambda
    assert BuildRequest.parse({**event, "lambda": True}).for_lambda
    with pytest.raises(BuildRequestError, match='lambda: expected true or false, got "yes"'):
        BuildRequest.parse({**event, "lambda": "yes"})

"""A 150 MB layer is copied between registries in constant memory (peak RSS measured in a child process)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

from faas_supervisor.image import RegistryClient
from faas_supervisor.image.oci import OCI_CONFIG, OCI_MANIFEST, Blob, canonical_json, sha256_digest

from tests.helpers import REPO, LocalRegistry

LAYER_MB = 150
PLAIN_LAYER = "application/vnd.oci.image.layer.v1.tar"  # uncompressed: gzipping 150 MB would dominate the test

# The child reads its peak RSS from VmHWM: ru_maxrss would start at the parent's size, since
# Linux carries the high-water mark of the memory a process had before exec over into it.
COPY = """
import json, sys, time
from faas_supervisor.image import LayerEntry, RegistryDestination, RegistrySource, assemble, build_layer

def peak_kb():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])

layers = [build_layer([LayerEntry("/opt/faas-render/bin/faas-supervisor", b"supervisor", 0o755)])]
source, destination = RegistrySource.parse(sys.argv[1]), RegistryDestination(sys.argv[2])
before, start = peak_kb(), time.monotonic()
image = assemble(source, destination, "fn/big", "v1", "x86_64", layers, ["/opt/faas-render/bin/faas-supervisor"], {})
print(json.dumps({"before_kb": before, "peak_kb": peak_kb(), "seconds": time.monotonic() - start,
                  "bytes_sent": image.stats.bytes_sent}))
"""


def big_layer(folder: Path) -> tuple[Path, Blob]:
    """A tar holding one file of random bytes, written and hashed in 1 MB chunks."""
    data = folder / "data.bin"
    with data.open("wb") as out:
        for _ in range(LAYER_MB):
            out.write(os.urandom(1024 * 1024))
    layer = folder / "layer.tar"
    with tarfile.open(layer, "w") as archive:
        archive.add(data, "data.bin")
    data.unlink()
    digest = hashlib.sha256()
    with layer.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return layer, Blob("sha256:" + digest.hexdigest(), layer.stat().st_size, PLAIN_LAYER)


def push_big_base(registry: LocalRegistry, folder: Path) -> str:
    layer, blob = big_layer(folder)
    client, repository = RegistryClient(registry.url), f"big/{uuid.uuid4().hex[:8]}"
    with layer.open("rb") as stream:
        client.push_blob(repository, blob, iter(lambda: stream.read(1024 * 1024), b""))
    config = canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [blob.digest]},
        }
    )
    config_blob = Blob(sha256_digest(config), len(config), OCI_CONFIG)
    client.push_blob(repository, config_blob, [config])
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_blob.descriptor(),
        "layers": [blob.descriptor()],
    }
    client.put_manifest(repository, "v1", canonical_json(manifest), OCI_MANIFEST)
    layer.unlink()
    return f"{registry.host}/{repository}:v1"


def test_a_150_mb_layer_is_copied_with_a_small_constant_memory(
    registry: LocalRegistry, other_registry: LocalRegistry, tmp_path: Path
) -> None:
    reference = push_big_base(registry, tmp_path)
    run = subprocess.run(
        [sys.executable, "-c", COPY, reference, other_registry.host],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    measured = json.loads(run.stdout)
    assert measured["bytes_sent"] > LAYER_MB * 1024 * 1024
    peak_mb, growth_mb = measured["peak_kb"] / 1024, (measured["peak_kb"] - measured["before_kb"]) / 1024
    print(
        f"\n{LAYER_MB} MB layer copied in {measured['seconds']:.1f} s: peak RSS {peak_mb:.0f} MB (+{growth_mb:.1f} MB during the copy)"
    )
    assert growth_mb < 20
    assert peak_mb < LAYER_MB / 4

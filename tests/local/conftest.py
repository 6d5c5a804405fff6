"""The workflow of tests/local/faas_local.py applied to a `faas local` process, once for the folder; an unpacked busybox root."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from faas_supervisor.image import read_image

from render.local.execution.rootfs import unpack_image
from tests.helpers import Mirror
from tests.local.faas_local import COUNT, FDL, UPPER, Running, applied_locally
from tests.local.images import archive_image
from tests.supervisor.image_builders import busybox_layer


@pytest.fixture(scope="package")
def running(tmp_path_factory: pytest.TempPathFactory, mirror: Mirror, frozen_supervisor: Path) -> Iterator[Running]:
    """The functions run in their images (alpine:3.20 from the mirror, with the real supervisor)."""
    work = tmp_path_factory.mktemp("local-service")
    files = {"fdl.yaml": FDL, "upper.sh": UPPER, "count.sh": COUNT}
    with applied_locally(work, files, mirror.url, frozen_supervisor) as local:
        yield Running(local.endpoint, local.pid, local.log, work / "root")


@pytest.fixture(scope="session")
def busybox_root() -> Iterator[Path]:
    """A busybox image unpacked in a folder anyone can read (proot runs as nobody)."""
    top = Path(tempfile.mkdtemp(prefix="faas-rootfs-"))
    top.chmod(0o755)
    with read_image(archive_image(top / "image.tar", [busybox_layer()]), "x86_64") as image:
        yield unpack_image(image, top / "cache").root
    shutil.rmtree(top)

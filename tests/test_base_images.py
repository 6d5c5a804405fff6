"""The stand-ins for Docker Hub's base images (tools/base_images.py): built from Debian packages, the
same digests at each build, served by a registry mirror, and running in the local sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faas_supervisor.image import RegistrySource, read_image

from render.local.execution import sandbox
from tests.helpers import Mirror
from tools import base_images


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        sandbox.detect()
    except sandbox.SandboxUnavailable as error:
        pytest.skip(str(error))
    return tmp_path_factory.mktemp("images")


def test_both_images_are_in_the_mirror_under_docker_hub_names_and_labelled_as_stand_ins(mirror: Mirror) -> None:
    assert sorted(mirror.images) == [base_images.ALPINE, base_images.PYTHON]
    for name, pushed in mirror.images.items():
        with read_image(RegistrySource.parse(f"docker.io/library/{name}", mirror=mirror.url), "x86_64") as image:
            assert image.manifest["config"]["digest"] and image.config["architecture"] == "amd64"
            labels = image.config["config"]["Labels"]
            assert labels["org.opencontainers.image.description"].startswith(
                f"faas-render stand-in for {name}, built from Debian busybox-static "
            )
        assert pushed.repository == "library/" + name.partition(":")[0]
    alpine, python = (mirror.images[name] for name in (base_images.ALPINE, base_images.PYTHON))
    assert python.size > alpine.size


def test_a_second_build_gives_the_same_digests(mirror: Mirror, tmp_path: Path) -> None:
    """The layers are built again from the same .debs (a cache without layers), into the same registry."""
    for cached in [*mirror.cache.glob("*.deb"), mirror.cache / "resolved"]:
        (tmp_path / cached.name).symlink_to(cached)
    again = base_images.build_and_push(mirror.url, cache=tmp_path)
    assert {image.name: image.digest for image in again} == {
        name: image.digest for name, image in mirror.images.items()
    }
    assert len(list((tmp_path / "layers").glob("*.tar.gz"))) == 2


def test_sh_and_busybox_tools_run_in_the_alpine_stand_in(mirror: Mirror, work: Path) -> None:
    output = base_images.run_in_image(
        mirror.url, base_images.ALPINE, ["sh", "-c", "echo hi | tr a-z A-Z; ls -ld /tmp"], work
    )
    assert output.splitlines()[0] == "HI"
    assert output.splitlines()[1].startswith("drwxrwxrwt")


def test_python3_runs_the_examples_imports_in_the_python_stand_in(mirror: Mirror, work: Path) -> None:
    script = "import json, fractions, struct, sys; print(json.dumps([str(fractions.Fraction(3, 6)), struct.calcsize('<I'), sys.version_info[0]]))"
    output = base_images.run_in_image(mirror.url, base_images.PYTHON, ["python3", "-c", script], work)
    assert json.loads(output) == ["1/2", 4, 3]
    # The scripts of examples/video-process are shell scripts that call python3.
    output = base_images.run_in_image(
        mirror.url,
        base_images.PYTHON,
        ["sh", "-c", "echo 7 | python3 -c 'import sys; print(int(sys.stdin.read()) * 6)'"],
        work,
    )
    assert output == "42\n"

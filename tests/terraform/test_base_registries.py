"""The image builder's grant to pull bases from ECR, and its registry mirror, as faas-render writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from render.terraform.base_registries import base_repositories
from tests.helpers import render, requires_terraform, terraform

CACHE = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub"
PRIVATE = "210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/base:1.0"

FDL = """\
functions:
  aws:
  - lambda:
      name: private
      init_script: run.sh
      container: {image: "PRIVATE"}
  - lambda:
      name: hub
      init_script: run.sh
      container: {image: "alpine:3.20"}
  - lambda:
      name: hub-again
      init_script: run.sh
      container: {image: "alpine:3.21"}
""".replace("PRIVATE", PRIVATE)


def _fdl(tmp_path: Path) -> Path:
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    fdl = tmp_path / "bases.yaml"
    fdl.write_text(FDL)
    return fdl


def _builder_block(root: Path) -> str:
    return (root / "main.tf").read_text().split('module "image_builder" {', 1)[1].split("\n}\n", 1)[0]


def test_each_ecr_repository_a_base_comes_from_is_granted_once() -> None:
    assert base_repositories([PRIVATE, "alpine:3.20", "alpine:3.21", "grycap/cowsay"], CACHE) == [
        {"account_id": "123456789012", "region": "us-east-1", "name": "docker-hub/grycap/cowsay", "pull_through": True},
        {
            "account_id": "123456789012",
            "region": "us-east-1",
            "name": "docker-hub/library/alpine",
            "pull_through": True,
        },
        {"account_id": "210987654321", "region": "eu-west-1", "name": "team/base", "pull_through": False},
    ]
    # Without a mirror Docker Hub needs no grant; a mirror that is not ECR needs none either.
    assert base_repositories(["alpine", "ghcr.io/o/x"], None) == []
    assert base_repositories(["alpine"], "https://mirror.gcr.io") == []


@requires_terraform()
def test_the_rendered_builder_gets_the_mirror_and_exactly_the_bases_repositories(tmp_path: Path) -> None:
    root = tmp_path / "out"
    assert render(_fdl(tmp_path), root, "--registry-mirror", CACHE) == 0
    block = _builder_block(root)
    assert f'"FAAS_REGISTRY_MIRROR" = "{CACHE}"' in block
    assert block.count("account_id") == 2 and '"docker-hub/library/alpine"' in block and '"team/base"' in block
    assert terraform(root, "fmt", "-check", "-recursive", check=False).returncode == 0
    terraform(root, "init", "-backend=false", "-input=false")
    terraform(root, "validate")


def test_without_a_mirror_only_private_ecr_bases_are_granted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAAS_REGISTRY_MIRROR", raising=False)
    assert render(_fdl(tmp_path), tmp_path / "out") == 0
    block = _builder_block(tmp_path / "out")
    assert "FAAS_REGISTRY_MIRROR" not in block and block.count("account_id") == 1 and '"team/base"' in block


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ("http://mirror.example.com", "plain HTTP"),
        ("https://mirror.example.com/Docker-Hub", "must be lowercase"),
        ("https://mirror.example.com/hub?x=1", "expected http"),
    ],
)
def test_a_mirror_the_builder_cannot_use_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mirror: str, message: str
) -> None:
    assert render(_fdl(tmp_path), tmp_path / "out", "--registry-mirror", mirror) == 2
    error = capsys.readouterr().err
    assert "command line: --registry-mirror:" in error and message in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()

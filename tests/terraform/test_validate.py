"""The rendered roots and the modules as Terraform sees them: fmt, validate, the SCAR corpus."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from render.fdl.load import load_deployment
from render.fdl.settings import load_settings
from render.terraform.output_dir import write_root
from render.terraform.root_module import render_root
from tests.helpers import (
    EXAMPLE_FILES,
    NETWORK_CONFIG,
    REPO,
    SCAR_CORPUS,
    fargate_fdl,
    render,
    requires_terraform,
    terraform,
    write_bundle,
)

pytestmark = [requires_terraform(), pytest.mark.terraform]

# Files of SCAR's corpus that use features faas-render refuses, and the feature each names.
REFUSED = {
    "cowsay__scar-minicow.yaml": "container.image_file",
    "fdl-example.yaml": "unknown key",
    "mpi__lambda.yaml": "run_script",
}


def test_modules_are_fmt_clean() -> None:
    result = terraform(REPO / "modules", "fmt", "-check", "-recursive", "-list=true", check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("module", ["batch", "failures", "iam", "image", "image-builder", "lambda", "storage"])
def test_module_validates(module: str, tmp_path: Path) -> None:
    copy = tmp_path / module
    shutil.copytree(REPO / "modules" / module, copy, ignore=shutil.ignore_patterns(".terraform*"))
    terraform(copy, "init", "-backend=false", "-input=false")
    terraform(copy, "validate")


@pytest.mark.parametrize("example", sorted(EXAMPLE_FILES))
def test_example_validates_and_is_fmt_clean(example: str, tmp_path: Path) -> None:
    assert render(EXAMPLE_FILES[example], tmp_path, "--config", str(NETWORK_CONFIG)) == 0
    assert terraform(tmp_path, "fmt", "-check", "-recursive", check=False).returncode == 0
    terraform(tmp_path, "init", "-backend=false", "-input=false")
    terraform(tmp_path, "validate")


def _with_placeholder_scripts(source: Path, folder: Path) -> Path:
    """Copy a corpus file and create the scripts it names (SCAR's repo has them; we don't)."""
    copy = folder / source.name
    shutil.copy(source, copy)
    for script in re.findall(r"init_script:\s*(\S+)", source.read_text()):
        path = folder / script.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\necho placeholder\n")
    return copy


@pytest.mark.parametrize("name", sorted(p.name for p in SCAR_CORPUS.glob("*.yaml")) if SCAR_CORPUS.is_dir() else [])
def test_scar_corpus_renders_and_validates_or_is_refused_clearly(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fdl = _with_placeholder_scripts(SCAR_CORPUS / name, tmp_path)
    text = fdl.read_text().replace("init_script: /tmp/", "init_script: tmp/")
    text = text.replace("image: <DockerHub repo/image>", "image: alpine")  # SCAR's MPI example leaves it to fill in
    fdl.write_text(text)
    out = tmp_path / "out"
    status = render(fdl, out, "--config", str(NETWORK_CONFIG))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if name in REFUSED:
        assert status == 2
        assert REFUSED[name] in err, err
        assert not out.exists()
        return
    assert status == 0, err
    assert len(load_settings(fdl, [], []).functions) == (out / "main.tf").read_text().count(
        'source = "./modules/lambda"'
    )
    terraform(out, "init", "-backend=false", "-input=false")
    terraform(out, "validate")


# Names Lambda takes and ECR does not: their repositories must still pass the image module's check.
ODD_NAMES = """\
functions:
  aws:
""" + "".join(
    f"""\
  - lambda:
      name: {name}
      init_script: run.sh
      container: {{image: alpine}}
      input: [{{storage_provider: s3, path: odd-names/in{index}}}]
"""
    for index, name in enumerate(["fn__x-", "_lead", "a--b", "Upper_Case-2"])
)


def test_function_names_ecr_refuses_still_validate(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    fdl = tmp_path / "Odd--Names.yaml"
    fdl.write_text(ODD_NAMES)
    out = tmp_path / "out"
    assert render(fdl, out) == 0
    main_tf = (out / "main.tf").read_text()
    names = re.findall(r'repository_name += "([^"]+)"', main_tf)
    assert len(names) == len(set(names)) == 4, names
    terraform(out, "init", "-backend=false", "-input=false")
    validated = terraform(out, "validate", "-no-color", check=False)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_an_arm64_fargate_root_validates(tmp_path: Path) -> None:
    """The checkout may hold no arm64 supervisor: a stand-in bundle is enough for Terraform."""
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    fdl = tmp_path / "fargate.yaml"
    fdl.write_text(fargate_fdl("m7g"))
    deployment, _ = load_deployment(fdl, use_scar_config=False)
    rendered = render_root(
        deployment,
        module_source=lambda name: f"./modules/{name}",
        supervisor_bundle=lambda arch: write_bundle(tmp_path / f"supervisor-{arch}.tar", arch.encode()),
    )
    out = tmp_path / "out"
    write_root(out, rendered.main_tf, rendered.artifacts, copy_modules=True)
    assert 'architecture       = "arm64"' in rendered.main_tf
    terraform(out, "init", "-backend=false", "-input=false")
    validated = terraform(out, "validate", "-no-color", check=False)
    assert validated.returncode == 0, validated.stdout + validated.stderr

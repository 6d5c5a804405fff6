"""The rendered roots and the modules as Terraform sees them: fmt, validate, the SCAR corpus."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from render.fdl.settings import load_settings
from tests.helpers import EXAMPLE_FILES, NETWORK_CONFIG, REPO, SCAR_CORPUS, render, requires_terraform, terraform

pytestmark = [requires_terraform(), pytest.mark.terraform]

# Files of SCAR's corpus that use features faas-render refuses, and the feature each names.
REFUSED = {
    "cowsay__scar-minicow.yaml": "container.image_file",
    "fdl-example.yaml": "unknown key",
    "mpi__batch.yaml": "multi-node parallel jobs are not supported",
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

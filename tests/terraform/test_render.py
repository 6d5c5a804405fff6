"""Rendering: golden main.tf files, byte-identical re-renders, escaping, and what each mode gets."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_FILES, NETWORK_CONFIG, render

GOLDEN = Path(__file__).parent / "golden"


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("example", sorted(EXAMPLE_FILES))
def test_examples_match_golden_files(example: str, tmp_path: Path) -> None:
    assert render(EXAMPLE_FILES[example], tmp_path, "--config", str(NETWORK_CONFIG)) == 0
    rendered = (tmp_path / "main.tf").read_text()
    golden = GOLDEN / f"{example}.main.tf"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(rendered)
    assert rendered == golden.read_text(), f"re-run with UPDATE_GOLDEN=1 after reviewing the diff of {golden.name}"


def test_rerender_is_byte_identical_from_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fdl = EXAMPLE_FILES["video-process"]
    first, second = tmp_path / "first", tmp_path / "second" / "nested"
    assert render(fdl, first, "--config", str(NETWORK_CONFIG)) == 0
    monkeypatch.chdir(fdl.parent)
    assert render(Path(fdl.name), second, "--config", str(NETWORK_CONFIG)) == 0
    assert tree(first) == tree(second)
    assert render(fdl, first, "--config", str(NETWORK_CONFIG)) == 0  # over an existing render
    assert tree(first) == tree(second)


def test_lambda_zip_is_deterministic_and_holds_supervisor_config_and_script(tmp_path: Path) -> None:
    assert render(EXAMPLE_FILES["hello"], tmp_path) == 0
    archive = zipfile.ZipFile(io.BytesIO((tmp_path / "artifacts/lambda/hello.zip").read_bytes()))
    names = archive.namelist()
    assert names == sorted(names)
    assert "function_config.json" in names and "hello.sh" in names
    assert "faas_supervisor/lambda_function.py" in names
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert archive.getinfo("hello.sh").external_attr >> 16 & 0o777 == 0o755


def test_lambda_mode_gets_no_batch_resources(tmp_path: Path) -> None:
    assert render(EXAMPLE_FILES["hello"], tmp_path) == 0
    main_tf = (tmp_path / "main.tf").read_text()
    assert "modules/batch" not in main_tf and "_artifacts" not in main_tf
    assert not (tmp_path / "artifacts" / "faas-supervisor").exists()


def test_batch_script_and_config_are_staged_not_embedded(tmp_path: Path) -> None:
    assert render(EXAMPLE_FILES["plant-classification"], tmp_path, "--config", str(NETWORK_CONFIG)) == 0
    main_tf = (tmp_path / "main.tf").read_text()
    assert (tmp_path / "artifacts/functions/plant-classification/classify.sh").is_file()
    assert (tmp_path / "artifacts/functions/plant-classification/function_config.json").is_file()
    assert "deepaas-cli" not in main_tf  # the script travels by S3 reference only
    assert 'key         = "functions/plant-classification/classify.sh"' in main_tf


SHARED = """\
functions:
  aws:
{items}
"""
ITEM = """\
  - lambda:
      name: {name}
      execution_mode: batch
      container:
        image: alpine
        environment:
          Variables:
            TEMPLATE: "${{HOME}} and %{{ if x }} stay literal"
      input:
      - storage_provider: s3
        path: shared-bucket/{name}-in
    batch:
      enable_gpu: {gpu}
      compute_resources:
        instance_types: [{types}]
"""


def test_functions_share_a_compute_profile_and_gpu_gets_its_own(tmp_path: Path) -> None:
    items = "".join(
        [
            ITEM.format(name="a", gpu="false", types="m6i"),
            ITEM.format(name="b", gpu="false", types="m6i"),
            ITEM.format(name="c", gpu="true", types="g4dn"),
        ]
    )
    fdl = tmp_path / "shared.yaml"
    fdl.write_text(SHARED.format(items=items))
    out = tmp_path / "out"
    assert render(fdl, out, "--config", str(NETWORK_CONFIG)) == 0
    main_tf = (out / "main.tf").read_text()
    assert main_tf.count('source = "./modules/batch"') == 2
    assert "# Batch compute profile shared by: a, b." in main_tf
    assert "enable_gpu         = true" in main_tf and "gpus         = 1" in main_tf
    assert main_tf.count('source = "./modules/storage"') == 1
    assert main_tf.count('bucket        = "shared-bucket"') == 3  # three triggers, one storage module
    # user strings cannot become Terraform interpolations or directives
    assert '"$${HOME} and %%{ if x } stay literal"' in main_tf


def test_changing_compute_settings_keeps_the_profile_module(tmp_path: Path) -> None:
    """The queue stays put: only the compute environment behind it is replaced."""
    fdl = tmp_path / "shared.yaml"
    rendered = []
    for types in ("m6i", "c7i"):
        fdl.write_text(SHARED.format(items=ITEM.format(name="a", gpu="false", types=types)))
        assert render(fdl, tmp_path / types, "--config", str(NETWORK_CONFIG)) == 0
        rendered.append((tmp_path / types / "main.tf").read_text())
    assert 'module "batch_a" {' in rendered[0] and 'module "batch_a" {' in rendered[1]
    assert 'name               = "shared-a"' in rendered[1]
    assert '["m6i"]' in rendered[0] and '["c7i"]' in rendered[1]

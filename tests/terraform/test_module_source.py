"""--module-source: registry and git sources in main.tf, validation, modules/ ownership, a real git init."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from render.fdl.errors import FdlError
from render.terraform.module_source import ModuleSource, parse_module_source
from tests.helpers import EXAMPLE_FILES, NETWORK_CONFIG, REPO, render, requires_terraform, terraform

VIDEO = EXAMPLE_FILES["video-process"]
REGISTRY = "app.terraform.io/acme/faas-render/aws"
GIT = "git::https://github.com/acme/faas-render.git?ref=v1.2.0"
# Module blocks in the order main.tf lists them for video-process: storage, the image builder, the
# Batch profile, then image, iam and lambda per function.
MODULES = ["storage", "failures", "image-builder", "batch", "image", "iam", "lambda", "image", "iam", "lambda"]


def module_source_lines(main_tf: str) -> list[str]:
    """The source/version lines of the module blocks (not those of required_providers)."""
    blocks = re.findall(r'^module "[^"]+" \{\n((?:  (?:source|version) +=.*\n)+)', main_tf, flags=re.MULTILINE)
    return [line.strip() for block in blocks for line in block.splitlines()]


def render_video(output: Path, *extra: str) -> int:
    return render(VIDEO, output, "--config", str(NETWORK_CONFIG), *extra)


@pytest.mark.parametrize(
    ("text", "version", "expected_source", "expected_version"),
    [
        (REGISTRY, "1.2.0", f"{REGISTRY}//modules/lambda", "1.2.0"),
        ("acme/faas-render/aws", "0.1.0-rc.1", "acme/faas-render/aws//modules/lambda", "0.1.0-rc.1"),
        (GIT, None, "git::https://github.com/acme/faas-render.git//modules/lambda?ref=v1.2.0", None),
        (
            "git::ssh://git@example.com/acme/faas-render.git",
            "v2.0.0",
            "git::ssh://git@example.com/acme/faas-render.git//modules/lambda?ref=v2.0.0",
            None,
        ),
        (
            "git::git@github.com:acme/faas-render.git?ref=v1.2.0&depth=1",
            None,
            "git::git@github.com:acme/faas-render.git//modules/lambda?ref=v1.2.0&depth=1",
            None,
        ),
        (
            "git::file:///srv/git/faas-render.git?ref=v1.2.0",
            None,
            "git::file:///srv/git/faas-render.git//modules/lambda?ref=v1.2.0",
            None,
        ),
    ],
)
def test_sources_name_the_module_folder(
    text: str, version: str | None, expected_source: str, expected_version: str | None
) -> None:
    source = parse_module_source(text, version)
    assert source.source("lambda") == expected_source
    assert source.version == expected_version
    assert not source.copies_modules


def test_default_is_the_local_copy() -> None:
    assert parse_module_source(None, None) == ModuleSource()
    assert ModuleSource().source("iam") == "./modules/iam" and ModuleSource().copies_modules


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--module-source", REGISTRY], "--module-version: a registry source needs an exact version"),
        (["--module-source", REGISTRY, "--module-version", "v1.2.0"], "tag v1.2.0 is version 1.2.0 in a registry"),
        (["--module-source", REGISTRY, "--module-version", "~> 1.2"], "is not an exact version such as 1.2.0"),
        (["--module-version", "1.2.0"], "--module-version: needs --module-source"),
        (["--module-source", REGISTRY, "--module-version", ""], "--module-version: is empty"),
        (
            ["--module-source", "github.com/acme/faas-render/aws", "--module-version", "1.2.0"],
            "use git::https://github.com/acme/faas-render.git?ref=TAG",
        ),
        (["--module-source", "git::https://github.com/acme/faas-render.git"], "is not pinned: add ?ref=TAG"),
        (["--module-source", "git::https://github.com/acme/faas-render.git//modules?ref=v1"], "names a subdirectory"),
        (["--module-source", GIT, "--module-version", "v2.0.0"], "already pins ref=v1.2.0"),
        (["--module-source", "git::not a url?ref=v1"], "is not a git source"),
        (["--module-source", "../faas-render"], "is not a module source: expected a registry address"),
        (["--module-source", "acme/faas-render"], "is not a module source"),
    ],
)
def test_bad_sources_are_refused_and_nothing_is_written(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert render_video(out, *arguments) == 2
    err = capsys.readouterr().err
    assert "nothing was written" in err and message in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_parse_errors_name_the_flag() -> None:
    with pytest.raises(FdlError) as raised:
        parse_module_source("https://example.com/x.zip", None)
    assert raised.value.problems[0][0].file == "--module-source"


def test_registry_source_golden_lines(tmp_path: Path) -> None:
    assert render_video(tmp_path, "--module-source", REGISTRY, "--module-version", "1.2.0") == 0
    lines = module_source_lines((tmp_path / "main.tf").read_text())
    expected = []
    for module in MODULES:
        expected += [f'source  = "{REGISTRY}//modules/{module}"', 'version = "1.2.0"']
    assert lines == expected
    assert not (tmp_path / "modules").exists()
    assert (tmp_path / "artifacts" / "lambda" / "video-split.zip").is_file()


def test_git_source_golden_lines(tmp_path: Path) -> None:
    assert render_video(tmp_path, "--module-source", GIT) == 0
    lines = module_source_lines((tmp_path / "main.tf").read_text())
    assert lines == [
        f'source = "git::https://github.com/acme/faas-render.git//modules/{module}?ref=v1.2.0"' for module in MODULES
    ]
    assert not (tmp_path / "modules").exists()


def test_local_source_lines_are_unchanged(tmp_path: Path) -> None:
    assert render_video(tmp_path) == 0
    assert module_source_lines((tmp_path / "main.tf").read_text()) == [
        f'source = "./modules/{module}"' for module in MODULES
    ]


def test_switching_to_a_remote_source_removes_only_our_modules_copy(tmp_path: Path) -> None:
    assert render_video(tmp_path) == 0
    assert (tmp_path / "modules" / "lambda" / "main.tf").is_file()
    assert render_video(tmp_path, "--module-source", GIT) == 0
    assert not (tmp_path / "modules").exists()
    # A modules/ folder the user adds next to a root with a remote source is theirs.
    mine = tmp_path / "modules" / "mine" / "main.tf"
    mine.parent.mkdir(parents=True)
    mine.write_text("# mine\n")
    assert render_video(tmp_path, "--module-source", GIT) == 0
    assert mine.read_text() == "# mine\n"


def test_local_render_refuses_a_modules_folder_it_did_not_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert render_video(tmp_path, "--module-source", GIT) == 0
    mine = tmp_path / "modules" / "mine" / "main.tf"
    mine.parent.mkdir(parents=True)
    mine.write_text("# mine\n")
    capsys.readouterr()
    assert render_video(tmp_path) == 2
    assert "does not belong to a faas-render root" in capsys.readouterr().err
    assert mine.read_text() == "# mine\n"


def git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=faas-render tests", "-c", "user.email=tests@example.invalid", *args],
        cwd=directory,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def tagged_bare_repository(tmp_path: Path) -> Path:
    """A bare git repository holding modules/ at tag v0.1.0, as a published repository would."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "work"
    shutil.copytree(REPO / "modules", work / "modules", ignore=shutil.ignore_patterns(".terraform*"))
    git(work, "init", "--quiet", "--initial-branch=main")
    git(work, "add", "modules")
    git(work, "commit", "--quiet", "-m", "modules")
    git(work, "tag", "v0.1.0")
    bare = tmp_path / "faas-render.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(work), str(bare))
    return bare


@requires_terraform()
@pytest.mark.terraform
def test_root_with_git_source_initialises_and_validates(tagged_bare_repository: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert (
        render_video(root, "--module-source", f"git::file://{tagged_bare_repository}", "--module-version", "v0.1.0")
        == 0
    )
    assert not (root / "modules").exists()
    init = terraform(root, "init", "-backend=false", "-input=false")
    assert "Downloading git::file://" in init.stdout
    terraform(root, "validate")

"""The documentation's maps of the repository stay true: they name what is on disk, and count nothing.

- Package docstrings: every module of every package under render/ and supervisor/faas_supervisor/
  (a subpackage is a module of its parent) is named in its package's `__init__.py` docstring.
- bench/README.md has a row for every `bench/*_bench.py`, and none for a script that is gone.
- README.md's table of Terraform modules has a row for every folder of modules/, and no
  documentation or test docstring counts modules in words or digits.
- The version is written once, in setup.cfg (see the version tests for what else is checked).

Pure Python and only the files themselves: nothing is imported but `render`, nothing is run.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import render

REPO = Path(__file__).resolve().parent.parent
# Import name -> folder of the packages whose docstrings map their modules.
ROOTS = {"render": REPO / "render", "faas_supervisor": REPO / "supervisor" / "faas_supervisor"}


def _holds_python(folder: Path) -> bool:
    return folder.name != "__pycache__" and any(folder.glob("*.py"))


def _packages() -> dict[str, Path]:
    """Every package under ROOTS by its dotted name; a folder of .py files without __init__.py counts too."""
    found: dict[str, Path] = {}
    for name, root in ROOTS.items():
        for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
            if folder == root or _holds_python(folder):
                found[".".join((name, *folder.relative_to(root).parts))] = folder
    return found


PACKAGES = _packages()


def _modules(folder: Path) -> list[str]:
    """The modules of a package: its .py files but __init__.py, and its subpackages."""
    files = [p.stem for p in folder.glob("*.py") if p.name != "__init__.py"]
    subpackages = [p.name for p in folder.iterdir() if p.is_dir() and _holds_python(p)]
    return sorted(files + subpackages)


def _docstring(path: Path) -> str:
    if not path.is_file():
        return ""
    return ast.get_docstring(ast.parse(path.read_text(), str(path))) or ""


def _code_spans(text: str) -> list[str]:
    """The contents of `single` and ``double`` backtick spans, which may wrap lines."""
    return [m.group(2).strip() for m in re.finditer(r"(`+)(.+?)\1", text, re.DOTALL)]


def _names(span: str, package: str, module: str) -> bool:
    """A span names a module as `module`, `module.py`, `module/`, or by its dotted name (`pkg.module.attr`)."""
    qualified = f"{package}.{module}"
    return span in (module, f"{module}.py", f"{module}/", qualified) or span.startswith(f"{qualified}.")


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_docstring_names_every_module(package: str) -> None:
    """Only code spans count: plain words such as `errors`, `model` or `run` turn up in any prose."""
    folder = PACKAGES[package]
    spans = _code_spans(_docstring(folder / "__init__.py"))
    missing = [m for m in _modules(folder) if not any(_names(span, package, m) for span in spans)]
    assert not missing, (
        f"{package}: the docstring of {folder.relative_to(REPO)}/__init__.py does not name "
        f"{', '.join(missing)}; name each module in backticks (`{missing[0]}`) with what it does"
    )


def test_bench_readme_has_a_row_per_benchmark() -> None:
    readme = (REPO / "bench" / "README.md").read_text()
    rows = re.findall(r"^\| `([\w.-]+_bench\.py)` \|", readme, re.MULTILINE)
    scripts = sorted(p.name for p in (REPO / "bench").glob("*_bench.py"))
    assert sorted(rows) == scripts, "bench/README.md's table of scripts and bench/*_bench.py differ"


def test_readme_has_a_row_per_terraform_module() -> None:
    """README.md's table under "Published modules": one row per folder of modules/, linking its README."""
    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| \[`([\w-]+)`\]\(modules/\1/README\.md\) \|", readme, re.MULTILINE)
    folders = sorted(p.name for p in (REPO / "modules").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert sorted(rows) == folders, "README.md's table of Terraform modules and the folders of modules/ differ"


NUMBER = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d+)"
# "the six modules", "four Terraform modules", "7 published modules" (not "one of the modules").
COUNTED_MODULES = re.compile(rf"\b{NUMBER}(?:\s+(?!of\b)[\w-]+){{0,2}}?\s+modules\b", re.IGNORECASE)
# A number standing for what it counts: "all four at once", "runs all six that way", "all seven."
# ("all four public access blocks" counts something named right after it, and is left alone).
FUNCTION_WORDS = r"at|of|that|this|in|on|are|were|is|run|runs|together|and|or|with|modules|terraform|published"
ALL_OF_A_COUNT = re.compile(
    rf"\ball\s+{NUMBER}\b(?!\s+(?!(?:{FUNCTION_WORDS})\b)[a-z])",
    re.IGNORECASE,
)


def _markdown_docs() -> list[Path]:
    """The repository's Markdown documentation, but CHANGELOG.md (which records what was true then)."""
    found = [*REPO.glob("*.md"), *REPO.glob("*/README.md"), *REPO.glob("*/*/README.md")]
    return sorted(
        p
        for p in found
        if p.name != "CHANGELOG.md" and not any(part.startswith(".") for part in p.relative_to(REPO).parts)
    )


def _test_docstrings(patterns: tuple[re.Pattern[str], ...]) -> Iterator[tuple[str, str]]:
    """(where, docstring) of every module, class and function of tests/ whose file matches a pattern."""
    for path in sorted((REPO / "tests").rglob("*.py")):
        text = path.read_text()
        if not any(pattern.search(text) for pattern in patterns):
            continue
        tree = ast.parse(text, str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                docstring = ast.get_docstring(node)
                if docstring:
                    line = getattr(node, "lineno", 1)
                    yield f"{path.relative_to(REPO)}:{line}", docstring


def test_no_prose_counts_the_modules() -> None:
    """Counts go stale when a module is added: name the modules, or say "every module"."""
    patterns = (COUNTED_MODULES, ALL_OF_A_COUNT)
    texts = [(str(p.relative_to(REPO)), p.read_text()) for p in _markdown_docs()]
    found = [
        f"{where}: {' '.join(match.group(0).split())!r}"
        for where, text in [*texts, *_test_docstrings(patterns)]
        for pattern in patterns
        for match in pattern.finditer(text)
    ]
    assert not found, "counts in prose:\n" + "\n".join(found)


def _setup_cfg_version() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "setup.cfg")
    return parser["metadata"]["version"]


def test_installed_version_is_setup_cfgs() -> None:
    """`render.__version__` reads the installed metadata, which the dev install took from setup.cfg."""
    version = _setup_cfg_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    assert importlib.metadata.version("faas-render") == version, "reinstall: pip install -e ."
    assert render.__version__ == version


def test_no_python_source_hard_codes_the_version() -> None:
    """No module assigns a literal `__version__` (but render's "0.0.0" when not installed), and the
    shipped code (render/, supervisor/faas_supervisor/) holds no string equal to the version."""
    version = _setup_cfg_version()
    shipped = (REPO / "render", REPO / "supervisor" / "faas_supervisor")
    found = []
    for folder in ("render", "supervisor", "tools", "bench", "tests"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text()
            is_shipped = any(path.is_relative_to(root) for root in shipped)
            if "__version__" not in text and not (is_shipped and version in text):
                continue
            for node in ast.walk(ast.parse(text, str(path))):
                where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    named = any(isinstance(t, ast.Name) and t.id == "__version__" for t in targets)
                    if named and node.value.value != "0.0.0":
                        found.append(f"{where}: __version__ = {node.value.value!r}")
                if is_shipped and isinstance(node, ast.Constant) and node.value in (version, f"v{version}"):
                    found.append(f"{where}: {node.value!r}")
    assert not found, "the version is setup.cfg's alone:\n" + "\n".join(found)


def test_docs_name_the_version_only_in_version_constraints() -> None:
    """In the Markdown docs and the modules' examples, setup.cfg's version appears only in examples
    of pinning a release (`~> X.Y.Z`, `>= X.Y.Z`, `?ref=vX.Y.Z`), never as "the current version"."""
    version = _setup_cfg_version()
    literal = re.compile(rf"(?<![\w.])(v?){re.escape(version)}(?!\w|\.\d)")
    files = [*_markdown_docs(), *sorted((REPO / "modules").glob("*/examples/*/*.tf"))]
    found = []
    for path in files:
        text = path.read_text()
        for match in literal.finditer(text):
            before = text[max(0, match.start() - 8) : match.start()]
            pinned = re.search(r"(~>|>=)\s*$", before) or (match.group(1) and before.endswith("ref="))
            if not pinned:
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(REPO)}:{line}: {match.group(0)}")
    assert not found, "the version outside a version constraint:\n" + "\n".join(found)
    pyproject = (REPO / "pyproject.toml").read_text()
    assert not re.search(r"^version\s*=", pyproject, re.MULTILINE), "pyproject.toml sets a version"


def test_changelog_agrees_with_setup_cfg() -> None:
    """CHANGELOG.md may name the version: its newest release heading (`## [X.Y.Z]`) is setup.cfg's
    version, as the release steps of VERSIONING.md set both; before any release, the [Unreleased]
    section names the tag to come (`vX.Y.Z`), which is setup.cfg's."""
    version = _setup_cfg_version()
    changelog = (REPO / "CHANGELOG.md").read_text()
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, re.MULTILINE)
    if released:
        assert released[0] == version, f"newest release in CHANGELOG.md is {released[0]}, setup.cfg says {version}"
    else:
        unreleased = changelog.partition("## [Unreleased]")[2].split("\n## ", 1)[0]
        assert f"`v{version}`" in unreleased, f"CHANGELOG.md's [Unreleased] does not name the tag to come, v{version}"

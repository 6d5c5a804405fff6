"""Hostile YAML is refused fast, in little memory, with a located message and exit status 2.

Every input is built at test time: an alias bomb ("billion laughs", under 1 KB), 10,000 levels of
nesting, a 2 MiB document and a document of 150,000 nodes. Each goes through every place a YAML is
read (the FDL of `faas-render` and of `faas diagram`, `--config`, ~/.scar/scar.cfg, `--set`), each
run in its own process under a 1 GiB address-space limit and a 10 s timeout; the process measures
its own peak memory growth and the time its command took. The two that no command line can carry
(a `--set` value of 2 MiB or of 150,000 nodes) go to the `--set` parser in this process.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from render.fdl import yaml_source
from render.fdl.yaml_source import MAX_BYTES, MAX_DEPTH, MAX_NODES
from tests.helpers import SCAR_CORPUS

ADDRESS_SPACE = 1 << 30  # a bound that fails the test instead of taking the machine's memory
TIMEOUT = 10  # seconds: a bound, not a measurement; refusals take well under a second
MAX_GROWTH_KIB = 100 * 1024  # peak memory growth allowed while the command runs

OK_FDL = "functions:\n  aws:\n  - lambda:\n      name: ok\n      init_script: ok.sh\n      container: {image: alpine}\n"
USE_FDL = "functions: {aws: [{lambda: {name: x, init_script: ok.sh, container: {environment: {Variables: {V: *i}}}}}]}"
USE_CONFIG = "aws: {lambda: {container: {environment: {Variables: {V: *i}}}}}"

# Runs one command and writes its exit status, seconds and peak memory growth (KiB) as JSON.
DRIVER = """
import json, resource, sys, time
if sys.argv[2] == "faas":
    from render.faas_cli import main
else:
    from render.cli import main
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
code = main(sys.argv[3:])
seconds = time.perf_counter() - start
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "seconds": seconds, "growth_kib": growth}, out)
"""


def bomb_rows() -> list[str]:
    """Nine levels of nine aliases: 387 million paths once expanded."""
    rows = ["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    for previous, current in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{current}: &{current} [" + ",".join([f"*{previous}"] * 9) + "]")
    return rows


def hostile(kind: str, role: str) -> tuple[str, int, str]:
    """A hostile document for a file in `role` ("fdl" or "config"): its text, the line of the
    refusal and the words of the message."""
    if kind == "bomb":  # the count passes the limit at the second *e on line 6
        use = USE_FDL if role == "fdl" else USE_CONFIG
        return "\n".join([*bomb_rows(), use]) + "\n", 6, f"aliases expand the document to more than {MAX_NODES} nodes"
    if kind == "deep":
        return "x: " + "[" * 10_000 + "]" * 10_000 + "\n", 1, f"nested more than {MAX_DEPTH} levels deep"
    if kind == "big":
        text = "x:\n" + ("- " + "y" * 1000 + "\n") * 2100  # valid YAML, 2100 nodes: only its size is wrong
        return text, text.count("\n", 0, MAX_BYTES) + 1, f"the file is more than {MAX_BYTES} bytes"
    # wide: the root, the key and the list are nodes 1 to 3; item k is node k + 3, on line k + 1
    return "x:\n" + "- 0\n" * 150_000, MAX_NODES - 1, f"more than {MAX_NODES} nodes (limit {MAX_NODES})"


def run(tmp_path: Path, program: str, *args: str, home: Path | None = None) -> tuple[dict[str, float], str]:
    """One command in a bounded process: its measurements and its stderr."""
    results = tmp_path / "results.json"
    env = {**os.environ, "HOME": str(home)} if home else None

    def bound() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    command = [sys.executable, "-c", DRIVER, str(results), program, *args]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, preexec_fn=bound, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(results.read_text()), done.stderr


def assert_refused(measured: dict[str, float], stderr: str, where: str, words: str, tmp_path: Path) -> None:
    assert measured["code"] == 2, stderr
    assert measured["growth_kib"] < MAX_GROWTH_KIB, measured
    header, message, *rest = stderr.splitlines()
    assert "1 problem(s), nothing was written" in header
    assert message.startswith(f"{where}: ") and words in message and message.endswith(": refused"), message
    assert not rest, stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "ok.yaml").write_text(OK_FDL)
    (tmp_path / "ok.sh").write_text("echo ok\n")
    return tmp_path


@pytest.mark.parametrize("kind", ["bomb", "deep", "big", "wide"])
@pytest.mark.parametrize("entry", ["faas-render FDL", "faas diagram FDL", "--config", "scar.cfg"])
def test_hostile_file_is_refused_fast_and_small(kind: str, entry: str, workdir: Path, isolated_home: Path) -> None:
    text, line, words = hostile(kind, "fdl" if "FDL" in entry else "config")
    name = "hostile.yaml"
    home = None
    if entry == "scar.cfg":
        target = isolated_home / ".scar" / "scar.cfg"
        target.parent.mkdir()
        target.write_text(text)
        name, home = str(target), isolated_home
    else:
        (workdir / name).write_text(text)
    args = {
        "faas-render FDL": ["faas-render", name, "-o", "out", "--no-scar-config"],
        "faas diagram FDL": ["faas", "diagram", name, "--no-scar-config"],
        "--config": ["faas-render", "ok.yaml", "-o", "out", "--no-scar-config", "--config", name],
        "scar.cfg": ["faas-render", "ok.yaml", "-o", "out"],
    }[entry]
    measured, stderr = run(workdir, *args, home=home)
    assert_refused(measured, stderr, f"{name}:{line}", words, workdir)


@pytest.mark.parametrize("kind", ["bomb", "deep"])
def test_hostile_set_value_is_refused_fast_and_small(kind: str, workdir: Path) -> None:
    value = "{" + ", ".join(bomb_rows()) + "}" if kind == "bomb" else "[" * 10_000 + "]" * 10_000
    words = hostile(kind, "config")[2]
    key = "lambda.container.environment.Variables"
    measured, stderr = run(
        workdir, "faas-render", "ok.yaml", "-o", "out", "--no-scar-config", "--set", f"{key}={value}"
    )
    assert_refused(measured, stderr, f"--set: {key}", words, workdir)


@pytest.mark.parametrize("kind", ["big", "wide"])
def test_set_values_too_long_for_a_command_line_are_bounded_too(kind: str) -> None:
    """Linux passes at most 128 KiB in one argument, so these two go straight to the parser."""
    from render.fdl.errors import FdlError
    from render.fdl.overrides import parse_override

    value = "y" * (MAX_BYTES + 1) if kind == "big" else "[" + ",".join(["0"] * 150_000) + "]"
    with pytest.raises(FdlError) as refused:
        parse_override(f"lambda.description={value}")
    assert refused.value.format().startswith("--set: lambda.description: ")
    assert refused.value.format().endswith(": refused")


@pytest.mark.parametrize("loader", ["libyaml", "pure Python"])
@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("x: " + "[" * 10_000 + "]" * 10_000, 1, f"nested more than {MAX_DEPTH} levels deep"),
        ("x:\n" + "".join(" " * i + "- \n" for i in range(0, 400, 2)), 65, f"nested more than {MAX_DEPTH} levels"),
        (
            "x: &x [" + "[" * 40 + "]" * 40 + "]\ny: &y [[[[[[[[[[[[[[[[[[[[[[[[[[*x]]]]]]]]]]]]]]]]]]]]]]]]]]",
            2,
            "alias *x",
        ),
        ("a: &a [1, *a]", 1, "alias *a refers to a node that contains it"),
        ("\n".join(bomb_rows()), 6, f"aliases expand the document to more than {MAX_NODES} nodes"),
    ],
    ids=["deep flow", "deep block", "deep through an alias", "cycle", "bomb"],
)
def test_both_parsers_refuse_before_building(
    loader: str, text: str, line: int, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With libyaml or without it: no RecursionError, no expansion, the line of the refusal."""
    from render.fdl.errors import FdlError

    if loader == "pure Python":
        monkeypatch.setattr(yaml_source, "SafeLoader", yaml_source.yaml.SafeLoader)
    source = tmp_path / "f.yaml"
    source.write_text(text + "\n")
    with pytest.raises(FdlError) as refused:
        yaml_source.load_document(source, "f.yaml")
    assert re.match(rf"f\.yaml:{line}: .*{re.escape(words)}.*: refused$", refused.value.format()), refused.value


def test_anchors_and_merge_keys_within_the_limits_still_work(tmp_path: Path) -> None:
    source = tmp_path / "f.yaml"
    source.write_text(
        "defaults: &defaults {memory: 1024, timeout: 60}\nfunctions:\n  aws:\n"
        "  - lambda: {<<: *defaults, name: a}\n  - lambda: {name: b, environment: {Variables: *defaults}}\n"
    )
    document = yaml_source.load_document(source, "f.yaml")
    items = document.data["functions"]["aws"]
    assert items[0]["lambda"] == {"memory": 1024, "timeout": 60, "name": "a"}
    assert items[1]["lambda"]["environment"]["Variables"] == document.data["defaults"]
    # a value reached through an alias is located where it is written
    assert document.location(("functions", "aws", 1, "lambda", "environment", "Variables", "timeout")).line == 1


@pytest.mark.parametrize("name", sorted(p.name for p in SCAR_CORPUS.glob("*.yaml")) if SCAR_CORPUS.is_dir() else [])
def test_every_scar_example_loads_as_before(name: str) -> None:
    """SCAR's examples are far inside the limits and load to what PyYAML alone makes of them."""
    source = SCAR_CORPUS / name
    assert yaml_source.load_document(source).data == yaml_source.yaml.safe_load(source.read_text())

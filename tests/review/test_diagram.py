"""`faas diagram`: the graph of a deployment as Mermaid, DOT and (with Graphviz) an image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from render.faas_cli import main as faas
from render.fdl.resolve import resolve
from render.fdl.settings import load_settings
from render.review.diagram import Edge, Graph, Node, build_graph, to_dot, to_mermaid
from tests.helpers import EXAMPLE_FILES, NETWORK_CONFIG, REPO

VIDEO = EXAMPLE_FILES["video-process"]

VIDEO_MERMAID = """\
---
title: video-process (us-east-1)
---
flowchart LR
  subgraph b0["bucket video-process-123456789012"]
    b0_0[("input/")]
    b0_1[("frames/")]
    b0_2[("output/")]
  end
  subgraph batch["AWS Batch"]
    q0[["job queue video-split<br/>EC2, up to 2 vCPUs"]]
  end
  f0("video-split<br/>batch")
  f1("frame-stats<br/>lambda")
  b0_0 -->|"triggers"| f0
  f0 -->|"*.ppm"| b0_1
  f0 -.->|"submits jobs"| q0
  b0_1 -->|"triggers"| f1
  f1 --> b0_2
"""

# Two functions sharing one compute profile, an API Gateway, an existing bucket read whole, and
# an output folder nested inside another function's input folder.
SHARED = """\
functions:
  aws:
  - lambda:
      name: ingest
      init_script: run.sh
      input:
      - {storage_provider: s3, path: archive}
      output:
      - {storage_provider: s3, path: work/in/raw, prefix: [part-], suffix: [.csv, .tsv]}
    api_gateway: {name: ingest-api, stage_name: prod}
  - lambda:
      name: crunch
      init_script: run.sh
      execution_mode: batch
      container: {image: alpine}
      input:
      - {storage_provider: s3, path: work/in}
      output:
      - {storage_provider: s3, path: work/out}
  - lambda:
      name: crunch-gpu
      init_script: run.sh
      execution_mode: lambda-batch
      container: {image: alpine}
      input:
      - {storage_provider: s3, path: work/gpu}
    batch: {enable_gpu: true}
  - lambda:
      name: crunch-more
      init_script: run.sh
      execution_mode: batch
      container: {image: alpine}
      input:
      - {storage_provider: s3, path: work/more}
buckets:
  archive: {existing: true}
"""


def faas_diagram(*args: str) -> int:
    return faas(["diagram", *args])


def test_video_process_as_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert faas_diagram(str(VIDEO), "--config", str(NETWORK_CONFIG)) == 0
    assert capsys.readouterr().out == VIDEO_MERMAID


@pytest.fixture
def shared_fdl(tmp_path: Path) -> Path:
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    fdl = tmp_path / "shared.yaml"
    fdl.write_text(SHARED)
    return fdl


def test_queues_are_shared_and_chains_show(shared_fdl: Path) -> None:
    graph = build_graph(resolve(load_settings(shared_fdl, [NETWORK_CONFIG], [], use_scar_config=False)))
    labels = {node.id: node.label for cluster in graph.clusters for node in cluster.nodes}
    labels |= {node.id: node.label for node in graph.nodes}
    edges = {(labels[e.source], labels[e.target], e.label, e.dashed) for e in graph.edges}
    assert [c.label for c in graph.clusters] == ["bucket archive (existing)", "bucket work", "AWS Batch"]
    queues = [n.label for n in graph.clusters[-1].nodes]
    assert len(queues) == 2 and sum("GPU" in q for q in queues) == 1
    cpu_queue = next(q for q in queues if "GPU" not in q)
    assert ("crunch\nbatch", cpu_queue, "submits jobs", True) in edges
    assert ("crunch-more\nbatch", cpu_queue, "submits jobs", True) in edges  # one queue, two functions
    assert ("(whole bucket)", "ingest\nlambda", "triggers", False) in edges
    assert ("ingest\nlambda", "in/raw/", "part-*.csv, part-*.tsv", False) in edges
    assert ("in/raw/", "in/", "inside", True) in edges  # writing in/raw triggers crunch
    assert ("in/", "crunch\nbatch", "triggers", False) in edges
    assert ("API ingest-api\nstage prod", "ingest\nlambda", "HTTP", False) in edges


def test_labels_are_escaped() -> None:
    graph = Graph(
        'a "quoted" <title> & #1;',
        [],
        [Node("f0", 'say "hi"\n<b>&#35;', "function"), Node("f1", "back\\slash", "function")],
        [Edge("f0", "f1", 'x"y', dashed=True)],
    )
    mermaid = to_mermaid(graph)
    assert 'f0("say #quot;hi#quot;<br/>#lt;b#gt;#amp;#35;35;")' in mermaid
    assert 'f0 -.->|"x#quot;y"| f1' in mermaid
    assert "title: a #quot;quoted#quot; #lt;title#gt; #amp; #35;1;" in mermaid
    dot = to_dot(graph)
    assert '"f0" [label="say \\"hi\\"\\n<b>&#35;",' in dot
    assert '"f1" [label="back\\\\slash",' in dot
    assert '"f0" -> "f1" [label="x\\"y", style=dashed];' in dot


def test_markdown_and_dot_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    markdown, dot = tmp_path / "deployment.md", tmp_path / "deployment.gv"
    assert faas_diagram(str(VIDEO), "--config", str(NETWORK_CONFIG), "-o", str(markdown)) == 0
    assert markdown.read_text() == f"```mermaid\n{VIDEO_MERMAID}```\n"
    assert faas_diagram(str(VIDEO), "--config", str(NETWORK_CONFIG), "-o", str(dot)) == 0
    assert faas_diagram(str(VIDEO), "--config", str(NETWORK_CONFIG), "--format", "dot") == 0
    printed = capsys.readouterr().out
    assert dot.read_text() == printed and printed.startswith('digraph "video-process (us-east-1)" {')


def test_invalid_fdl_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "deployment.md"
    assert faas_diagram(str(VIDEO), "-o", str(output)) == 2  # Batch needs network settings
    err = capsys.readouterr().err
    assert "batch.compute_resources.subnets" in err and "Traceback" not in err
    assert not output.exists()


def test_mermaid_images_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "deployment.png"
    assert faas_diagram(str(VIDEO), "--config", str(NETWORK_CONFIG), "--format", "mermaid", "-o", str(output)) == 2
    assert "drawn by Graphviz" in capsys.readouterr().err
    assert not output.exists()


def test_image_without_graphviz_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert faas_diagram(str(VIDEO), "--config", str(NETWORK_CONFIG), "-o", str(tmp_path / "d.svg")) == 1
    assert "needs Graphviz's `dot`" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_image_through_graphviz(suffix: str, magic: bytes, tmp_path: Path) -> None:
    image = tmp_path / f"deployment{suffix}"
    assert faas_diagram(str(VIDEO), "--config", str(NETWORK_CONFIG), "-o", str(image)) == 0
    assert image.read_bytes().startswith(magic)


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        faas_diagram("--help")
    assert exited.value.code == 0
    assert "--format {mermaid,dot}" in capsys.readouterr().out


def test_readme_shows_the_current_picture_of_video_process() -> None:
    assert f"```mermaid\n{VIDEO_MERMAID}```" in (REPO / "README.md").read_text()


def test_a_multi_node_function_shows_its_node_count(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    fdl = tmp_path / "mpi.yaml"
    fdl.write_text(
        SHARED.replace(
            "      - {storage_provider: s3, path: work/more}\n",
            "      - {storage_provider: s3, path: work/more}\n"
            "    batch: {multi_node_parallel: {enabled: true, number_nodes: 4}}\n",
        )
    )
    graph = build_graph(resolve(load_settings(fdl, [NETWORK_CONFIG], [], use_scar_config=False)))
    labels = [node.label for node in graph.nodes]
    assert "crunch-more\nbatch, 4 nodes" in labels and "crunch\nbatch" in labels

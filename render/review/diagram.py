"""A picture of a deployment: functions, buckets and their folders, triggers, outputs, Batch queues.

`build_graph` turns a resolved Deployment into a small graph; `to_mermaid` and `to_dot` write it
as Mermaid (rendered by GitHub and GitLab in Markdown) or Graphviz DOT. Folders are grouped by
bucket; an output folder that is another function's input shows the workflow as a chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faas_supervisor.contract import S3Location

from render.fdl.model import ComputeProfile, Deployment, Function, Output

FUNCTION, FOLDER, QUEUE, API = "function", "folder", "queue", "api"


@dataclass(frozen=True)
class Node:
    id: str
    label: str  # lines separated by "\n"
    kind: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class Cluster:
    id: str
    label: str
    nodes: list[Node] = field(default_factory=list)


@dataclass
class Graph:
    title: str
    clusters: list[Cluster]
    nodes: list[Node]
    edges: list[Edge]


def build_graph(deployment: Deployment) -> Graph:
    buckets: dict[str, Cluster] = {}
    folders: dict[S3Location, str] = {}

    def folder(location: S3Location) -> str:
        if location not in folders:
            bucket = deployment.buckets.get(location.bucket)
            if location.bucket not in buckets:
                existing = " (another account)" if bucket is None else " (existing)" if bucket.existing else ""
                buckets[location.bucket] = Cluster(f"b{len(buckets)}", f"bucket {location.bucket}{existing}")
            cluster = buckets[location.bucket]
            node = Node(f"{cluster.id}_{len(cluster.nodes)}", _folder_label(location), FOLDER)
            cluster.nodes.append(node)
            folders[location] = node.id
        return folders[location]

    queues = Cluster("batch", "AWS Batch")
    queue_ids = {}
    for key, profile in deployment.profiles.items():
        node = Node(f"q{len(queues.nodes)}", _queue_label(key, profile), QUEUE)
        queues.nodes.append(node)
        queue_ids[key] = node.id

    nodes: list[Node] = []
    edges: list[Edge] = []
    for number, function in enumerate(deployment.functions):
        nodes_label = f", {function.batch.nodes} nodes" if function.batch and function.batch.nodes > 1 else ""
        node = Node(f"f{number}", f"{function.name}\n{function.execution_mode}{nodes_label}", FUNCTION)
        nodes.append(node)
        for location in function.inputs:
            edges.append(Edge(folder(location), node.id, "triggers"))
        for output in function.outputs:
            edges.append(Edge(node.id, folder(output.location), _filter_label(output)))
        if function.batch:
            edges.append(
                Edge(node.id, queue_ids[deployment.profile_name(function.batch.profile)], "submits jobs", dashed=True)
            )
        if function.api_gateway:
            api = Node(f"a{number}", f"API {function.api_gateway.name}\nstage {function.api_gateway.stage_name}", API)
            nodes.append(api)
            edges.append(Edge(api.id, node.id, "HTTP"))
    edges += _nested_outputs(deployment.functions, folders)
    clusters = [*buckets.values(), *([queues] if queues.nodes else [])]
    return Graph(f"{deployment.name} ({deployment.region})", clusters, nodes, edges)


def _folder_label(location: S3Location) -> str:
    return f"{location.key_prefix}/" if location.key_prefix else "(whole bucket)"


def _queue_label(key: str, profile: ComputeProfile) -> str:
    gpu = ", GPU" if profile.enable_gpu else ""
    return f"job queue {key}\n{profile.compute_type}, up to {profile.max_vcpus} vCPUs{gpu}"


def _filter_label(output: Output) -> str:
    """Which files go there: `result-*.txt` for prefix result- and suffix .txt."""
    prefixes, suffixes = output.prefix or ("",), output.suffix or ("",)
    patterns = [f"{p}*{s}" for p in prefixes for s in suffixes]
    return "" if patterns == ["*"] else ", ".join(patterns)


def _nested_outputs(functions: list[Function], folders: dict[S3Location, str]) -> list[Edge]:
    """Dashed edges from an output folder into the input folder that contains it (a trigger fires)."""
    inputs = {location for f in functions for location in f.inputs}
    outputs = {o.location for f in functions for o in f.outputs}
    return [
        Edge(folders[inner], folders[outer], "inside", dashed=True)
        for inner in sorted(outputs)
        for outer in sorted(inputs)
        if inner != outer and inner.overlaps(outer) and len(inner.key_prefix) > len(outer.key_prefix)
    ]


MERMAID_SHAPES = {FUNCTION: '("{}")', FOLDER: '[("{}")]', QUEUE: '[["{}"]]', API: '{{{{"{}"}}}}'}


def to_mermaid(graph: Graph) -> str:
    lines = ["---", f"title: {_mermaid_text(graph.title)}", "---", "flowchart LR"]
    for cluster in graph.clusters:
        lines.append(f'  subgraph {cluster.id}["{_mermaid_text(cluster.label)}"]')
        lines += [f"    {_mermaid_node(node)}" for node in cluster.nodes]
        lines.append("  end")
    lines += [f"  {_mermaid_node(node)}" for node in graph.nodes]
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


def _mermaid_node(node: Node) -> str:
    return node.id + MERMAID_SHAPES[node.kind].format(_mermaid_text(node.label))


def _mermaid_text(text: str) -> str:
    """Mermaid entity codes for the characters its quoted labels cannot hold; <br/> for lines."""
    escaped = text.replace("#", "#35;")
    for character, code in (('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("&", "#amp;")):
        escaped = escaped.replace(character, code)
    return escaped.replace("\n", "<br/>")


DOT_SHAPES = {
    FUNCTION: 'shape=box, style="rounded,filled", fillcolor="#fff3d6"',
    FOLDER: 'shape=cylinder, style=filled, fillcolor="#e3f0ff"',
    QUEUE: 'shape=box3d, style=filled, fillcolor="#e8f5e0"',
    API: 'shape=hexagon, style=filled, fillcolor="#f3e5f5"',
}


def to_dot(graph: Graph) -> str:
    lines = [
        f"digraph {_dot_text(graph.title)} {{",
        f"  label={_dot_text(graph.title)};",
        "  labelloc=t;",
        "  rankdir=LR;",
        '  fontname="Helvetica";',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for cluster in graph.clusters:
        lines += [f"  subgraph {_dot_text('cluster_' + cluster.id)} {{", f"    label={_dot_text(cluster.label)};"]
        lines += [f"    {_dot_node(node)}" for node in cluster.nodes]
        lines.append("  }")
    lines += [f"  {_dot_node(node)}" for node in graph.nodes]
    for edge in graph.edges:
        attributes = [f"label={_dot_text(edge.label)}"] if edge.label else []
        attributes += ["style=dashed"] if edge.dashed else []
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  {_dot_text(edge.source)} -> {_dot_text(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(node: Node) -> str:
    return f"{_dot_text(node.id)} [label={_dot_text(node.label)}, {DOT_SHAPES[node.kind]}];"


def _dot_text(text: str) -> str:
    """A DOT quoted string: backslashes and quotes escaped, lines centred."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

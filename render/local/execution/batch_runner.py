"""Run a submitted AWS Batch job on this machine the way a Batch host would run it: in its image.

The job's definition decides what runs: its image (read back and unpacked by
render/local/execution/deployed_images.py; the image's entry point is the supervisor), the image's entry
point followed by the job's command (the job's override, else the definition's, else the image's
Cmd), the image's environment, the definition's, the job's overrides (FAAS_EVENT /
FAAS_EVENT_URI) and the variables Batch adds (AWS_BATCH_JOB_ID, ...), plus the region, endpoint
and credentials of local mode. Its vCPU and memory requirements are applied as limits where the
sandbox (render/local/execution/sandbox.py) can; the definition's attempt duration is its timeout. Its log
goes to the job's log stream in /aws/batch/job, where `faas job` finds it.

What a job wrote is what changed in its function's output folders while it ran; when jobs writing
there run side by side, each new object is counted once, for the first of them to finish.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faas_supervisor import contract
from faas_supervisor.contract import S3Location

from render.aws.connection import Aws
from render.aws.deployed import load_config, output_locations, read_s3_uri
from render.local.execution.cgroups import SandboxProcess
from render.local.execution.deployed_images import LocalImages
from render.local.execution.errors import LocalError
from render.local.execution.image_runner import image_environment
from render.local.execution.network import Network
from render.local.execution.process import LOGGED, Log, kill_group, now_ms, put_log, run_logged
from render.local.execution.role_credentials import RoleCredentials
from render.local.execution.sandbox import RunSpec, Sandbox

BATCH_TMP_MB = 10_240  # a Batch host's disk is large: /tmp (on disk, not memory) is bounded only by this
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
MAIN_NODE_ADDRESS = "127.0.0.1"  # the nodes of a multi-node job share one network here


def requirement(properties: dict[str, Any], container: dict[str, Any], kind: str) -> float | None:
    """The job's VCPU or MEMORY requirement (its override, else the definition's), as a number."""
    for source in (container, properties):
        for entry in source.get("resourceRequirements") or []:
            if entry.get("type") == kind:
                return float(entry["value"])
    legacy = properties.get("vcpus" if kind == "VCPU" else "memory")
    return float(legacy) if legacy else None


def _prefixed(echo: Callable[[str], None] | None, node: _Node) -> Callable[[str], None] | None:
    """A node's echo: its lines marked with its index (a single-node job's as they are)."""
    if echo is None or node.index is None:
        return echo
    return lambda line: echo(f"node {node.index}: {line}")


def architecture(properties: dict[str, Any]) -> str:
    """The job's CPU architecture: the definition's runtime platform, else this machine's."""
    named = str((properties.get("runtimePlatform") or {}).get("cpuArchitecture") or platform.machine()).lower()
    return ARCHITECTURES.get(named, named)


@dataclass(frozen=True)
class NodeRun:
    index: int
    returncode: int
    seconds: float
    stopped: bool = False  # still running when the main node ended the job

    @property
    def outcome(self) -> str:
        if self.stopped:
            return "stopped: the main node ended the job"
        if self.returncode:
            return f"FAILED (exit status {self.returncode}) after {self.seconds:.1f} s"
        return f"succeeded in {self.seconds:.1f} s"


@dataclass(frozen=True)
class JobRun:
    job_id: str
    returncode: int  # a multi-node job's: its main node's, as Batch decides the job's status
    seconds: float
    uploaded: list[str]  # s3:// URIs of the objects the job wrote
    log: Log
    nodes: list[NodeRun] = field(default_factory=list)  # a multi-node parallel job's, by index

    @property
    def failed_nodes(self) -> list[NodeRun]:
        return [node for node in self.nodes if node.returncode != 0 and not node.stopped]


@dataclass(frozen=True)
class _Node:
    """One container of the job: the only one, or one node of a multi-node parallel job."""

    index: int | None  # None: a single-node job
    properties: dict[str, Any]  # the container properties it runs with
    variables: dict[str, str]  # what Batch tells this node


def nodes_of(job: dict[str, Any], definition: dict[str, Any]) -> tuple[list[_Node], int]:
    """The job's containers and the index of the one whose exit decides the job (0 for single-node jobs).

    A multi-node job's nodes run what the job's nodeProperties say (the emulator applies the job's
    overrides there), with Batch's node variables; the main node's address is 127.0.0.1, where the
    nodes of one job reach each other here (they share one network).
    """
    if definition.get("type") != "multinode":
        return [_Node(None, definition["containerProperties"], {})], 0
    properties = job.get("nodeProperties") or definition["nodeProperties"]
    count, main = int(properties["numNodes"]), int(properties["mainNode"])
    nodes = []
    for index in range(count):
        variables = {
            contract.NODE_INDEX: str(index),
            contract.NUM_NODES: str(count),
            contract.MAIN_NODE_INDEX: str(main),
            "AWS_BATCH_JOB_ID": f"{job['jobId']}#{index}",
        }
        if index != main:
            variables[contract.MAIN_NODE_ADDRESS] = MAIN_NODE_ADDRESS
        nodes.append(_Node(index, node_container(properties, index), variables))
    return nodes, main


def node_container(properties: dict[str, Any], index: int) -> dict[str, Any]:
    """The container properties of the node range holding node `index` ("0:", "2", ":3", "1:4")."""
    last = int(properties["numNodes"]) - 1
    for node_range in properties["nodeRangeProperties"]:
        start, colon, end = str(node_range["targetNodes"]).partition(":")
        low = int(start or 0)
        high = (int(end) if end else last) if colon else low
        if low <= index <= high:
            return dict(node_range["container"])
    raise LocalError(f"no node range of the job's nodeProperties holds node {index}")


class BatchRunner:
    """Runs jobs in their images, in `sandbox` (else in the one detected), with scratch folders in `workdir`."""

    def __init__(self, aws: Aws, images: LocalImages, sandbox: Callable[[], Sandbox], workdir: Path) -> None:
        self.aws, self.images, self.workdir = aws, images, workdir
        self.credentials = RoleCredentials(aws)
        self._sandbox = sandbox
        self._lock = threading.Lock()
        self._counted: set[tuple[str, str]] = set()  # (URI, version) of the objects counted as written

    def run(
        self,
        job_id: str,
        echo: Callable[[str], None] | None = None,
        node_ended: Callable[[NodeRun], None] | None = None,
        started: Callable[[], None] | None = None,
    ) -> JobRun:
        """Run the job to its end, every node of a multi-node job at once; `echo` sees its log lines as
        they come, `node_ended` each node of a multi-node job as it ends, `started` is called once
        every node has started."""
        batch = self.aws.client("batch")
        jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
        if not jobs:
            raise LocalError(f"no Batch job {job_id}")
        job = jobs[0]
        definition = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
        nodes, main = nodes_of(job, definition)
        timeout = (definition.get("timeout") or {}).get("attemptDurationSeconds")
        outputs = self.outputs(self._environment(nodes[0].properties, job.get("container", {})))
        before = self.snapshot(outputs)
        log = Log(echo)
        running: list[tuple[_Node, SandboxProcess]] = []
        # One network namespace for the job (where the sandbox has them): its nodes reach each other on its loopback.
        network = self._sandbox().own_network(self.aws.process_environment())
        try:  # a multi-node job's nodes start together
            for node in nodes:
                running.append((node, self._start(job, node, network)))
            if started:
                started()
        except BaseException:
            for _, process in running:
                kill_group(process)
                process.wait()
            if network:
                network.close()
            raise
        try:
            with ThreadPoolExecutor(len(nodes)) as pool:
                stopped: set[int] = set()
                ends = [
                    pool.submit(self._follow, node, process, Log(_prefixed(echo, node)), timeout, node_ended, stopped)
                    for node, process in running
                ]
                ends[main].result()
                for node, process in running:  # the main node's exit ends the job: Batch stops the other nodes
                    if process.poll() is None:
                        stopped.add(node.index or 0)
                        kill_group(process)
                runs = [end.result() for end in ends]
        finally:
            if network:
                network.close()
        multi_node = len(nodes) > 1
        lines = [
            (at, f"node {node.index}: {text}" if multi_node else text)
            for (node, _), (_, node_log) in zip(running, runs, strict=True)
            for at, text in node_log.lines
        ]
        log.lines.extend(sorted(lines, key=lambda line: line[0]))
        stream = job.get("container", {}).get("logStreamName") or f"{definition['jobDefinitionName']}/default/{job_id}"
        put_log(self.aws.client("logs"), contract.BATCH_LOG_GROUP, stream, log.lines)
        after = self.snapshot(outputs)
        with self._lock:
            new = {(uri, tag) for uri, tag in after.items() if before.get(uri) != tag} - self._counted
            self._counted |= new
        uploaded = sorted(uri for uri, _ in new)
        node_runs = [run[0] for run in runs] if multi_node else []
        decisive = runs[main][0]
        seconds = max(run[0].seconds for run in runs)
        return JobRun(job_id, decisive.returncode, seconds, uploaded, log, node_runs)

    @staticmethod
    def _environment(properties: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
        """The job definition's environment with the job's overrides (FAAS_EVENT / FAAS_EVENT_URI)."""
        environment = {e["name"]: e["value"] for e in properties.get("environment", [])}
        environment.update({e["name"]: e["value"] for e in container.get("environment", [])})
        return environment

    def _start(self, job: dict[str, Any], node: _Node, network: Network | None) -> SandboxProcess:
        job_id = job["jobId"]
        properties = node.properties
        container = job.get("container", {}) if node.index is None else {}  # a node's overrides are in its properties
        image = self.images.unpacked(str(properties["image"]), architecture(properties))
        settings = image.settings
        command = container.get("command") or properties.get("command") or settings.get("Cmd") or []
        env = {
            **image_environment(image),
            **self._environment(properties, container),
            "AWS_BATCH_JOB_ID": job_id,
            "AWS_BATCH_JOB_ATTEMPT": "1",
            "AWS_BATCH_JQ_NAME": job["jobQueue"].rsplit("/", 1)[-1],
            **node.variables,
            **self.credentials.environment(properties.get("jobRoleArn"), job_id.replace("#", "-")),  # the job role's
        }
        scratch = self.workdir / "jobs" / job_id / ("job" if node.index is None else f"node-{node.index}")
        (scratch / "tmp").mkdir(parents=True)
        memory = requirement(properties, container, "MEMORY")
        spec = RunSpec(
            image.root,
            [*(settings.get("Entrypoint") or []), *command],
            env,
            scratch / "tmp",
            settings.get("WorkingDir") or "/",
            BATCH_TMP_MB,
            int(memory) if memory else None,
            requirement(properties, container, "VCPU"),
            tmp_on_disk=True,
            network=network,
        )
        if not spec.argv:
            raise LocalError(f"job {job_id}: its image has no entry point and it has no command")
        return self._sandbox().start(spec, cwd=scratch, **LOGGED)

    @staticmethod
    def _follow(
        node: _Node,
        process: SandboxProcess,
        log: Log,
        timeout: float | None,
        node_ended: Callable[[NodeRun], None] | None,
        stopped: set[int],
    ) -> tuple[NodeRun, Log]:
        finished = run_logged(process, log, timeout)
        run = NodeRun(node.index or 0, finished.returncode, finished.seconds, (node.index or 0) in stopped)
        if node.index is not None:
            # In the job's log too: `faas job` shows which node failed.
            log.lines.append((now_ms(), f"ended: {run.outcome}"))
            if node_ended:
                node_ended(run)
        return run, log

    def outputs(self, environment: dict[str, str]) -> list[S3Location]:
        """The output folders of the job's function (from its staged configuration)."""
        uri = environment.get(contract.CONFIG_URI)
        if not uri:
            raise LocalError(f"the job's definition has no {contract.CONFIG_URI}: not a faas-render job")
        return output_locations(load_config(read_s3_uri(self.aws, uri), uri))

    def snapshot(self, folders: list[S3Location]) -> dict[str, str]:
        """Every object under the folders, by URI, with its ETag and modification time."""
        s3 = self.aws.client("s3")
        found: dict[str, str] = {}
        for folder in folders:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=folder.bucket, Prefix=folder.filter_prefix):
                for item in page.get("Contents", []):
                    found[f"s3://{folder.bucket}/{item['Key']}"] = f"{item['ETag']} {item['LastModified']}"
        return found

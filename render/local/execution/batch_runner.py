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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faas_supervisor import contract
from faas_supervisor.contract import S3Location

from render.aws.connection import Aws
from render.aws.deployed import load_config, output_locations, read_s3_uri
from render.local.execution.deployed_images import LocalImages
from render.local.execution.errors import LocalError
from render.local.execution.image_runner import image_environment
from render.local.execution.process import LOGGED, Log, put_log, run_logged
from render.local.execution.sandbox import RunSpec, Sandbox

BATCH_TMP_MB = 10_240  # a Batch host's disk is large: /tmp (on disk, not memory) is bounded only by this
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def requirement(properties: dict[str, Any], container: dict[str, Any], kind: str) -> float | None:
    """The job's VCPU or MEMORY requirement (its override, else the definition's), as a number."""
    for source in (container, properties):
        for entry in source.get("resourceRequirements") or []:
            if entry.get("type") == kind:
                return float(entry["value"])
    legacy = properties.get("vcpus" if kind == "VCPU" else "memory")
    return float(legacy) if legacy else None


def architecture(properties: dict[str, Any]) -> str:
    """The job's CPU architecture: the definition's runtime platform, else this machine's."""
    named = str((properties.get("runtimePlatform") or {}).get("cpuArchitecture") or platform.machine()).lower()
    return ARCHITECTURES.get(named, named)


@dataclass(frozen=True)
class JobRun:
    job_id: str
    returncode: int
    seconds: float
    uploaded: list[str]  # s3:// URIs of the objects the job wrote
    log: Log


class BatchRunner:
    """Runs jobs in their images, in `sandbox` (else in the one detected), with scratch folders in `workdir`."""

    def __init__(self, aws: Aws, images: LocalImages, sandbox: Callable[[], Sandbox], workdir: Path) -> None:
        self.aws, self.images, self.workdir = aws, images, workdir
        self._sandbox = sandbox
        self._lock = threading.Lock()
        self._counted: set[tuple[str, str]] = set()  # (URI, version) of the objects counted as written

    def run(self, job_id: str, echo: Callable[[str], None] | None = None) -> JobRun:
        """Run the job to its end; `echo` sees its log lines as they come."""
        batch = self.aws.client("batch")
        jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
        if not jobs:
            raise LocalError(f"no Batch job {job_id}")
        job = jobs[0]
        definition = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
        properties = definition["containerProperties"]
        container = job.get("container", {})
        image = self.images.unpacked(str(properties["image"]), architecture(properties))
        settings = image.settings
        command = container.get("command") or properties.get("command") or settings.get("Cmd") or []
        environment = {e["name"]: e["value"] for e in properties.get("environment", [])}
        environment.update({e["name"]: e["value"] for e in container.get("environment", [])})  # the overrides
        env = {
            **image_environment(image),
            **environment,
            "AWS_BATCH_JOB_ID": job_id,
            "AWS_BATCH_JOB_ATTEMPT": "1",
            "AWS_BATCH_JQ_NAME": job["jobQueue"].rsplit("/", 1)[-1],
            **self.aws.process_environment(),
        }
        scratch = self.workdir / "jobs" / job_id
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
        )
        if not spec.argv:
            raise LocalError(f"job {job_id}: its image has no entry point and it has no command")
        timeout = (definition.get("timeout") or {}).get("attemptDurationSeconds")
        outputs = self.outputs(environment)
        before = self.snapshot(outputs)
        log = Log(echo)
        process = self._sandbox().start(spec, cwd=scratch, **LOGGED)
        finished = run_logged(process, log, timeout)
        stream = container.get("logStreamName") or f"{definition['jobDefinitionName']}/default/{job_id}"
        put_log(self.aws.client("logs"), contract.BATCH_LOG_GROUP, stream, log.lines)
        after = self.snapshot(outputs)
        with self._lock:
            new = {(uri, tag) for uri, tag in after.items() if before.get(uri) != tag} - self._counted
            self._counted |= new
        uploaded = sorted(uri for uri, _ in new)
        return JobRun(job_id, finished.returncode, finished.seconds, uploaded, log)

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

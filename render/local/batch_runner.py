"""Run a submitted AWS Batch job on this machine the way a Batch host would run it.

The job's definition decides what runs: its command and environment, with the job's own
containerOverrides (FAAS_EVENT / FAAS_EVENT_URI) on top, plus the variables Batch adds
(AWS_BATCH_JOB_ID, ...). The command names the supervisor at the path where the compute
environment's launch template installs it; that binary is fetched as the launch template's user
data does (the S3 object it names, checked against the SHA-256 it names) and run in its place.
There is no container here: the job runs directly on this host. Its log goes to the job's log
stream in /aws/batch/job, where `faas job` finds it.
"""

from __future__ import annotations

import base64
import email
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faas_supervisor import contract
from faas_supervisor.contract import S3Location

from render.aws.connection import Aws, CommandError
from render.aws.deployed import load_config, output_locations, read_s3_uri
from render.local.process import Log, put_log, run_logged

_DOWNLOAD = re.compile(r'aws s3 cp\b[^\n]*?"s3://([^/"]+)/([^"]+)"')
_SHA256 = re.compile(r'echo "([0-9a-f]{64})  \$tmp" \| sha256sum -c')
_INSTALL = re.compile(r'install -m \d+ "\$tmp" (\S+)')


@dataclass(frozen=True)
class InstalledSupervisor:
    """What the launch template's user data installs on every Batch host."""

    bucket: str
    key: str
    sha256: str
    path: str  # where it is installed, the path the job definition's command names


def supervisor_from_user_data(user_data: str) -> InstalledSupervisor:
    """Read the supervisor's S3 object, SHA-256 and install path from MIME multipart user data."""
    message = email.message_from_string(user_data)
    scripts = [
        str(part.get_payload(decode=True).decode())  # type: ignore[union-attr]
        for part in message.walk()
        if part.get_content_type() == "text/x-shellscript"
    ]
    for script in scripts:
        download, sha256, install = _DOWNLOAD.search(script), _SHA256.search(script), _INSTALL.search(script)
        if download and sha256 and install:
            return InstalledSupervisor(download[1], download[2], sha256[1], install[1])
    raise CommandError("the launch template's user data does not install the faas-render supervisor")


@dataclass(frozen=True)
class JobRun:
    job_id: str
    returncode: int
    seconds: float
    uploaded: list[str]  # s3:// URIs of the objects the job wrote
    log: Log


class BatchRunner:
    """Runs jobs; each supervisor binary is fetched once into `workdir`."""

    def __init__(self, aws: Aws, workdir: Path) -> None:
        self.aws = aws
        self.workdir = workdir

    def installed_supervisor(self, job_queue: str) -> InstalledSupervisor:
        batch, ec2 = self.aws.client("batch"), self.aws.client("ec2")
        queue = batch.describe_job_queues(jobQueues=[job_queue])["jobQueues"][0]
        first = min(queue["computeEnvironmentOrder"], key=lambda entry: entry["order"])["computeEnvironment"]
        environment = batch.describe_compute_environments(computeEnvironments=[first])["computeEnvironments"][0]
        template = environment.get("computeResources", {}).get("launchTemplate")
        if not template:
            raise CommandError(
                f"compute environment {environment['computeEnvironmentName']} has no launch template "
                "(Fargate cannot be run locally: its image must contain the supervisor)"
            )
        selector = (
            {"LaunchTemplateId": template["launchTemplateId"]}
            if "launchTemplateId" in template
            else {"LaunchTemplateName": template["launchTemplateName"]}
        )
        version = template.get("version", "$Default")
        found = ec2.describe_launch_template_versions(**selector, Versions=[version])["LaunchTemplateVersions"][0]
        user_data = found["LaunchTemplateData"].get("UserData", "")
        return supervisor_from_user_data(base64.b64decode(user_data).decode())

    def fetch(self, supervisor: InstalledSupervisor) -> Path:
        """The binary as the host would install it: downloaded, checked, mode 0755."""
        target = self.workdir / "hosts" / supervisor.sha256 / supervisor.path.lstrip("/")
        if target.is_file():
            return target
        content = read_s3_uri(self.aws, f"s3://{supervisor.bucket}/{supervisor.key}")
        if hashlib.sha256(content).hexdigest() != supervisor.sha256:
            raise CommandError(
                f"SHA-256 mismatch for s3://{supervisor.bucket}/{supervisor.key}: "
                "refusing to run it (as the Batch host would)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o755)
        return target

    def run(self, job_id: str, echo: Callable[[str], None] | None = None) -> JobRun:
        """Run the job to its end; `echo` sees its log lines as they come."""
        batch = self.aws.client("batch")
        jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
        if not jobs:
            raise CommandError(f"no Batch job {job_id}")
        job = jobs[0]
        definition = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
        properties = definition["containerProperties"]
        container = job.get("container", {})
        supervisor = self.installed_supervisor(job["jobQueue"])
        binary = self.fetch(supervisor)
        command = [
            str(binary) if arg == supervisor.path else arg
            for arg in container.get("command") or properties.get("command", [])
        ]
        environment = {e["name"]: e["value"] for e in properties.get("environment", [])}
        environment.update({e["name"]: e["value"] for e in container.get("environment", [])})  # the overrides
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "C.UTF-8",
            "HOME": str(self.workdir),
            **environment,
            "AWS_BATCH_JOB_ID": job_id,
            "AWS_BATCH_JOB_ATTEMPT": "1",
            "AWS_BATCH_JQ_NAME": job["jobQueue"].rsplit("/", 1)[-1],
            **self.aws.process_environment(),
        }
        outputs = self.outputs(environment)
        before = self.snapshot(outputs)
        scratch = self.workdir / "jobs" / job_id
        scratch.mkdir(parents=True)
        log = Log(echo)
        finished = run_logged(command, env, scratch, log)
        stream = container.get("logStreamName") or f"{definition['jobDefinitionName']}/default/{job_id}"
        put_log(self.aws.client("logs"), contract.BATCH_LOG_GROUP, stream, log.lines)
        after = self.snapshot(outputs)
        uploaded = sorted(uri for uri, tag in after.items() if before.get(uri) != tag)
        return JobRun(job_id, finished.returncode, finished.seconds, uploaded, log)

    def outputs(self, environment: dict[str, str]) -> list[S3Location]:
        """The output folders of the job's function (from its staged configuration)."""
        uri = environment.get(contract.CONFIG_URI)
        if not uri:
            raise CommandError(f"the job's definition has no {contract.CONFIG_URI}: not a faas-render job")
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

"""Image functions and Batch jobs deployed straight into a running emulator with boto3, no Terraform.

`push_function_image` assembles an image as the image builder does (a busybox base, the
supervisor layer the renderer makes, the function layer under contract.IMAGE_TASK_ROOT,
the supervisor as entry point) and pushes it into the emulator's ECR with EcrDestination;
`Deployment` creates the Lambda functions from such images (PackageType Image, Code.ImageUri =
repositoryUri@digest), their input bucket's notification, and for the Batch ones a job queue and a
job definition running the same image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from faas_supervisor import contract
from faas_supervisor.image import ArchiveSource, EcrDestination, Layer, LayerEntry, assemble, build_layer

from render.terraform.images import supervisor_layer
from tests.supervisor.image_builders import base_config, busybox_layer, write_oci_layout

APPLETS = ("tr", "basename", "wc", "cat", "sed", "sleep", "test", "[", "nc", "timeout")
SHOUT = "#!/bin/sh\nexec tr a-z A-Z\n"  # a tool only the images have
MARKER = "/etc/faas-image"  # a file only the images have
REGION = "us-east-1"


def tools_layer() -> Layer:
    entries = [LayerEntry(f"/bin/{name}", symlink="busybox") for name in APPLETS]
    entries += [LayerEntry("/usr/bin/shout", SHOUT.encode(), 0o755), LayerEntry(MARKER, b"image\n")]
    return build_layer(entries, "tools")


def base_archive(path: Path, command: list[str] | None = None) -> ArchiveSource:
    """busybox with a few applets, `shout` and the marker; `command`, if given, is its Cmd (after /bin/sh -c)."""
    layers = [busybox_layer(), tools_layer()]
    config = base_config("amd64", layers)
    if command is not None:
        config["config"]["Cmd"] = command
    write_oci_layout(path, config, [layer.blob for layer in layers])
    return ArchiveSource(path)


def function_layer(config: dict[str, Any], script: str | None) -> Layer:
    root = contract.IMAGE_TASK_ROOT
    entries = [LayerEntry(f"{root}/{contract.CONFIG_FILE_NAME}", json.dumps(config).encode(), 0o755)]
    if script is not None:
        entries.append(LayerEntry(f"{root}/script.sh", script.encode(), 0o755))
    return build_layer(entries, "function")


def session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)


def pull_policy(*function_names: str) -> str:
    """The repository policy modules/image writes: Lambda may pull for these functions only."""
    arn = "arn:aws:lambda:us-east-1:123456789012:function"
    values = [v for name in function_names for v in (f"{arn}:{name}", f"{arn}:{name}:*")]
    statement = {
        "Sid": "LambdaECRImageRetrievalPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": {"StringLike": {"aws:sourceArn": values}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def push_function_image(
    endpoint: str, base: ArchiveSource, supervisor: Path, name: str, config: dict[str, Any], script: str | None
) -> str:
    """The pushed image's URI, repositoryUri@digest."""
    ecr = session().client("ecr", endpoint_url=endpoint)
    try:
        uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    except ecr.exceptions.RepositoryAlreadyExistsException:
        uri = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
    ecr.set_repository_policy(repositoryName=name, policyText=pull_policy(name))
    layers = [
        supervisor_layer(supervisor, "x86_64").layer,
        function_layer(config, script),
    ]
    environment = {"LAMBDA_TASK_ROOT": contract.IMAGE_TASK_ROOT}
    pushed = assemble(
        base, EcrDestination(ecr), name, "faas-test", "x86_64", layers, contract.IMAGE_ENTRYPOINT, environment
    )
    return f"{uri}@{pushed.digest}"


@dataclass
class Deployment:
    """Functions in one emulator; each reads `bucket`/in-NAME/ and writes `bucket`/out-NAME/."""

    endpoint: str
    supervisor: Path
    folder: Path
    bucket: str
    triggers: list[dict[str, Any]] = field(default_factory=list)
    _role: str = ""
    _queue: str | None = None

    def client(self, service: str) -> Any:
        return session().client(service, endpoint_url=self.endpoint)

    def setup(self) -> None:
        self.client("s3").create_bucket(Bucket=self.bucket)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam = self.client("iam")
        role = iam.create_role(RoleName="faas-test", AssumeRolePolicyDocument=json.dumps(policy))
        self._role = role["Role"]["Arn"]
        # What the functions and jobs do (the emulator enforces it): the test bucket, and submitting jobs.
        bucket = f"arn:aws:s3:::{self.bucket}"
        access = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"{bucket}/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket},
                {"Effect": "Allow", "Action": "batch:SubmitJob", "Resource": "*"},
            ],
        }
        iam.put_role_policy(RoleName="faas-test", PolicyName="faas-test", PolicyDocument=json.dumps(access))

    def config(self, name: str, script: str | None, mode: str = "lambda") -> dict[str, Any]:
        return {
            "name": name,
            "execution_mode": mode,
            "script": "script.sh" if script is not None else None,
            "input": [{"bucket": self.bucket, "key_prefix": f"in-{name}"}],
            "output": [{"bucket": self.bucket, "key_prefix": f"out-{name}"}],
        }

    def function(
        self,
        name: str,
        script: str | None,
        *,
        command: list[str] | None = None,
        batch: bool = False,
        environment: dict[str, str] | None = None,
        reserved: int | None = None,
        nodes: int | None = None,
    ) -> str:
        """Deploy NAME (its script, or the base image's `command`); its image URI. A Batch one with `nodes`
        runs multi-node parallel jobs of that many nodes, node 0 the main one."""
        config = self.config(name, script, "batch" if batch else "lambda")
        base = base_archive(self.folder / f"{name}-base.tar", command)
        image = push_function_image(self.endpoint, base, self.supervisor, name, config, script)
        variables = dict(environment or {})
        if batch:
            variables.update(self.job_definition(name, image, config, script, nodes))
        lam = self.client("lambda")
        arn = lam.create_function(
            FunctionName=name,
            PackageType="Image",
            Code={"ImageUri": image},
            Role=self._role,
            MemorySize=512,
            Timeout=60,
            Environment={"Variables": variables},
        )["FunctionArn"]
        if reserved is not None:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
        self.triggers.append(
            {
                "Id": name,
                "LambdaFunctionArn": arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"in-{name}/"}]}},
            }
        )
        self.client("s3").put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"LambdaFunctionConfigurations": self.triggers}
        )
        return image

    def job_definition(
        self, name: str, image: str, config: dict[str, Any], script: str | None, nodes: int | None = None
    ) -> dict[str, str]:
        """The job definition of NAME running `image` (on `nodes` nodes), its staged configuration; the
        Lambda function's variables."""
        s3, batch = self.client("s3"), self.client("batch")
        folder = f"config/{name}"
        s3.put_object(Bucket=self.bucket, Key=f"{folder}/{contract.CONFIG_FILE_NAME}", Body=json.dumps(config))
        if script is not None:
            s3.put_object(Bucket=self.bucket, Key=f"{folder}/script.sh", Body=script.encode())
        container = {
            "image": image,
            "jobRoleArn": self._role,
            "environment": [
                {"name": contract.CONFIG_URI, "value": f"s3://{self.bucket}/{folder}/{contract.CONFIG_FILE_NAME}"}
            ],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "1024"}],
        }
        variables = {
            contract.JOB_QUEUE: self.job_queue(),
            contract.JOB_DEFINITION: name,
            contract.ARTIFACTS_BUCKET: self.bucket,
        }
        if nodes is None:
            batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=container)
            return variables
        node_range = {"targetNodes": contract.ALL_NODES, "container": container}
        batch.register_job_definition(
            jobDefinitionName=name,
            type="multinode",
            nodeProperties={"numNodes": nodes, "mainNode": 0, "nodeRangeProperties": [node_range]},
        )
        return variables | {contract.JOB_NODES: str(nodes)}

    def job_queue(self) -> str:
        if self._queue is None:
            ec2, iam, batch = self.client("ec2"), self.client("iam"), self.client("batch")
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
            group = ec2.create_security_group(GroupName="faas-test", Description="faas-test", VpcId=vpc)["GroupId"]
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
            service_role = iam.create_role(RoleName="faas-test-batch", AssumeRolePolicyDocument=json.dumps(trust))
            environment = batch.create_compute_environment(
                computeEnvironmentName="faas-test",
                type="MANAGED",
                state="ENABLED",
                computeResources={
                    "type": "FARGATE",
                    "maxvCpus": 4,
                    "subnets": [subnet],
                    "securityGroupIds": [group],
                },
                serviceRole=service_role["Role"]["Arn"],
            )["computeEnvironmentArn"]
            self._queue = batch.create_job_queue(
                jobQueueName="faas-test",
                state="ENABLED",
                priority=1,
                computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
            )["jobQueueArn"]
        return self._queue

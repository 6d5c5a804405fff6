"""The runtime contract between faas-render and the supervisor, defined once.

The renderer, the local mode and the `faas` commands import these names; the supervisor never
imports the renderer. The Terraform modules repeat a few of them as literals (HCL cannot import
Python): tests/terraform/test_contract.py checks that they agree. The function configuration's
shape (function_config.json) is `config.FunctionConfig`, which both parses and writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The function configuration: at the root of the Lambda zip, staged beside the script for Batch.
CONFIG_FILE_NAME = "function_config.json"
# The Lambda zip's handler (Python runtime).
HANDLER = "faas_supervisor.lambda_function.lambda_handler"
# The frozen supervisor, as its image layer holds it: the program and lib/ beside it (its own C
# library and loader, so it runs in any image). The package ships it per architecture as the tar
# SUPERVISOR_BUNDLE of that folder (supervisor/build/freeze.py).
SUPERVISOR_HOME = "/opt/faas-render"
SUPERVISOR_NAME = "faas-supervisor"
SUPERVISOR_PATH = f"{SUPERVISOR_HOME}/{SUPERVISOR_NAME}"
SUPERVISOR_BUNDLE = "faas-supervisor.tar"

# A function's image: its base plus a layer holding the supervisor (SUPERVISOR_PATH, the entry
# point) and a layer holding the function configuration and script under IMAGE_TASK_ROOT.
IMAGE_TASK_ROOT = "/var/task"  # LAMBDA_TASK_ROOT in the image's environment, as in Lambda
IMAGE_ENTRYPOINT = (SUPERVISOR_PATH,)
# The image builder, a Lambda function of the supervisor zip that Terraform invokes.
BUILDER_HANDLER = "faas_supervisor.image.builder.handler"
# Pull Docker Hub images through this registry mirror (a URL), as Docker's registry-mirrors.
REGISTRY_MIRROR = "FAAS_REGISTRY_MIRROR"

# Environment variables set by Terraform (Lambda function, job definition) or per job.
INTERNAL_PREFIX = "FAAS_"  # none of these reach the user's script
JOB_QUEUE = "FAAS_JOB_QUEUE"  # Lambda of batch / lambda-batch: the job queue's ARN
JOB_DEFINITION = "FAAS_JOB_DEFINITION"  # Lambda of batch / lambda-batch: the job definition's name
JOB_NODES = "FAAS_JOB_NODES"  # Lambda of batch / lambda-batch: nodes of a multi-node parallel job
# container.environment's variables whose names Lambda reserves (AWS_ACCESS_KEY_ID, ...) are
# deployed under this prefix; the function configuration maps each name to its variable.
CONTAINER_VARIABLE_PREFIX = "FAAS_CONTAINER_"
ARTIFACTS_BUCKET = "FAAS_ARTIFACTS_BUCKET"  # the deployment bucket (staged configs, large events)
CONFIG_URI = "FAAS_CONFIG_URI"  # job definition: s3:// URI of the staged function configuration
EVENT = "FAAS_EVENT"  # per job: the event by value
EVENT_URI = "FAAS_EVENT_URI"  # per job: s3:// URI of an event too large to pass by value
SOURCE_REQUEST_ID = "FAAS_SOURCE_REQUEST_ID"  # per job: the Lambda request that submitted it
LOG_LEVEL = "LOG_LEVEL"  # optional override of the configuration's log_level
TIMEOUT_THRESHOLD = "TIMEOUT_THRESHOLD"  # optional override of container.timeout_threshold

# What Batch tells each node of a multi-node parallel job (the script reads them too).
NODE_INDEX = "AWS_BATCH_JOB_NODE_INDEX"
NUM_NODES = "AWS_BATCH_JOB_NUM_NODES"
MAIN_NODE_INDEX = "AWS_BATCH_JOB_MAIN_NODE_INDEX"
MAIN_NODE_ADDRESS = "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"  # on the nodes other than the main one
# Node ranges of the job definition and of the job's overrides: every node.
ALL_NODES = "0:"

# Failures (the deployment's failures queue, modules/failures): Lambda's defaults for asynchronous
# invocations, and the EventBridge event of a Batch job that ends FAILED, as AWS sends it.
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = 21600  # seconds
BATCH_EVENT_SOURCE = "aws.batch"
BATCH_STATE_CHANGE = "Batch Job State Change"

# Log groups, as AWS names them.
BATCH_LOG_GROUP = "/aws/batch/job"


def lambda_log_group(function: str) -> str:
    return f"/aws/lambda/{function}"


def staged_events_prefix(function: str) -> str:
    """Key prefix, in the deployment bucket, of the events staged for `function`'s jobs."""
    return f"events/{function}/"


@dataclass(frozen=True, order=True)
class S3Location:
    """A bucket and a key prefix without leading or trailing slashes ("" is the whole bucket)."""

    bucket: str
    key_prefix: str = ""

    def __str__(self) -> str:
        return f"{self.bucket}/{self.key_prefix}" if self.key_prefix else self.bucket

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.filter_prefix}"

    @property
    def filter_prefix(self) -> str:
        """The prefix of the keys inside this location ("" or "prefix/")."""
        return f"{self.key_prefix}/" if self.key_prefix else ""

    def key_for(self, relative: str) -> str:
        return f"{self.key_prefix}/{relative}" if self.key_prefix else relative

    def contains(self, key: str) -> bool:
        return key.startswith(self.filter_prefix)

    def overlaps(self, other: S3Location) -> bool:
        """True when one location lies inside the other (S3 compares key prefixes)."""
        if self.bucket != other.bucket:
            return False
        mine, theirs = self.key_prefix + "/", other.key_prefix + "/"
        return not self.key_prefix or not other.key_prefix or mine.startswith(theirs) or theirs.startswith(mine)

    @classmethod
    def of(cls, bucket: str, key_prefix: str = "") -> S3Location:
        return cls(bucket, key_prefix.strip("/"))

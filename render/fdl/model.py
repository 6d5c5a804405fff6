"""The validated, fully resolved description of a deployment that the templates render."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from faas_supervisor.contract import S3Location


@dataclass(frozen=True)
class Output:
    location: S3Location
    suffix: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    provider: str = "s3"  # or "s3.ID": a bucket of another account, written with that provider's keys

    @property
    def is_own_account(self) -> bool:
        return self.provider == "s3"


@dataclass(frozen=True)
class StorageProvider:
    """Another account's S3 keys, kept in an SSM SecureString parameter and read at run time.

    `managed`: the FDL holds the keys and the deployment writes the parameter (write-only, see
    render/fdl/storage_credentials.py); otherwise the user's own parameter is only referenced.
    """

    ident: str  # "s3.ID"
    parameter: str
    managed: bool
    version: int
    region: str | None


@dataclass(frozen=True)
class ComputeProfile:
    """The compute environment settings that functions can share one environment and queue by."""

    compute_type: str
    min_vcpus: int
    desired_vcpus: int
    max_vcpus: int
    instance_types: tuple[str, ...]
    subnets: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    instance_role: str | None
    service_role: str | None
    enable_gpu: bool
    architecture: str  # "x86_64" or "arm64": of the hosts, so of the supervisor and the images
    runnable_timeout: int  # seconds before a job Batch cannot place is cancelled (a queue setting)
    # Runs multi-node parallel jobs: its hosts reach each other on every port, in a cluster placement group.
    multi_node: bool = False


@dataclass(frozen=True)
class BatchJob:
    vcpus: int
    memory: int
    gpus: int
    environment: dict[str, str]
    profile: ComputeProfile
    retry_attempts: int  # runs when the host goes away (Spot reclaim); failures are not retried
    timeout: int  # seconds of one attempt
    staged_events_expiration_days: int
    nodes: int = 1  # more than 1: a multi-node parallel job, every node running the same supervisor
    main_node: int = 0  # the node index whose exit decides the job's status


@dataclass(frozen=True)
class ApiGateway:
    name: str
    stage_name: str


@dataclass(frozen=True)
class Function:
    name: str
    description: str
    execution_mode: str
    memory: int
    timeout: int
    ephemeral_storage: int
    runtime: str
    architectures: tuple[str, ...]
    layers: tuple[str, ...]
    log_level: str
    lambda_environment: dict[str, str]
    image: str | None
    image_file: Path | None  # a `docker save` or OCI archive: the base instead of `image`
    image_file_scratch: int  # bytes of the image builder's /tmp a build from image_file takes (else 0)
    create_image: bool  # False: `image` is a prepared ECR image holding the supervisor, used as it is
    registry_credentials: str | None  # Secrets Manager secret with the base registry's credentials
    timeout_threshold: int
    container_environment: dict[str, str]
    script: Path | None
    inputs: tuple[S3Location, ...]
    outputs: tuple[Output, ...]
    role_arn: str | None
    log_retention_days: int
    vpc_subnets: tuple[str, ...]
    vpc_security_groups: tuple[str, ...]
    file_system: tuple[str, str] | None
    api_gateway: ApiGateway | None
    batch: BatchJob | None
    retry_attempts: int  # of a failed asynchronous invocation
    max_event_age: int  # seconds an asynchronous invocation may wait or be retried

    @property
    def uses_batch(self) -> bool:
        return self.execution_mode in ("batch", "lambda-batch")

    @property
    def has_image(self) -> bool:
        return bool(self.image or self.image_file)

    @property
    def lambda_runs_image(self) -> bool:
        """The Lambda function is a container image; a `batch` function's Lambda only submits jobs (a zip)."""
        return self.has_image and self.execution_mode != "batch"

    @property
    def builds_images(self) -> bool:
        return self.has_image and self.create_image

    @property
    def image_architectures(self) -> list[str]:
        """The architectures this function's image is built for: its Lambda's and its Batch hosts'."""
        found = set(self.architectures) if self.lambda_runs_image else set()
        if self.batch:
            found.add(self.batch.profile.architecture)
        return sorted(found)

    @property
    def script_name(self) -> str | None:
        return self.script.name if self.script else None

    @property
    def provider_idents(self) -> list[str]:
        return sorted({o.provider for o in self.outputs if not o.is_own_account})


@dataclass(frozen=True)
class Bucket:
    name: str
    existing: bool = False
    force_destroy: bool = False
    kms_key: str | None = None  # the KMS key ARN an existing bucket's objects are encrypted with


@dataclass
class Deployment:
    name: str
    region: str
    source_name: str
    source_sha256: str
    functions: list[Function]
    buckets: dict[str, Bucket]
    warnings: list[str] = field(default_factory=list)
    storage_providers: dict[str, StorageProvider] = field(default_factory=dict)  # those outputs use

    @property
    def managed_credentials(self) -> list[StorageProvider]:
        return [p for p in self.storage_providers.values() if p.managed]

    @cached_property
    def profiles(self) -> dict[str, ComputeProfile]:
        """Each distinct compute profile, named after the first function (in FDL order) using it.

        A name, not a hash of the settings: changing a profile's instance types keeps its module
        address, so Terraform replaces the compute environment behind the same job queue.
        """
        found: dict[str, ComputeProfile] = {}
        for function in self.functions:
            if function.batch and function.batch.profile not in found.values():
                found[function.name] = function.batch.profile
        return found

    @cached_property
    def _profile_names(self) -> dict[ComputeProfile, str]:
        return {profile: name for name, profile in self.profiles.items()}

    def profile_name(self, profile: ComputeProfile) -> str:
        return self._profile_names[profile]

    def functions_of(self, profile_name: str) -> list[Function]:
        profile = self.profiles[profile_name]
        return [f for f in self.functions if f.batch and f.batch.profile == profile]

    @property
    def artifacts_bucket_prefix(self) -> str:
        """The deployment bucket's name_prefix (Terraform appends a unique suffix)."""
        return f"{self.name[:24]}-artifacts-"

    def job_queue_name(self, profile_name: str) -> str:
        """The name of the Batch compute environment and job queue of a compute profile."""
        return f"{self.name}-{profile_name}"

    @property
    def needs_artifacts_bucket(self) -> bool:
        return any(f.uses_batch or f.builds_images for f in self.functions)

    @property
    def builds_images(self) -> bool:
        return any(f.builds_images for f in self.functions)

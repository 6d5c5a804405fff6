"""Render a Deployment into the files of a Terraform root module: main.tf and its artifacts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from faas_supervisor import contract
from faas_supervisor.contract import CONFIG_FILE_NAME, S3Location
from faas_supervisor.image.archive_space import ephemeral_storage_mb

from render import __version__
from render.fdl.lambda_environment import lambda_environment
from render.fdl.model import ComputeProfile, Deployment, Function, StorageProvider
from render.fdl.storage_credentials import CREDENTIALS_VARIABLE
from render.terraform.artifacts import Artifact, FileArtifact, RootFile, function_config, lambda_zip, staged_files
from render.terraform.assets import assets_root
from render.terraform.base_registries import base_repositories
from render.terraform.ecr_names import part, repository_names
from render.terraform.hcl import Raw, align, hcl
from render.terraform.images import IMAGE_ENVIRONMENT, StagedLayer, builder_zip, function_layer, supervisor_layer

ARTIFACTS = "_artifacts"
ARTIFACTS_BUCKET = Raw('module.storage.bucket_names["_artifacts"]')
# Module block names in main.tf: module.storage, module.lambda_NAME and module.iam_NAME per
# function, module.batch_KEY per Batch compute profile (read back by render/review/plan.py).
STORAGE_MODULE = "storage"
LAMBDA_MODULE_PREFIX = "lambda_"
IAM_MODULE_PREFIX = "iam_"
PROFILE_MODULE_PREFIX = "batch_"
IMAGE_MODULE_PREFIX = "image_"
BUILDER_MODULE = "image_builder"
FAILURES_MODULE = "failures"
FAILURE_QUEUE = Raw(f"module.{FAILURES_MODULE}.queue_arn")
BUILDER_ZIP = "artifacts/image-builder.zip"


@dataclass
class RenderedRoot:
    main_tf: str
    artifacts: list[RootFile]


def _locations(locations: list[S3Location]) -> list[dict[str, str]]:
    return [{"bucket": loc.bucket, "key_prefix": loc.key_prefix} for loc in locations]


def _object_key(name: str) -> Raw:
    return Raw(f'module.storage.object_keys["{name}"]')


def render_root(
    deployment: Deployment,
    module_source: Callable[[str], str],
    supervisor_bundle: Callable[[str], Path],
    module_version: str | None = None,
    registry_mirror: str | None = None,
) -> RenderedRoot:
    """Build main.tf and the artifacts; `supervisor_bundle(architecture)` is called for the images built.

    `module_source(name)` is the `source` of the module block using modules/<name>;
    `module_version`, when given, is the `version` of every module block (registry sources);
    `registry_mirror` is where the image builder pulls Docker Hub bases from (base_registries.check_mirror).
    """
    artifacts: list[RootFile] = []
    objects: dict[str, Any] = {}
    supervisor_layers: dict[str, StagedLayer] = {}  # by architecture
    repositories = repository_names(
        repository_prefix(deployment),
        [
            (function.name, _image_architecture(function, architecture))
            for function in deployment.functions
            if function.builds_images
            for architecture in function.image_architectures
        ],
    )

    def staged(name: str, layer: StagedLayer) -> dict[str, Any]:
        if name not in objects:
            artifacts.append(layer.artifact)
            objects[name] = _object(layer.key, layer.artifact)
        return _layer_input(name, layer)

    functions = []
    for function in deployment.functions:
        config = function_config(function, deployment.storage_providers)
        zip_artifact = None
        if not function.lambda_runs_image:
            zip_artifact = lambda_zip(function, config, f"artifacts/lambda/{function.name}.zip")
            artifacts.append(zip_artifact)
        if function.uses_batch:
            for file in staged_files(function, config, f"artifacts/functions/{function.name}"):
                artifacts.append(file)
                kind = "config" if file.path.endswith(f"/{CONFIG_FILE_NAME}") else "script"
                objects[f"{function.name}/{kind}"] = _object(file.path.removeprefix("artifacts/"), file)
        images: dict[str, Any] = {}
        if function.builds_images:
            if function.image_file:  # streamed, never read whole: archives take gigabytes
                path = f"artifacts/bases/{function.name}-{function.image_file.name}"
                base = FileArtifact.of(path, function.image_file)
                artifacts.append(base)
                objects[f"base/{function.name}"] = _object(f"bases/{base.sha256_hex}", base)
            own = staged(f"layer/{function.name}", function_layer(function, config))
            for architecture in function.image_architectures:
                if architecture not in supervisor_layers:
                    supervisor_layers[architecture] = supervisor_layer(supervisor_bundle(architecture), architecture)
                supervisor = staged(f"layer/supervisor-{architecture}", supervisor_layers[architecture])
                repository = repositories[function.name, _image_architecture(function, architecture)]
                images[architecture] = _image_view(function, architecture, repository, [supervisor, own])
        elif function.has_image:
            images = {architecture: {"uri": function.image} for architecture in function.image_architectures}
        functions.append(_function_view(deployment, function, zip_artifact, images))

    builder = None
    if deployment.builds_images:
        package = builder_zip(BUILDER_ZIP)
        artifacts.append(package)
        builder = {
            "module": BUILDER_MODULE,
            "function_name": f"{deployment.name[:50]}-image-builder",
            "zip_path": package.path,
            "zip_hash": package.sha256_base64,
            "repository_prefix": f"{repository_prefix(deployment)}/",
            "credentials_secrets": sorted(
                {f.registry_credentials for f in deployment.functions if f.registry_credentials}
            ),
            "environment": {contract.REGISTRY_MIRROR: registry_mirror} if registry_mirror else {},
            "base_repositories": base_repositories(
                [f.image for f in deployment.functions if f.builds_images and f.image], registry_mirror
            ),
            "ephemeral_storage_size": _builder_storage(deployment),
        }
    images_by_function = {view["name"]: view["images"] for view in functions}
    profiles = [
        _profile_view(deployment, key, profile, images_by_function) for key, profile in deployment.profiles.items()
    ]
    failures = {
        "module": FAILURES_MODULE,
        "job_queue_arns": [Raw(f"module.{p['module']}.job_queue_arn") for p in profiles],
    }
    storage = {
        "buckets": _buckets(deployment),
        "objects": objects,
        "notifications": _notifications(deployment),
        "expirations": _expirations(deployment),
    }
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(assets_root())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters["hcl"] = hcl
    template = environment.get_template("main.tf.j2")
    text = template.render(
        d=deployment,
        functions=functions,
        profiles=profiles,
        storage=storage,
        failures=failures,
        builder=builder,
        version=__version__,
        credentials_variable=CREDENTIALS_VARIABLE,
        module_source=module_source,
        module_version=module_version,
    )
    return RenderedRoot(align(text), artifacts)


def repository_prefix(deployment: Deployment) -> str:
    """Every ECR repository of the deployment starts with this and a `/` (render/terraform/ecr_names.py)."""
    return part(deployment.name)


def _image_architecture(function: Function, architecture: str) -> str | None:
    """The architecture that tells a function's images apart: none when it has one image."""
    return architecture if len(function.image_architectures) > 1 else None


def _layer_input(name: str, layer: StagedLayer) -> dict[str, Any]:
    return {
        "bucket": ARTIFACTS_BUCKET,
        "key": _object_key(name),
        "digest": layer.layer.digest,
        "diff_id": layer.layer.diff_id,
        "size": layer.layer.size,
        "comment": layer.layer.comment,
    }


def _image_view(function: Function, architecture: str, repository: str, layers: list[dict[str, Any]]) -> dict[str, Any]:
    """One image module: per function, or per function and architecture when it needs two."""
    suffix = f"_{architecture}" if _image_architecture(function, architecture) else ""
    module = f"{IMAGE_MODULE_PREFIX}{function.name}{suffix}"
    view: dict[str, Any] = {
        "module": module,
        "uri": Raw(f"module.{module}.image_uri"),
        "repository_name": repository,
        "architecture": architecture,
        "layers": layers,
        "entrypoint": list(contract.IMAGE_ENTRYPOINT),
        "environment": IMAGE_ENVIRONMENT,
        "credentials_secret": function.registry_credentials,
        # Lambda pulls only the image of the function's first architecture (Batch uses its own roles).
        "lambda_function_names": [function.name]
        if function.lambda_runs_image and architecture == function.architectures[0]
        else [],
    }
    view["base_image"] = function.image  # or, from an image_file, the staged archive
    view["base_archive"] = (
        {"bucket": ARTIFACTS_BUCKET, "key": _object_key(f"base/{function.name}")} if function.image_file else None
    )
    return view


def _builder_storage(deployment: Deployment) -> int | None:
    """The builder's /tmp in MB: enough for the largest base archive (validation refused any too large)."""
    scratch = max((f.image_file_scratch for f in deployment.functions if f.builds_images), default=0)
    return ephemeral_storage_mb(scratch) if scratch else None


def _object(key: str, artifact: RootFile) -> dict[str, Any]:
    return {
        "bucket": ARTIFACTS,
        "key": key,
        "source": Raw(f'"${{path.module}}/{artifact.path}"'),
        "source_hash": artifact.sha256_hex,
    }


def _buckets(deployment: Deployment) -> dict[str, Any]:
    buckets: dict[str, Any] = {}
    if deployment.needs_artifacts_bucket:
        # Staged configs, scripts and the supervisor are rebuilt by every render: nothing of
        # value is lost when `terraform destroy` empties this bucket.
        buckets[ARTIFACTS] = {"name_prefix": deployment.artifacts_bucket_prefix, "force_destroy": True}
    for name, bucket in deployment.buckets.items():
        entry: dict[str, Any] = {"name": name}
        if bucket.existing:
            entry["create"] = False
        if bucket.force_destroy:
            entry["force_destroy"] = True
        buckets[name] = entry
    return buckets


def _notifications(deployment: Deployment) -> dict[str, Any]:
    notifications: dict[str, Any] = {}
    for function in deployment.functions:
        module = f"module.{lambda_module(function)}"
        for index, location in enumerate(function.inputs):
            entry: dict[str, Any] = {
                "bucket": location.bucket,
                "function_name": Raw(f"{module}.function_name"),
                "function_arn": Raw(f"{module}.function_arn"),
            }
            if location.filter_prefix:
                entry["filter_prefix"] = location.filter_prefix
            notifications[f"{function.name}/{index}"] = entry
    return notifications


def _expirations(deployment: Deployment) -> dict[str, Any]:
    """The events a Batch function's Lambda stages for its jobs are deleted after some days."""
    return {
        f"staged-events/{function.name}": {
            "bucket": ARTIFACTS,
            "prefix": contract.staged_events_prefix(function.name),
            "days": function.batch.staged_events_expiration_days,
        }
        for function in deployment.functions
        if function.batch
    }


def lambda_module(function: Function) -> str:
    return f"{LAMBDA_MODULE_PREFIX}{function.name}"


def iam_module(function: Function) -> str:
    return f"{IAM_MODULE_PREFIX}{function.name}"


def profile_module(profile_name: str) -> str:
    return f"{PROFILE_MODULE_PREFIX}{profile_name}"


def _function_view(
    deployment: Deployment, function: Function, zip_artifact: Artifact | None, images: dict[str, Any]
) -> dict[str, Any]:
    profile = profile_module(deployment.profile_name(function.batch.profile)) if function.batch else None
    environment = lambda_environment(function, ARTIFACTS_BUCKET, Raw(f"module.{profile}.job_queue_arn"))
    return {
        "name": function.name,
        "function": function,
        "iam_module": iam_module(function),
        "lambda_module": lambda_module(function),
        "profile_module": profile,
        "zip_path": zip_artifact.path if zip_artifact else None,
        "zip_hash": zip_artifact.sha256_base64 if zip_artifact else None,
        "images": images,
        "built_images": [image for image in images.values() if "module" in image],
        "image_uri": images[function.architectures[0]]["uri"] if function.lambda_runs_image else None,
        "inputs": _locations(list(function.inputs)),
        "outputs": _locations([o.location for o in function.outputs if o.is_own_account]),
        "kms_keys": sorted(
            {
                key
                for location in [*function.inputs, *(o.location for o in function.outputs if o.is_own_account)]
                if (key := deployment.buckets[location.bucket].kms_key)
            }
        ),
        "credentials_parameters": [
            _credentials_parameter(deployment.storage_providers[i]) for i in function.provider_idents
        ],
        "environment": environment,
        # A role given in the FDL is not ours to extend: without sqs:SendMessage on the queue, AWS
        # refuses the destination, so such a function's failed events are not kept.
        "failure_queue": None if function.role_arn else FAILURE_QUEUE,
    }


def _credentials_parameter(provider: StorageProvider) -> str:
    """A parameter this deployment writes by reference (so that it exists before it is read)."""
    if provider.managed:
        return Raw(f'aws_ssm_parameter.{CREDENTIALS_VARIABLE}["{provider.ident}"].name')
    return provider.parameter


def _profile_view(
    deployment: Deployment, key: str, profile: ComputeProfile, images: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    members = deployment.functions_of(key)
    job_definitions = {}
    for function in members:
        assert function.batch
        environment: dict[str, Any] = dict(function.batch.environment)
        environment[contract.ARTIFACTS_BUCKET] = ARTIFACTS_BUCKET
        environment[contract.CONFIG_URI] = Raw(
            f'"s3://${{module.storage.bucket_names["_artifacts"]}}/${{module.storage.object_keys["{function.name}/config"]}}"'
        )
        job: dict[str, Any] = {
            "image": images[function.name][profile.architecture]["uri"],
            "vcpus": function.batch.vcpus,
            "memory": function.batch.memory,
        }
        if function.batch.gpus:
            job["gpus"] = function.batch.gpus
        job["job_role_arn"] = Raw(f"module.{iam_module(function)}.job_role_arn")
        job["environment"] = dict(sorted(environment.items()))
        if function.batch.nodes > 1:
            job["nodes"] = {"count": function.batch.nodes, "main": function.batch.main_node}
        job["retry_attempts"] = function.batch.retry_attempts
        job["timeout"] = function.batch.timeout
        job_definitions[function.name] = job
    return {
        "module": profile_module(key),
        "name": deployment.job_queue_name(key),
        "profile": profile,
        "function_names": [f.name for f in members],
        "job_definitions": job_definitions,
    }

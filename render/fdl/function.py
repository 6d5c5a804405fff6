"""One function of the FDL: its settings checked and turned into a `Function`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from faas_supervisor.contract import CONFIG_FILE_NAME, SUPERVISOR_PATH, S3Location
from faas_supervisor.image.archive_space import EPHEMERAL_STORAGE_MB, ephemeral_storage_mb, scratch_bytes
from faas_supervisor.image.errors import ImageError, InvalidReference
from faas_supervisor.image.layer_bounds import BATCH_LIMITS, LayerLimits, check_archive
from faas_supervisor.image.reference import parse_reference

from render.fdl.batch import resolve_batch
from render.fdl.container_environment import RESERVED_LAMBDA_ENV
from render.fdl.errors import Location, Problem
from render.fdl.locations import provider_ident, resolve_location
from render.fdl.model import ApiGateway, Function, Output
from render.fdl.settings import FunctionSettings, Settings

# Names the Lambda zip already uses at its root.
RESERVED_SCRIPT_NAMES = {CONFIG_FILE_NAME, "faas_supervisor"}
RUNTIME = re.compile(r"^python3\.(\d+)$")
MIN_PYTHON_MINOR = 12
ZIP_RUNTIME = "python3.12"
UNSUPPORTED: dict[tuple[str, ...], str] = {
    ("lambda", "run_script"): "run_script (a script sent with each invocation) is not supported; use init_script",
    ("lambda", "extra_payload"): "extra_payload is not supported; put the files in the image or in S3",
}
IGNORED: dict[tuple[str, ...], str] = {
    ("lambda", "preheat"): "preheat is not needed (nothing is pulled at start-up) and is ignored",
    ("lambda", "deployment", "bucket"): "deployment.bucket is ignored: the zip is uploaded by Terraform directly",
    ("lambda", "container", "alpine"): "container.alpine is not needed (the supervisor brings its own C library and "
    "runs in musl and glibc images alike) and is ignored",
    ("ecr", "delete_image"): "ecr.delete_image is not needed: the image's repository belongs to the deployment and "
    "`terraform destroy` deletes it with its images",
}
# An ECR image: what Lambda runs, so what `create_image: false` must name.
ECR_IMAGE = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_.-]+)$"
)
# API Gateway's integration timeout (REST APIs; more only through a quota increase).
API_GATEWAY_TIMEOUT = 29
SECRET_ID = re.compile(r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}$")


def resolve_function(
    fs: FunctionSettings, settings: Settings, problems: list[Problem], warnings: list[str]
) -> Function | None:
    """The function, or None when it has problems (each added to `problems`)."""
    start = len(problems)
    lam: dict[str, Any] = fs.values["lambda"]
    name, mode = lam["name"], lam["execution_mode"]
    _check_supported_keys(fs, problems, warnings)
    _check_runtime(fs, problems)
    _check_threshold(fs, problems)
    image = fs.get(("lambda", "container", "image"))
    script = _script(fs, problems)
    image_file, scratch = _image_file(fs, mode, problems)
    _check_something_runs(fs, mode, image, script, problems)
    create_image = _check_image_settings(fs, mode, image, image_file, problems)
    lambda_env, container_env = _environments(fs, mode, problems)
    inputs, outputs = _folders(fs, settings, problems)
    role = fs.get(("iam", "role")) or None
    account_match = re.search(r"\d{12}", role or "")
    account = account_match.group(0) if account_match else None
    batch = resolve_batch(fs, mode, account, container_env, problems) if mode in ("batch", "lambda-batch") else None
    if len(problems) > start:
        return None
    vpc = fs.get(("lambda", "vpc")) or {}
    file_system = (fs.get(("lambda", "file_system")) or [None])[0]
    api_name = fs.get(("api_gateway", "name"))
    if api_name and lam["timeout"] > API_GATEWAY_TIMEOUT:
        warnings.append(
            f"{fs.origin(('lambda', 'timeout'))}: {lam['timeout']} s is longer than API Gateway waits for a function "
            f"({API_GATEWAY_TIMEOUT} s): HTTP clients get 504 Gateway Timeout while the function keeps running "
            "(S3 uploads still get the full timeout)"
        )
    return Function(
        name=name,
        description=lam["description"],
        execution_mode=mode,
        memory=lam["memory"],
        timeout=lam["timeout"],
        ephemeral_storage=lam["ephemeral_storage"],
        runtime=ZIP_RUNTIME if lam["runtime"] == "image" else lam["runtime"],  # the zip of a batch function
        architectures=tuple(lam["architectures"]),
        layers=tuple(lam["layers"]),
        log_level=lam["log_level"].upper(),
        lambda_environment=lambda_env,
        image=image or None,
        image_file=image_file,
        image_file_scratch=scratch,
        create_image=create_image,
        registry_credentials=fs.get(("lambda", "container", "registry_credentials")) or None,
        timeout_threshold=fs.get(("lambda", "container", "timeout_threshold")),
        container_environment=container_env,
        script=script,
        inputs=inputs,
        outputs=outputs,
        role_arn=role,
        log_retention_days=fs.get(("cloudwatch", "log_retention_policy_in_days")),
        vpc_subnets=tuple(vpc.get("SubnetIds") or ()),
        vpc_security_groups=tuple(vpc.get("SecurityGroupIds") or ()),
        file_system=(file_system["Arn"], file_system["LocalMountPath"]) if file_system else None,
        api_gateway=ApiGateway(api_name, fs.get(("api_gateway", "stage_name"))) if api_name else None,
        batch=batch,
        retry_attempts=fs.get(("lambda", "asynchronous_invocation", "retry_attempts")),
        max_event_age=fs.get(("lambda", "asynchronous_invocation", "max_event_age")),
    )


def _check_supported_keys(fs: FunctionSettings, problems: list[Problem], warnings: list[str]) -> None:
    for path, message in UNSUPPORTED.items():
        if fs.get(path) not in (None, False, ""):
            problems.append((fs.origin(path), message))
    for path, message in IGNORED.items():
        if fs.get(path) not in (None, False, ""):
            warnings.append(f"{fs.origin(path)}: {message}")


def _check_runtime(fs: FunctionSettings, problems: list[Problem]) -> None:
    runtime = fs.get(("lambda", "runtime"))
    match = RUNTIME.match(runtime)
    if runtime == "image":
        if not fs.get(("lambda", "container", "image")) and not fs.get(("lambda", "container", "image_file")):
            problems.append(
                (fs.origin(("lambda", "runtime")), "runtime 'image' needs container.image or container.image_file")
            )
    elif not match or int(match.group(1)) < MIN_PYTHON_MINOR:
        problems.append(
            (
                fs.origin(("lambda", "runtime")),
                f"runtime {runtime!r} is not supported; use python3.12 or newer "
                "(AWS no longer accepts older Python runtimes for new functions)",
            )
        )


def _check_threshold(fs: FunctionSettings, problems: list[Problem]) -> None:
    timeout, threshold = fs.get(("lambda", "timeout")), fs.get(("lambda", "container", "timeout_threshold"))
    if threshold >= timeout:
        problems.append(
            (
                fs.origin(("lambda", "container", "timeout_threshold")),
                f"timeout_threshold ({threshold} s) must be less than the function timeout ({timeout} s)",
            )
        )


def _check_something_runs(
    fs: FunctionSettings, mode: str, image: str | None, script: Path | None, problems: list[Problem]
) -> None:
    if mode in ("batch", "lambda-batch") and not image:
        problems.append(
            (
                fs.origin(("lambda", "container")),
                f"execution_mode {mode} needs container.image: the Batch job runs in it",
            )
        )
    if not image and not script and not fs.get(("lambda", "container", "image_file")):
        problems.append((fs.origin(("lambda",)), "nothing to run: set init_script, container.image, or both"))


def _image_file(fs: FunctionSettings, mode: str, problems: list[Problem]) -> tuple[Path | None, int]:
    """The archive, checked within the layer bounds (Lambda's unless only Batch runs it) before it is staged,
    and the bytes of the image builder's /tmp a build from it takes (archive_space)."""
    path = ("lambda", "container", "image_file")
    value = fs.get(path)
    if not value:
        return None, 0
    origin = fs.origin(path)
    found = _relative_file(origin, value)
    if not found.is_file():
        problems.append(
            (
                origin,
                f"image_file not found: {value} (looked for {found}; paths are relative to the file that names them)",
            )
        )
        return None, 0
    try:
        check_archive(found, BATCH_LIMITS if mode == "batch" else LayerLimits(), f"image_file {value}")
        scratch = scratch_bytes(found)
    except ImageError as error:  # LayerRefused, or ArchiveError from a tar that tarfile cannot read
        problems.append((origin, str(error)))
        return None, 0
    storage, most = ephemeral_storage_mb(scratch), EPHEMERAL_STORAGE_MB[1]
    if storage > most:
        copies = scratch - found.stat().st_size
        problems.append(
            (
                origin,
                f"image_file {value}: the image builder would need {storage} MB of /tmp to build from it (the "
                f"archive's {found.stat().st_size} bytes, up to {copies} bytes of gzipped copies of its uncompressed "
                f"members, and headroom), more than Lambda's {most} MB of ephemeral storage; give an archive whose "
                "layers are gzipped (they need no copies), or push the image to a registry and name it in "
                "container.image",
            )
        )
        return None, 0
    return found, scratch


def _check_image_settings(
    fs: FunctionSettings, mode: str, image: str | None, image_file: Path | None, problems: list[Problem]
) -> bool:
    """Whether faas-render builds the function's image (container.create_image, true unless set false)."""
    create = fs.get(("lambda", "container", "create_image")) is not False
    if image and image_file:
        problems.append(
            (fs.origin(("lambda", "container", "image_file")), "give container.image or container.image_file, not both")
        )
    if image:
        try:
            parse_reference(image)
        except InvalidReference as error:
            problems.append((fs.origin(("lambda", "container", "image")), str(error)))
    if not create:
        origin = fs.origin(("lambda", "container", "create_image"))
        if image_file or not image or not ECR_IMAGE.match(image):
            problems.append(
                (
                    origin,
                    "create_image: false uses a prepared image as it is: container.image must then be an Amazon ECR "
                    f"image (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG or @sha256:...) whose entry point is "
                    f"the faas-render supervisor ({SUPERVISOR_PATH})",
                )
            )
    if (image or image_file) and mode != "batch" and fs.get(("lambda", "layers")):
        problems.append(
            (
                fs.origin(("lambda", "layers")),
                "Lambda layers cannot be attached to a container image function: put their files in the image",
            )
        )
    secret = fs.get(("lambda", "container", "registry_credentials"))
    if secret and not SECRET_ID.match(secret):
        problems.append(
            (
                fs.origin(("lambda", "container", "registry_credentials")),
                "registry_credentials must name a Secrets Manager secret (its name or ARN) holding "
                '{"username": ..., "password": ...}',
            )
        )
    return create


def _environments(fs: FunctionSettings, mode: str, problems: list[Problem]) -> tuple[dict[str, str], dict[str, str]]:
    """The Lambda function's own variables and the script's (container.environment).

    Where the Lambda function runs the script, the script's values are deployed in its environment
    (render/fdl/container_environment.py); their size is checked with the rest in checks.py.
    """
    lambda_env = fs.variables(("lambda", "environment", "Variables"))
    container_env = fs.variables(("lambda", "container", "environment", "Variables"))
    for key in sorted(set(lambda_env) & RESERVED_LAMBDA_ENV):
        problems.append(
            (fs.origin(("lambda", "environment", "Variables", key)), "this variable is reserved by AWS Lambda")
        )
    if mode != "batch":
        for key in sorted(set(lambda_env) & set(container_env)):
            if lambda_env[key] != container_env[key]:
                problems.append(
                    (
                        fs.origin(("lambda", "container", "environment", "Variables", key)),
                        f"{key} is also in lambda.environment.Variables with another value; both are "
                        "deployed in the one Lambda environment, so give it one value",
                    )
                )
    return lambda_env, container_env


def _folders(
    fs: FunctionSettings, settings: Settings, problems: list[Problem]
) -> tuple[tuple[S3Location, ...], tuple[Output, ...]]:
    """Input and output folders; an output inside the function's own input would loop forever."""
    lam = fs.values["lambda"]
    inputs = tuple(
        resolve_location(fs, ("lambda", "input", i), entry, settings, problems, is_input=True)
        for i, entry in enumerate(lam.get("input") or [])
    )
    outputs = tuple(
        Output(
            resolve_location(fs, ("lambda", "output", i), entry, settings, problems, is_input=False),
            tuple(entry.get("suffix") or ()),
            tuple(entry.get("prefix") or ()),
            provider_ident(entry["storage_provider"]),
        )
        for i, entry in enumerate(lam.get("output") or [])
    )
    for out_index, output in enumerate(outputs):
        for source in inputs:
            if output.location.overlaps(source):
                problems.append(
                    (
                        fs.origin(("lambda", "output", out_index, "path")),
                        f"output '{output.location}' overlaps this function's own input '{source}': every result "
                        "would trigger the function again (an endless loop); write results to another folder",
                    )
                )
    return inputs, outputs


def _script(fs: FunctionSettings, problems: list[Problem]) -> Path | None:
    path = ("lambda", "init_script")
    value = fs.get(path)
    if not value:
        return None
    origin = fs.origin(path)
    script = _relative_file(origin, value)
    if script.name in RESERVED_SCRIPT_NAMES:
        problems.append((origin, f"the script cannot be named {script.name!r}: the deployment package uses that name"))
        return None
    if not script.is_file():
        problems.append(
            (
                origin,
                f"init_script file not found: {value} (looked for {script}; "
                "paths are relative to the file that names them)",
            )
        )
        return None
    return script


def _relative_file(origin: Location, value: str) -> Path:
    """A path named in the FDL, relative to the file that names it."""
    base = Path(origin.file).parent if origin.line else Path.cwd()
    return (base / value).resolve() if not Path(value).is_absolute() else Path(value)

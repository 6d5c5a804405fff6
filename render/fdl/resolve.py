"""Turn merged settings into a validated Deployment, collecting every problem before failing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from render.fdl import schema_check
from render.fdl.defaults import DEFAULT_GPU_INSTANCE_TYPES, DEFAULT_INSTANCE_TYPES
from render.fdl.errors import FdlError, Location
from render.fdl.model import ApiGateway, BatchJob, Bucket, ComputeProfile, Deployment, Function, Output, S3Location
from render.fdl.settings import FunctionSettings, Settings
from render.fdl.storage_credentials import storage_providers
from render.fdl.yaml_source import KeyPath

Problem = tuple[Location, str]

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IP_SHAPED = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Names the Lambda zip already uses at its root.
RESERVED_SCRIPT_NAMES = {"function_config.json", "faas_supervisor"}
RUNTIME = re.compile(r"^python3\.(\d+)$")
MIN_PYTHON_MINOR = 12
LAMBDA_ENV_LIMIT = 4096
RESERVED_LAMBDA_ENV = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
}
# Room kept in the Lambda environment for the variables Terraform adds (queue ARN, bucket, ...).
FAAS_ENV_RESERVE = 512
# Fargate accepts these memory sizes (MiB) for each whole number of vCPUs.
FARGATE_MEMORY = {
    1: range(2048, 8192 + 1, 1024),
    2: range(4096, 16384 + 1, 1024),
    4: range(8192, 30720 + 1, 1024),
    8: range(16384, 61440 + 1, 4096),
    16: range(32768, 122880 + 1, 8192),
}
GPU_FAMILIES = ("g", "p")
UNSUPPORTED = {
    ("lambda", "container", "image_file"): "container.image_file (an image tarball inside the zip) is not "
    "supported; push the image to a registry and set container.image",
    ("lambda", "run_script"): "run_script (a script sent with each invocation) is not supported; use init_script",
    ("lambda", "extra_payload"): "extra_payload is not supported; put the files in the image or in S3",
}
IGNORED = {
    ("lambda", "preheat"): "preheat is not needed (nothing is pulled at start-up) and is ignored",
    ("lambda", "deployment", "bucket"): "deployment.bucket is ignored: the zip is uploaded by Terraform directly",
}


def resolve(settings: Settings, name: str | None = None, region: str | None = None) -> Deployment:
    problems: list[Problem] = []
    warnings = list(settings.warnings)
    problems += schema_check.check(settings.fdl.data, settings.fdl.location)
    functions: list[Function] = []
    for fs in settings.functions:
        function_problems = schema_check.check(fs.values, fs.origin, ref="function")
        if function_problems:
            problems += function_problems
            continue
        function = _function(fs, settings, problems, warnings)
        if function:
            functions.append(function)
    if problems:
        raise FdlError(problems)

    _check_unique_names(functions, settings, problems)
    deployment_region = region or _single_region(settings, problems)
    buckets = _buckets(functions, settings, problems, warnings)
    _check_triggers(functions, settings, problems)
    _check_workflow_loops(functions, settings, problems)
    if problems:
        raise FdlError(problems)
    deployment_name = name or stack_name(settings.fdl.path)
    providers = storage_providers(functions, settings, deployment_name, problems, warnings)
    if problems:
        raise FdlError(problems)
    source = settings.fdl.path.read_bytes()
    return Deployment(
        name=deployment_name,
        region=deployment_region,
        source_name=settings.fdl.path.name,
        source_sha256=hashlib.sha256(source).hexdigest(),
        functions=functions,
        buckets=buckets,
        warnings=warnings,
        storage_providers=providers,
    )


def stack_name(fdl_path: Path) -> str:
    """A name for the shared resources, from the FDL file name: lowercase letters, digits, '-'."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", fdl_path.stem.lower()).strip("-")
    return (cleaned or "faas")[:32].rstrip("-")


def _function(
    fs: FunctionSettings, settings: Settings, problems: list[Problem], warnings: list[str]
) -> Function | None:
    start = len(problems)
    lam: dict[str, Any] = fs.values["lambda"]
    name = lam["name"]
    mode = lam["execution_mode"]

    for path, message in UNSUPPORTED.items():
        if fs.get(path) not in (None, False, ""):
            problems.append((fs.origin(path), message))
    for path, message in IGNORED.items():
        if fs.get(path) not in (None, False, ""):
            warnings.append(f"{fs.origin(path)}: {message}")

    runtime = lam["runtime"]
    match = RUNTIME.match(runtime)
    if runtime == "image":
        problems.append(
            (
                fs.origin(("lambda", "runtime")),
                "runtime 'image' (container-image Lambda functions) is not "
                "supported yet; use a python3.12+ runtime: the supervisor runs the script",
            )
        )
    elif not match or int(match.group(1)) < MIN_PYTHON_MINOR:
        problems.append(
            (
                fs.origin(("lambda", "runtime")),
                f"runtime {runtime!r} is not supported; use python3.12 or newer "
                "(AWS no longer accepts older Python runtimes for new functions)",
            )
        )

    timeout, threshold = lam["timeout"], fs.get(("lambda", "container", "timeout_threshold"))
    if threshold >= timeout:
        problems.append(
            (
                fs.origin(("lambda", "container", "timeout_threshold")),
                f"timeout_threshold ({threshold} s) must be less than the function timeout ({timeout} s)",
            )
        )

    image = fs.get(("lambda", "container", "image"))
    script = _script(fs, problems)
    if mode in ("batch", "lambda-batch") and not image:
        problems.append(
            (
                fs.origin(("lambda", "container")),
                f"execution_mode {mode} needs container.image: the Batch job runs in it",
            )
        )
    if not image and not script and not fs.get(("lambda", "container", "image_file")):
        problems.append((fs.origin(("lambda",)), "nothing to run: set init_script, container.image, or both"))

    lambda_env = _variables(fs, ("lambda", "environment", "Variables"))
    container_env = _variables(fs, ("lambda", "container", "environment", "Variables"))
    for key in sorted(set(lambda_env) & RESERVED_LAMBDA_ENV):
        problems.append(
            (fs.origin(("lambda", "environment", "Variables", key)), "this variable is reserved by AWS Lambda")
        )
    env_size = sum(len(k) + len(v) for k, v in lambda_env.items()) + FAAS_ENV_RESERVE
    if env_size > LAMBDA_ENV_LIMIT:
        problems.append(
            (
                fs.origin(("lambda", "environment", "Variables")),
                f"the Lambda environment would be about {env_size} bytes; AWS allows 4 KB in total "
                "(put large values in container.environment or in S3)",
            )
        )

    inputs = tuple(
        _location(fs, ("lambda", "input", i), entry, settings, problems, is_input=True)
        for i, entry in enumerate(lam.get("input") or [])
    )
    outputs = tuple(
        Output(
            _location(fs, ("lambda", "output", i), entry, settings, problems, is_input=False),
            tuple(entry.get("suffix") or ()),
            tuple(entry.get("prefix") or ()),
            _provider_ident(entry["storage_provider"]),
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

    role = fs.get(("iam", "role")) or None
    account_match = re.search(r"\d{12}", role or "")
    account = account_match.group(0) if account_match else None
    vpc = fs.get(("lambda", "vpc")) or {}
    file_system = (fs.get(("lambda", "file_system")) or [None])[0]
    api_name = fs.get(("api_gateway", "name"))
    if mode != "batch" and image and not script:
        warnings.append(
            f"{fs.origin(('lambda', 'container', 'image'))}: function {name!r} has no init_script: in Lambda it "
            "runs the image's own command through udocker, which the Lambda runtime has only if you add it (a layer)"
        )
    if mode != "lambda" and fs.get(("batch", "compute_resources", "type")) == "FARGATE":
        warnings.append(
            f"{fs.origin(('batch', 'compute_resources', 'type'))}: Fargate jobs cannot mount the supervisor from "
            f"the host: the image of {name!r} must contain /opt/faas-render/bin/faas-supervisor"
        )
    batch = _batch(fs, mode, account, container_env, problems) if mode in ("batch", "lambda-batch") else None
    if len(problems) > start:
        return None
    return Function(
        name=name,
        description=lam["description"],
        execution_mode=mode,
        memory=lam["memory"],
        timeout=timeout,
        ephemeral_storage=lam["ephemeral_storage"],
        runtime=runtime,
        architectures=tuple(lam["architectures"]),
        layers=tuple(lam["layers"]),
        log_level=lam["log_level"].upper(),
        lambda_environment=lambda_env,
        image=image or None,
        timeout_threshold=threshold,
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
    )


def _variables(fs: FunctionSettings, path: KeyPath) -> dict[str, str]:
    values = fs.get(path) or {}
    return {key: _env_string(values[key]) for key in sorted(values)}


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _script(fs: FunctionSettings, problems: list[Problem]) -> Path | None:
    path = ("lambda", "init_script")
    value = fs.get(path)
    if not value:
        return None
    origin = fs.origin(path)
    base = Path(origin.file).parent if origin.line else Path.cwd()
    script = (base / value).resolve() if not Path(value).is_absolute() else Path(value)
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


def _provider_ident(provider: str) -> str:
    """ "s3" for the deployment's own account (SCAR's bare `s3` and `s3.default`), else "s3.ID"."""
    return "s3" if provider in ("s3", "s3.default") else provider


def _location(
    fs: FunctionSettings,
    path: KeyPath,
    entry: dict[str, Any],
    settings: Settings,
    problems: list[Problem],
    is_input: bool,
) -> S3Location:
    provider = entry["storage_provider"]
    kind, _, ident = provider.partition(".")
    origin = fs.origin(path + ("storage_provider",))
    if kind in ("minio", "onedata", "webdav", "rucio"):
        problems.append((origin, f"storage provider '{kind}' is not supported on AWS; faas-render supports s3"))
    elif kind != "s3":
        problems.append((origin, f"unknown storage provider '{provider}'; expected s3 or s3.ID"))
    elif ident and ident != "default":
        declared = settings.storage_providers.get("s3") or {}
        if ident not in declared:
            problems.append(
                (origin, f"unknown storage provider '{provider}': no storage_providers.s3.{ident} is defined")
            )
        elif is_input:
            problems.append(
                (
                    origin,
                    f"inputs must be buckets of the deployment's own account (storage_provider: s3), "
                    f"not '{provider}': S3 can only trigger functions in its own account",
                )
            )
    raw = entry["path"].strip("/")
    if CONTROL_CHARACTERS.search(raw):
        problems.append((fs.origin(path + ("path",)), "the path contains control characters (tabs, newlines, ...)"))
    bucket, _, prefix = raw.partition("/")
    problem = bucket_name_problem(bucket)
    if problem:
        problems.append((fs.origin(path + ("path",)), f"bucket name {bucket!r} {problem}"))
    return S3Location(bucket, prefix.strip("/"))


def bucket_name_problem(bucket: str) -> str | None:
    if not BUCKET_NAME.match(bucket):
        return (
            "is not valid: use 3-63 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
        )
    if ".." in bucket or IP_SHAPED.match(bucket):
        return "is not valid: no '..' and not shaped like an IP address"
    return None


def _batch(
    fs: FunctionSettings, mode: str, account: str | None, container_env: dict[str, str], problems: list[Problem]
) -> BatchJob | None:
    cr = fs.get(("batch", "compute_resources"))
    start = len(problems)
    compute_type = cr["type"]
    for key in ("subnets", "security_group_ids"):
        if not cr.get(key):
            problems.append(
                (
                    fs.origin(("batch", "compute_resources", key)),
                    f"execution_mode {mode} needs batch.compute_resources.{key} (Batch launches its hosts or "
                    "tasks into your VPC); set it in the FDL or in a --config file",
                )
            )
    gpu = bool(fs.get(("batch", "enable_gpu")))
    vcpus, memory = fs.get(("batch", "vcpus")), fs.get(("batch", "memory"))
    low, desired, high = cr["min_v_cpus"], cr["desired_v_cpus"], cr["max_v_cpus"]
    if not low <= desired <= high:
        problems.append(
            (
                fs.origin(("batch", "compute_resources")),
                f"need min_v_cpus <= desired_v_cpus <= max_v_cpus, got {low} / {desired} / {high}",
            )
        )
    if vcpus > high:
        problems.append(
            (
                fs.origin(("batch", "vcpus")),
                f"the job asks for {vcpus} vCPUs but the compute environment has at most {high} "
                "(max_v_cpus): it would never run",
            )
        )
    if fs.get(("batch", "multi_node_parallel", "enabled")):
        problems.append(
            (fs.origin(("batch", "multi_node_parallel", "enabled")), "multi-node parallel jobs are not supported yet")
        )
    if compute_type == "FARGATE":
        if gpu:
            problems.append(
                (
                    fs.origin(("batch", "enable_gpu")),
                    "enable_gpu cannot work with compute_resources.type FARGATE (Fargate has no GPUs); use EC2 or SPOT",
                )
            )
        if memory not in FARGATE_MEMORY.get(vcpus, ()):
            allowed = FARGATE_MEMORY.get(vcpus)
            hint = (
                f"{allowed.start}-{allowed.stop - 1} MiB in steps of {allowed.step}"
                if allowed
                else "vcpus 1, 2, 4, 8 or 16"
            )
            problems.append(
                (fs.origin(("batch", "memory")), f"Fargate does not offer {vcpus} vCPU with {memory} MiB; use {hint}")
            )
    instance_types = cr.get("instance_types")
    if compute_type != "FARGATE" and gpu and instance_types:
        non_gpu = [t for t in instance_types if not t.startswith(GPU_FAMILIES)]
        if non_gpu:
            problems.append(
                (
                    fs.origin(("batch", "compute_resources", "instance_types")),
                    f"enable_gpu needs GPU instance types (g*, p*), not {', '.join(non_gpu)}",
                )
            )
    if not instance_types:
        instance_types = DEFAULT_GPU_INSTANCE_TYPES if gpu else DEFAULT_INSTANCE_TYPES
    instance_role = _role(fs, ("batch", "compute_resources", "instance_role"), account, problems)
    service_role = _role(fs, ("batch", "service_role"), account, problems)
    if len(problems) > start:
        return None
    profile = ComputeProfile(
        compute_type=compute_type,
        min_vcpus=0 if compute_type == "FARGATE" else low,
        desired_vcpus=0 if compute_type == "FARGATE" else desired,
        max_vcpus=high,
        instance_types=() if compute_type == "FARGATE" else tuple(instance_types),
        subnets=tuple(cr["subnets"]),
        security_group_ids=tuple(cr["security_group_ids"]),
        instance_role=None if compute_type == "FARGATE" else instance_role,
        service_role=service_role,
        enable_gpu=gpu,
    )
    environment = dict(container_env)
    environment.update(_variables(fs, ("batch", "environment", "Variables")))
    return BatchJob(vcpus, memory, 1 if gpu else 0, dict(sorted(environment.items())), profile)


def _role(fs: FunctionSettings, path: KeyPath, account: str | None, problems: list[Problem]) -> str | None:
    value = fs.get(path) or None
    if value and "{account_id}" in value:
        if not account:
            problems.append(
                (
                    fs.origin(path),
                    "cannot fill in {account_id}: write the full ARN, or set iam.role to a role ARN of the account",
                )
            )
            return None
        value = value.replace("{account_id}", account)
    return value


def _check_unique_names(functions: list[Function], settings: Settings, problems: list[Problem]) -> None:
    seen: dict[str, int] = {}
    for index, fs in enumerate(settings.functions):
        name = fs.get(("lambda", "name"))
        if name in seen:
            problems.append(
                (fs.origin(("lambda", "name")), f"duplicate function name {name!r} (also functions.aws[{seen[name]}])")
            )
        else:
            seen[name] = index


def _single_region(settings: Settings, problems: list[Problem]) -> str:
    regions: dict[str, Location] = {}
    for fs in settings.functions:
        for path in (("lambda", "region"), ("batch", "region")):
            value = fs.get(path)
            if value:
                regions.setdefault(value, fs.origin(path))
    if len(regions) > 1:
        first, *others = regions.items()
        for value, origin in others:
            problems.append(
                (
                    origin,
                    f"region {value!r} differs from {first[0]!r} ({first[1]}): one FDL deploys to one region; "
                    "split the file or use --region",
                )
            )
    return next(iter(regions), "us-east-1")


def _buckets(
    functions: list[Function], settings: Settings, problems: list[Problem], warnings: list[str]
) -> dict[str, Bucket]:
    names = sorted(
        {loc.bucket for f in functions for loc in [*f.inputs, *(o.location for o in f.outputs if o.is_own_account)]}
    )
    for name in sorted(set(settings.buckets) - set(names)):
        warnings.append(f"{settings.bucket_origins[name]}: bucket {name!r} is not used by any function; ignored")
    result = {}
    for name in names:
        options = settings.buckets.get(name) or {}
        result[name] = Bucket(name, bool(options.get("existing")), bool(options.get("force_destroy")))
    return result


def _check_triggers(functions: list[Function], settings: Settings, problems: list[Problem]) -> None:
    """S3 refuses two notification rules of one bucket whose prefixes overlap (and we set no suffix)."""
    seen: list[tuple[S3Location, str]] = []
    origins = {fs.get(("lambda", "name")): fs for fs in settings.functions}
    for function in functions:
        for index, location in enumerate(function.inputs):
            for other, owner in seen:
                if location.overlaps(other):
                    origin = origins[function.name].origin(("lambda", "input", index, "path"))
                    whose = (
                        "another input of this function"
                        if owner == function.name
                        else f"the input of function {owner!r}"
                    )
                    problems.append(
                        (
                            origin,
                            f"input '{location}' overlaps {whose} ('{other}'): S3 refuses overlapping "
                            "notification filters on one bucket; use separate folders",
                        )
                    )
            seen.append((location, function.name))


def _check_workflow_loops(functions: list[Function], settings: Settings, problems: list[Problem]) -> None:
    """Functions whose outputs trigger each other in a circle would run forever."""
    edges = {
        f.name: sorted(
            {
                g.name
                for g in functions
                for o in f.outputs
                for i in g.inputs
                if g.name != f.name and o.location.overlaps(i)
            }
        )
        for f in functions
    }
    origins = {fs.get(("lambda", "name")): fs for fs in settings.functions}
    done: set[str] = set()
    trail: list[str] = []

    def visit(node: str) -> None:
        # Depth-first search; a neighbour still on the trail closes a loop.
        trail.append(node)
        for nxt in edges[node]:
            if nxt in trail:
                cycle = trail[trail.index(nxt) :]
                chain = " -> ".join([*cycle, nxt])
                problems.append(
                    (
                        origins[cycle[0]].origin(("lambda", "output")),
                        f"the outputs of these functions trigger each other in a loop: {chain}",
                    )
                )
            elif nxt not in done:
                visit(nxt)
        trail.pop()
        done.add(node)

    for name in sorted(edges):
        if name not in done:
            visit(name)

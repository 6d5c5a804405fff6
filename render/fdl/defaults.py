"""Built-in defaults, and the outdated SCAR defaults that a SCAR user's scar.cfg still carries."""

from __future__ import annotations

from typing import Any

from faas_supervisor.contract import ASYNC_MAX_EVENT_AGE, ASYNC_RETRY_ATTEMPTS

from render.fdl.yaml_source import KeyPath

# The lowest layer of every function's settings. SCAR's key names, our values: a supported
# Python runtime, Lambda's current memory range, and no previous-generation instance types
# (Batch instance types are chosen in resolve.py, because the right default depends on GPUs).
BUILTIN_DEFAULTS: dict[str, Any] = {
    "lambda": {
        "region": "us-east-1",
        "execution_mode": "lambda",
        "timeout": 300,
        "memory": 512,
        "ephemeral_storage": 512,
        "description": "Deployed by faas-render",
        "runtime": "python3.12",
        "architectures": ["x86_64"],
        "log_level": "INFO",
        "layers": [],
        "environment": {"Variables": {}},
        "container": {"timeout_threshold": 10, "environment": {"Variables": {}}},
        "asynchronous_invocation": {"retry_attempts": ASYNC_RETRY_ATTEMPTS, "max_event_age": ASYNC_MAX_EVENT_AGE},
    },
    "iam": {"role": ""},
    "cloudwatch": {"log_retention_policy_in_days": 30},
    "api_gateway": {"stage_name": "scar"},
    "batch": {
        "vcpus": 1,
        "memory": 1024,
        "enable_gpu": False,
        # Ours: a job runs again when its host goes away, never after it failed; a job attempt
        # stops after a day, and a job Batch cannot place is cancelled after an hour.
        "retry_attempts": 3,
        "timeout": 86400,
        "runnable_timeout": 3600,
        "staged_events_expiration_days": 14,
        "state": "ENABLED",
        "type": "MANAGED",
        "environment": {"Variables": {}},
        "multi_node_parallel": {"enabled": False, "number_nodes": 10, "main_node_index": 0},
        "compute_resources": {
            "type": "EC2",
            "desired_v_cpus": 0,
            "min_v_cpus": 0,
            "max_v_cpus": 2,
            "subnets": [],
            "security_group_ids": [],
        },
    },
}

# SCAR writes its own defaults into ~/.scar/scar.cfg on first run, so almost every SCAR user's
# config file carries these values. Taken literally they would break every render (AWS refuses
# python3.7) or pin old hardware, so a config-file value equal to SCAR's shipped default is
# dropped and ours applies. Values written in an FDL file are always taken as meant.
STALE_SCAR_DEFAULTS: dict[KeyPath, Any] = {
    ("lambda", "runtime"): "python3.7",
    ("lambda", "description"): "Automatically generated lambda function",
    ("lambda", "environment", "Variables"): {
        "UDOCKER_BIN": "/opt/udocker/bin/",
        "UDOCKER_LIB": "/opt/udocker/lib/",
        "UDOCKER_DIR": "/tmp/shared/udocker",
        "UDOCKER_EXEC": "/opt/udocker/udocker.py",
    },
    ("batch", "compute_resources", "instance_types"): ["m3.medium"],
    ("batch", "compute_resources", "launch_template_name"): "faas-supervisor",
    ("batch", "compute_resources", "instance_role"): "arn:aws:iam::{account_id}:instance-profile/ecsInstanceRole",
    ("batch", "service_role"): "arn:aws:iam::{account_id}:role/service-role/AWSBatchServiceRole",
}

DEFAULT_INSTANCE_TYPES = ["m6i", "c6i", "r6i"]
DEFAULT_GPU_INSTANCE_TYPES = ["g4dn"]

"""The local AWS emulator: a moto server on loopback, set up the way faas-render needs it.

`faas local` runs it in the foreground on 127.0.0.1:4566 (LocalStack's port, so localstack-client
sessions and AWS_ENDPOINT_URL=http://127.0.0.1:4566 reach it); the tests start one per session on
a free port. `create_network` makes the VPC, subnet and security group Batch functions need.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
EMULATOR_CONFIG = {"batch": {"use_docker": False}, "lambda": {"use_docker": False}}


def configure(endpoint: str) -> None:
    """moto runs neither Lambda code nor Batch containers: faas-render runs the supervisor itself."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps(EMULATOR_CONFIG).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def check_free(host: str, port: int) -> None:
    """Raise OSError when host:port cannot be listened on (moto's server thread would hang on it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def start(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> tuple[ThreadedMotoServer, str]:
    """Start a moto server in this process (port 0 picks a free one); returns it and its endpoint.

    Raises OSError when the address is taken.
    """
    check_free(host, port)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AWS managed policies can be attached
    _no_lambda_runs_on_s3_events()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    endpoint = f"http://{bound_host}:{bound_port}"
    configure(endpoint)
    return server, endpoint


def _no_lambda_runs_on_s3_events() -> None:
    """Keep moto from running S3-triggered Lambda functions itself: local mode runs them.

    moto's S3 notifications invoke the function through Docker whatever `lambda.use_docker` says
    (with a Docker daemon it would run every function a second time; without one it writes
    "error running docker" into the function's log group). No setting turns that off, so this
    replaces moto's internal hook; the server runs in this process.
    """
    from moto.s3 import notifications

    notifications._invoke_awslambda = lambda *args, **kwargs: None


def reset(endpoint: str) -> None:
    """Forget every resource (about a second) and set the emulator up again."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).read()
    configure(endpoint)


def create_network(config_file: Path, region: str = "us-east-1", ec2: Any | None = None) -> tuple[str, str]:
    """Create a VPC, a subnet and a security group, and write them as Batch settings.

    `ec2` is the client to use (default: boto3's, from the environment).
    """
    if ec2 is None:
        import boto3

        ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.80.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName=f"faas-render-{vpc}", Description="faas-render Batch hosts")[
        "GroupId"
    ]
    config_file.write_text(
        "# Batch network settings created in the local emulator\n"
        f"aws:\n  batch:\n    compute_resources:\n      subnets: [{subnet}]\n      security_group_ids: [{group}]\n"
    )
    return subnet, group

"""The local AWS emulator: a moto server on loopback, set up the way faas-render needs it.

`faas local` runs it in the foreground on 127.0.0.1:4566 (LocalStack's port, so localstack-client
sessions and AWS_ENDPOINT_URL=http://127.0.0.1:4566 reach it), and runs the functions uploads
trigger and Invoke requests ask for (render/local/service.py); the tests start one per session on
a free port. What it changes of moto is in render/local/moto/: its ECR keeps the images pushed to
it (served back by render/local/registry.py), its Batch takes what the batch module sends.
`create_network` makes the VPC, subnet and security group Batch functions need.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.request
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from render.local import moto as moto_patches  # not `moto`: that is moto itself
from render.local.ecr_blobs import BlobStore
from render.local.service import LocalService
from render.local.state import JOB_ENDS, JOURNAL, RECORDING, JobEnds, Journal, replay

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.serving import BaseWSGIServer

    from render.local.options import LocalOptions

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


@dataclass
class Emulator:
    """A running moto server (and, for `faas local`, the service that runs functions)."""

    endpoint: str
    server: BaseWSGIServer
    thread: threading.Thread
    service: LocalService | None = None
    restore: list[Callable[[], None]] = field(default_factory=list)  # moto as it was before `start`

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        if self.service:
            self.service.stop()
        while self.restore:
            self.restore.pop()()


class EmulatorMissing(ImportError):
    """The emulator's server (moto) is an optional part of faas-render."""


def require_emulator() -> None:
    """Raise EmulatorMissing, naming what to install, when moto is not one the emulator fits or its
    server cannot be imported."""
    try:
        moto_patches.check_version()
    except moto_patches.MotoUnsupported as error:
        raise EmulatorMissing(str(error)) from None
    try:
        import moto.moto_server.werkzeug_app  # noqa: F401
    except ImportError as error:
        raise EmulatorMissing(
            f"the local emulator needs moto's server ({error.name} is missing): pip install 'faas-render[local]'"
        ) from None


def start(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    run_functions: bool = False,
    verbose: bool = False,
    output: Callable[[str], None] = print,
    options: LocalOptions | None = None,
    state: Path | None = None,
) -> Emulator:
    """Start a moto server in this process (port 0 picks a free one).

    With `run_functions`, uploads run the functions their bucket notifications name, and Invoke
    runs the function (render/local/service.py; `output` gets its progress, `verbose` adds the
    functions' output; `options` says where and how many at once); without, nothing runs them but
    `faas put` and `faas invoke`. Either way its ECR keeps what is pushed (render/local/moto/ecr.py).
    With `state` (a folder) it first replays what that folder recorded, then records there, and
    runs again the events a stop or a crash cut short (render/local/state.py).
    Raises MotoUnsupported when the installed moto does not fit (render/local/moto/), OSError when
    the address is taken.
    """
    moto_patches.check_version()  # before anything is imported from moto
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from render.local import function_traffic, registry

    check_free(host, port)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AWS managed policies can be attached
    moto_app = DomainDispatcherApplication(lambda service: quiet(create_backend_app(service)))
    server = make_server(host, port, moto_app, threaded=True, request_handler=MotoRequestHandler)
    endpoint = f"http://{host}:{server.server_port}"
    store = BlobStore()
    journal = job_ends = None
    if state is not None:
        journal, job_ends = Journal(state / JOURNAL), JobEnds(state / JOB_ENDS)
    service = LocalService(endpoint, verbose, output, options, journal, job_ends) if run_functions else None
    try:
        restore = [store.remove, moto_patches.install(store, service)]
    except BaseException:
        server.server_close()
        store.remove()
        raise
    app = registry.wsgi(moto_app, store)
    if service:
        app = service.wsgi(app)
        service.start()
    server.app = function_traffic.wsgi(app)
    thread = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    thread.start()
    configure(endpoint)
    if state is not None:
        with service.paused() if service else nullcontext():
            replayed = replay(state / RECORDING, endpoint)
        restore.append(moto_patches.record_to(state / RECORDING))
        resumed = service.resume() if service else 0
        if replayed or resumed:
            output(f"state: {replayed} recorded request(s) replayed, {resumed} event(s) in flight queued again")
    return Emulator(endpoint, server, thread, service, restore)


def quiet(app: Flask) -> Flask:
    """moto's Flask app for a service, out of Flask's debug mode.

    moto turns debug on, and Flask's debug helper for form data ties every request into a
    reference cycle: each request's body (a 10 MB layer part, a large S3 object) then stays in
    memory until the garbage collector happens to run. Errors still answer 500.
    """
    app.debug = False
    return app


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

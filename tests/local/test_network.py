"""A run's own network namespace (render/local/execution/network.py), made for real: what is reachable
from inside, and what is not. They need root (network namespaces); without it they skip."""

from __future__ import annotations

import functools
import shutil
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from render.local.execution import network
from render.local.execution.network import Network, loopback_endpoints
from tests.helpers import run_faas

needs_namespaces = pytest.mark.skipif(not network.possible(), reason="network namespaces need root and nsenter")
needs_pasta = pytest.mark.skipif(shutil.which("pasta") is None, reason="no pasta (Debian package passt)")
GREETING = b"hello from the host"


@pytest.fixture
def host_service() -> Iterator[int]:
    """A TCP service on this host's loopback that greets each connection: its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    closed = threading.Event()

    def serve() -> None:
        while not closed.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.sendall(GREETING)

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    closed.set()
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()


def _greeting(host: str, port: int) -> bytes | None:
    """What a connection to host:port says, from the calling thread's namespace; None: unreachable."""
    try:
        with socket.create_connection((host, port), timeout=3) as connection:
            return connection.recv(len(GREETING))
    except OSError:
        return None


def _gateway() -> str | None:
    """The namespace's default gateway (read in the thread that entered it)."""
    with open("/proc/thread-self/net/route") as routes:
        for line in routes.read().splitlines()[1:]:
            fields = line.split()
            if fields[1] == "00000000":
                return socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
    return None


def test_loopback_endpoints_are_the_aws_endpoints_on_this_host() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_ENDPOINT_URL_S3": "http://localhost:9000/",
        "AWS_ENDPOINT_URL_STS": "https://[::1]",
        "AWS_ENDPOINT_URL_ECR": "http://0.0.0.0:4566",  # an emulator listening on every address
        "AWS_ENDPOINT_URL_LAMBDA": "https://lambda.us-east-1.amazonaws.com",
        "OTHER_URL": "http://127.0.0.1:5000",
    }
    assert loopback_endpoints(env) == [("127.0.0.1", 4566), ("127.0.0.1", 9000), ("::1", 443), ("0.0.0.0", 4566)]


@needs_namespaces
def test_only_the_endpoint_is_relayed(host_service: int) -> None:
    other = socket.create_server(("127.0.0.1", 0))  # another loopback service of the host
    try:
        net = Network([("127.0.0.1", host_service)], internet=False)
        try:
            assert net.inside(functools.partial(_greeting, "127.0.0.1", host_service)) == GREETING
            assert net.inside(functools.partial(_greeting, "127.0.0.1", other.getsockname()[1])) is None
            assert net.inside(_gateway) is None  # no internet asked: no route out
        finally:
            net.close()
    finally:
        other.close()


@needs_namespaces
def test_each_run_has_its_own_loopback() -> None:
    """A socket listening in one namespace is out of reach of another and of the host: what keeps an
    instance's Runtime API its own."""
    first, second = Network([], internet=False), Network([], internet=False)
    try:
        listener = first.inside(functools.partial(socket.create_server, ("127.0.0.1", 0)))
        port = listener.getsockname()[1]
        threading.Thread(target=lambda: listener.accept()[0].sendall(GREETING), daemon=True).start()
        assert second.inside(functools.partial(_greeting, "127.0.0.1", port)) is None
        assert _greeting("127.0.0.1", port) is None
        assert first.inside(functools.partial(_greeting, "127.0.0.1", port)) == GREETING  # the nodes of a job share one
        listener.close()
    finally:
        first.close()
        second.close()


@needs_namespaces
@needs_pasta
def test_the_internet_without_the_hosts_loopback(host_service: int) -> None:
    """With the internet, pasta gives the namespace a route out; its gateway is not a way to the
    host's loopback (pasta maps it there by default)."""
    net = Network([], internet=True)
    try:
        gateway = net.inside(_gateway)
        assert gateway is not None
        assert net.inside(functools.partial(_greeting, gateway, host_service)) is None
        assert net.inside(functools.partial(_greeting, "127.0.0.1", host_service)) is None
        pasta = net._pasta
        assert pasta is not None and pasta.poll() is None
    finally:
        net.close()
    assert pasta.poll() is not None  # closing ends it


def test_no_internet_is_refused_where_runs_share_the_hosts_network() -> None:
    """`faas local --no-internet` with no network namespace to cut (here --on-host) stops at once."""
    result = run_faas("local", "--no-internet", "--on-host", "--port", "1")
    assert (result.code, result.err.count("\n")) == (2, 1), result.err
    assert result.err.startswith("faas local: --no-internet needs a network namespace per run"), result.err

"""A network namespace of its own for each sandboxed run: what a function may reach, and nothing else.

Started as root, each Lambda instance and each Batch job runs in a fresh network namespace, made
here (not by the sandbox tool) so that this process can open sockets inside it before the run
starts. It holds a loopback interface and:
- the instance's Runtime API, whose listening socket is created inside the namespace (`inside`):
  it exists nowhere else, so no other instance, function or host user can reach it;
- a relay for each loopback AWS endpoint of the run's environment (AWS_ENDPOINT_URL: the
  emulator): a socket inside on the same address and port, whose connections this process
  carries to the host's endpoint, so the function's AWS_ENDPOINT_URL is unchanged;
- the internet, when allowed, through pasta (Debian package passt, what rootless podman uses),
  told to forward no port either way and not to map its gateway to the host (`--no-map-gw`): the
  host's loopback services (a registry mirror, a database, another deployment's anything) stay
  out of reach, and so does everything on the host not listening on a routable address.
The sandbox joins the namespace through nsenter (`Sandbox.start`), as root, before it drops
privileges; the run's user has no capability over it. A namespace may be shared: the nodes of a
multi-node Batch job, given the same Network, reach each other on its loopback.
Without root (or where the kernel refuses one) there is no namespace (a user namespace's network
could not reach the emulator without a relay process of its own): `missing()` says so at start,
and each Runtime API is then guarded only by its secret path (runtime_api.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import ipaddress
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = "16sH14x"  # struct ifreq: the interface's name, then its flags
CHUNK = 65536
PASTA_READY_S = 3.0  # pasta configures the namespace in milliseconds; past this the run goes on without
# pasta: no port forwarded either way (its defaults forward every port bound on the host's loopback),
# and the gateway address stays the gateway's, not a way to the host's loopback (--no-map-gw). It
# keeps uid 0 (as nobody it cannot join a namespace root made) but confines itself before it
# handles any packet: a seccomp filter, no_new_privs, a mount namespace of its own, and of its
# capabilities only CAP_NET_BIND_SERVICE and CAP_SYS_ADMIN (measured).
PASTA_OPTIONS = ["-f", "-q", "--runas", "0", "--config-net", "--no-map-gw"]
PASTA_OPTIONS += ["-t", "none", "-u", "none", "-T", "none", "-U", "none"]
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
# Relayed connections reach the host's endpoint from this address: no process on the host uses it,
# so the emulator knows a function's requests by it (render/local/function_traffic.py).
RELAY_SOURCE = "127.0.0.2"
ROUTABLE_PROBE = ("192.0.2.1", 9)  # TEST-NET-1: a UDP connect only looks the route up, nothing is sent

_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


@functools.cache
def possible() -> bool:
    """Whether this process can make network namespaces (root, and a kernel that lets it: tried once)."""
    if os.geteuid() != 0 or shutil.which("nsenter") is None:
        return False
    try:
        os.close(_in_thread(_create))
    except OSError:
        return False
    return True


def internet_possible() -> bool:
    """Whether a namespace can be given the internet here (pasta)."""
    return shutil.which("pasta") is not None


def missing() -> list[str]:
    """What this machine lacks for the network bound, for people (nothing when everything is here)."""
    if not possible():
        return ["a network namespace per run (needs root and nsenter): the host's loopback services are reachable"]
    return []


def loopback_endpoints(env: Mapping[str, str], also: Iterable[str] = ()) -> list[tuple[str, int]]:
    """The run's AWS endpoints on this host's loopback (the emulator), and those of the URLs `also`
    (local mode's registry mirror, for the image builder), which its namespace relays."""
    found: list[tuple[str, int]] = []
    named = [
        value for name, value in env.items() if name == ENDPOINT_VARIABLE or name.startswith(f"{ENDPOINT_VARIABLE}_")
    ]
    for value in [*named, *also]:
        parts = urlsplit(value)
        host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname or ""
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(host)
            if address.is_loopback or address.is_unspecified:  # unspecified: an emulator on every address
                port = parts.port or (443 if parts.scheme == "https" else 80)
                if (host, port) not in found:
                    found.append((host, port))
    return found


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        flags = struct.unpack(IFREQ, fcntl.ioctl(probe, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0)))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


def _in_thread(action: Callable[[], T]) -> T:
    """`action`'s result, run in a thread of its own (namespace changes are per thread; it then ends)."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(action())
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)

    thread = threading.Thread(target=run, name="network-namespace")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _create() -> int:
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    _loopback_up()
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


class Network:
    """One network namespace (see the module's docstring); `close` ends what this process holds of it."""

    def __init__(self, endpoints: list[tuple[str, int]], internet: bool) -> None:
        self.fd = _in_thread(_create)
        self._closed = threading.Event()
        self._listeners: list[socket.socket] = []
        self._pasta: subprocess.Popen[bytes] | None = None
        try:
            for host, port in endpoints:
                listener = self.inside(functools.partial(_listen, host, port))
                self._listeners.append(listener)
                threading.Thread(target=self._relay_from, args=(listener, (host, port)), daemon=True).start()
            if internet and internet_possible():
                self._pasta = self._connect_internet()
        except BaseException:
            self.close()
            raise

    def inside(self, action: Callable[[], T]) -> T:
        """`action` run in the namespace: a socket it creates belongs to the namespace for good."""

        def entered() -> T:
            _check(_libc.setns(self.fd, CLONE_NEWNET), "setns")
            return action()

        return _in_thread(entered)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
            listener.close()
        if self._pasta is not None:
            self._pasta.kill()
            self._pasta.wait()
        os.close(self.fd)

    def _connect_internet(self) -> subprocess.Popen[bytes]:
        argv = [shutil.which("pasta") or "pasta", *PASTA_OPTIONS, "--netns", f"/proc/self/fd/{self.fd}"]
        pasta = subprocess.Popen(
            argv, pass_fds=(self.fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + PASTA_READY_S
        while not self.inside(_routable) and pasta.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if pasta.poll() is not None:
            message = (pasta.stderr.read() if pasta.stderr else b"").decode(errors="replace").strip()
            raise OSError(f"pasta could not connect the namespace to the internet: {message or pasta.returncode}")
        return pasta

    def _relay_from(self, listener: socket.socket, target: tuple[str, int]) -> None:
        while not self._closed.is_set():
            try:
                inner, _ = listener.accept()
            except OSError:
                return
            try:
                outer = socket.create_connection(target, source_address=_relay_source(target))
            except OSError:
                inner.close()  # the endpoint is down: the run sees a refused connection
                continue
            threading.Thread(target=_relay, args=(inner, outer), daemon=True).start()


def _relay_source(target: tuple[str, int]) -> tuple[str, int] | None:
    """RELAY_SOURCE for an IPv4 endpoint (IPv6 has one loopback address: the connection keeps it)."""
    return (RELAY_SOURCE, 0) if ":" not in target[0] else None


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(64)
    return listener


def _routable() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(ROUTABLE_PROBE)
        except OSError:
            return False
    return True


def _relay(inner: socket.socket, outer: socket.socket) -> None:
    """One relayed connection, both ways, until both ends are done."""
    back = threading.Thread(target=_copy, args=(outer, inner), daemon=True)
    back.start()
    _copy(inner, outer)
    back.join()
    inner.close()
    outer.close()


def _copy(source: socket.socket, target: socket.socket) -> None:
    """One direction of a relayed connection; its end is passed on as a half-close."""
    try:
        while data := source.recv(CHUNK):
            target.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
    with contextlib.suppress(OSError):
        source.shutdown(socket.SHUT_RD)

"""Attacks on every sandbox this machine has, started as root: each must fail.

A function's script tries what a hostile image would (capabilities, a root-only file, a
read-write remount of the unpack cache, mounting the host's disk, a chroot escape, the host's
processes, a memory hog, a fork bomb, filling /dev/shm and /tmp, a loopback service of the host,
another instance's Runtime API); a .zip function's handler, run by the real LambdaRuntime on this
host's Python, tries the same as F2 of the attack report did (a root-only file, writing the host's
folders, the host's processes, uid 0). Each attack runs through the real
Sandbox.start in a child process held in outer bounds of this module's own (a memory and a pids
cgroup, written here, not by the code under test) with its scratch folders on a small loop-mounted
file system, so a sandbox that does not hold cannot take the machine down. Without root (or
without those outer bounds) they are skipped: the bounds they test are root's.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from render.aws.connection import connect
from render.aws.deployed import DeployedFunction
from render.local.execution import cgroups, sandbox
from render.local.execution.kept_output import HEAD_BYTES, TAIL_BYTES
from render.local.execution.lambda_runner import LambdaRuntime
from render.local.execution.network import internet_possible
from render.local.execution.process import LOGGED, Log, run_logged
from render.local.execution.runtime_api import RuntimeApi
from render.local.execution.zip_root import host_binds
from tests.local.outer_bounds import entering, outer_groups, remove_groups, scratch_fs, scratch_fs_available

OUTER_MEMORY = 512 * 1024 * 1024
OUTER_PIDS = 256
INNER_PIDS = 64  # the sandbox's own process bound in these runs, below the outer one
SCRATCH_MB = 128
CANARY = "canary-7f3e1d"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:attacks"
NEXT = "2018-06-01/runtime/invocation/next"
RESPONSE = "2018-06-01/runtime/invocation/forged/response"
# busybox's wget crashes in this static build: HTTP by hand, `get HOST PORT PATH [METHOD]`.
HTTP = 'get() { printf "${4:-GET} $3 HTTP/1.0\\r\\nContent-Length: 0\\r\\n\\r\\n" | nc -w 3 "$1" "$2"; }; '
ESCAPE_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {  /* the chroot escape: chroot deeper, climb out through an fd */
    mkdir("/tmp/e", 0755);
    int top = open("/", O_RDONLY);
    if (chroot("/tmp/e") != 0) { perror("chroot"); return 1; }
    if (fchdir(top) != 0) { perror("fchdir"); return 1; }
    for (int i = 0; i < 64; i++) chdir("..");
    if (chroot(".") != 0) { perror("chroot ."); return 1; }
    char text[64] = {0};
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0 || read(fd, text, sizeof text - 1) < 0) { perror("open"); return 1; }
    printf("escaped: %s\n", text);
    return 0;
}
"""

PRELOAD_C = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void loaded(void) {  /* any host program that loads this says so */
    const char *marker = getenv("PRELOAD_MARKER");
    if (marker) close(open(marker, O_WRONLY | O_CREAT, 0644));
}
"""

ZIP_HANDLER = """\
import os


def attempt(action):
    try:
        return action()
    except OSError as error:
        return f"refused: {error.strerror}"


def write(path):
    with open(path, "a") as target:
        target.write("poisoned")
    return "wrote"


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as source:
        return source.read().decode(errors="replace")


def calls(path):
    # Calls that take a path, some of which proot does not translate: what each made of `path`.
    import ctypes, struct
    libc = ctypes.CDLL(None, use_errno=True)
    at, name, buffer = -100, path.encode(), ctypes.create_string_buffer(512)
    tried = {
        "openat2": (437, at, name, struct.pack("QQQ", os.O_PATH, 0, 0), 24),
        "statx": ({"x86_64": 332, "aarch64": 291}[os.uname().machine], at, name, 0, 0xFFF, buffer),
        "faccessat2": (439, at, name, os.F_OK, 0),
        "fchmodat2": (452, at, name, 0o600, 0),
        "file_getattr": (468, at, name, buffer, 64, 0),
    }
    answers = {}
    for call, arguments in tried.items():
        done = libc.syscall(*arguments)
        answers[call] = "reached" if done >= 0 else f"refused: {os.strerror(ctypes.get_errno())}"
    return answers


def handler(event, context):
    with open("/proc/self/status") as source:
        status = dict(line.split(":", 1) for line in source.read().splitlines())
    return {
        "status": {name: status[name].strip() for name in ("Uid", "CapEff", "CapBnd", "NoNewPrivs")},
        "read": {path: attempt(lambda: open(path).read()) for path in event["read"]},
        "listed": {path: attempt(lambda: sorted(os.listdir(path))) for path in event["list"]},
        "wrote": {path: attempt(lambda: write(path)) for path in event["write"]},
        "processes": [attempt(lambda: cmdline(pid)) for pid in os.listdir("/proc") if pid.isdigit()],
        "killed": attempt(lambda: os.kill(event["kill"], 9) or "killed") if event["kill"] else None,
        "calls": {path: calls(path) for path in event.get("calls", [])},
    }
"""

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the attacks test root's sandboxes and bounds"),
    pytest.mark.slow,  # 60 sandboxed runs, a minute of the fast lane's two: left to `make test`
]
SANDBOXES = [chosen for chosen in sandbox.available() if chosen.name != "podman"]


@dataclass(frozen=True)
class Outer:
    groups: list[Path]  # the outer memory and pids groups
    scratch: Path  # on the loop-mounted file system
    root: Path  # the attacks' image root (busybox, the escape helper, a root-only file)
    canary: Path  # a root-only file on the host, outside every root


@dataclass(frozen=True)
class Result:
    status: int
    output: str
    oom: bool
    pid_refusals: int  # forks the sandbox's own pids bound refused
    kept: int = -1  # characters of output kept, when read as local mode reads a run's


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path).encode())
        if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o004:
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def outer(busybox_root: Path) -> Iterator[Outer]:
    top = Path(tempfile.mkdtemp(prefix="faas-attacks-"))
    top.chmod(0o755)
    groups = outer_groups(f"faas-attacks-{os.getpid()}", OUTER_MEMORY, OUTER_PIDS)
    try:
        if len(groups) < 2 or not scratch_fs_available():
            pytest.skip("no outer memory and pids cgroups, or no mkfs.ext4: the attacks stay unrun")
        with scratch_fs(top / "scratch.ext4", top / "scratch", SCRATCH_MB) as mounted:
            root = top / "root"
            shutil.copytree(busybox_root, root, symlinks=True)
            for folder in ("var/task", "proc", "dev", "tmp", "etc"):
                (root / folder).mkdir(parents=True, exist_ok=True)
            (root / "secret").write_text(CANARY)
            (root / "secret").chmod(0o600)
            canary = top / "canary"
            canary.write_text(CANARY)
            canary.chmod(0o600)
            _build_escape(root / "bin" / "escape", top)
            yield Outer(groups, mounted, root, canary)
    finally:
        remove_groups(groups)
        shutil.rmtree(top, ignore_errors=True)


def _build_escape(target: Path, work: Path) -> None:
    """The chroot escape as a static program (busybox has no chroot escape), when a C compiler is here."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return
    (work / "escape.c").write_text(ESCAPE_C)
    built = subprocess.run([compiler, "-static", "-O", "-o", str(target), str(work / "escape.c")], capture_output=True)
    if built.returncode == 0:
        target.chmod(0o755)


def attack(
    chosen: sandbox.Sandbox,
    outer: Outer,
    script: str,
    seconds: float = 20,
    env: dict[str, str] | None = None,
    own_event: str | None = None,
    internet: bool = True,
    kept: bool = False,
    **spec: Any,
) -> Result:
    """`script` run by busybox sh in `chosen` (with `env`, the function's environment), from a child
    process held in the outer bounds, in the network namespace the sandbox gives a run (as the
    runners do; `internet`: as `faas local` without --no-internet); with `own_event`, also with a
    Runtime API of its own holding that event."""
    scratch = Path(tempfile.mkdtemp(dir=outer.scratch))
    scratch.chmod(0o755)
    order: dict[str, Any] = {"sandbox": chosen.name, "root": str(outer.root), "scratch": str(scratch), "script": script}
    order |= {"seconds": seconds, "spec": spec, "env": {"PATH": "/bin", **(env or {})}, "own_event": own_event}
    order["internet"] = internet
    order["kept"] = kept  # the output read as local mode reads a run's (a bounded log), not to a file
    argv = entering(outer.groups, [sys.executable, __file__, json.dumps(order)])
    try:
        child = subprocess.run(argv, capture_output=True, timeout=seconds + 30, check=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert child.returncode == 0, child.stderr.decode()
    return Result(**json.loads(child.stdout))


def _child(order: dict[str, Any]) -> dict[str, Any]:
    """In the outer bounds: run the attack in the named sandbox and report how it ended."""
    cgroups.PIDS_MAX = INNER_PIDS
    chosen = next(s for s in sandbox.available() if s.name == order["sandbox"])
    chosen = dataclasses.replace(chosen, internet=order["internet"])
    argv = ["/bin/busybox", "sh", "-c", order["script"]]
    network = chosen.own_network(order["env"])
    env, api = order["env"], None
    if order["own_event"] is not None:
        api = RuntimeApi(FUNCTION_ARN, network)
        api.invoke(order["own_event"].encode(), timeout_s=60)
        env = {**env, "AWS_LAMBDA_RUNTIME_API": api.address}
    spec = sandbox.RunSpec(Path(order["root"]), argv, env, Path(order["scratch"]), network=network, **order["spec"])
    if order["kept"]:
        log = Log()
        process = chosen.start(spec, **LOGGED)
        status = run_logged(process, log, timeout=order["seconds"]).returncode
        kept = sum(len(text) + 1 for _, text in log.lines)
        if network is not None:
            network.close()
        return {"status": status, "output": "\n".join(log.tail(3)), "oom": False, "pid_refusals": 0, "kept": kept}
    with tempfile.TemporaryFile() as output:
        process = chosen.start(spec, stdout=output, stderr=subprocess.STDOUT)
        deadline, refusals = time.monotonic() + order["seconds"], 0
        while True:
            # Not reaped yet (WNOWAIT): its groups, which its reaping releases, are read once more
            # after it ended (a bomb can exhaust its bound and end between two reads).
            ended = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
            for group in process.group.folders if process.group else []:
                with contextlib.suppress(OSError):
                    for line in (group / "pids.events").read_text().splitlines():
                        refusals = max(refusals, int(line.split()[1]) if line.startswith("max ") else 0)
            if ended or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
        status = process.wait()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    if api is not None:
        api.close()
    if network is not None:
        network.close()
    return {"status": status, "output": text, "oom": process.out_of_memory(), "pid_refusals": refusals}


@pytest.fixture(params=SANDBOXES, ids=lambda s: s.name)
def chosen(request: pytest.FixtureRequest) -> sandbox.Sandbox:
    chosen: sandbox.Sandbox = request.param
    return chosen


def test_no_privileges(chosen: sandbox.Sandbox, outer: Outer) -> None:
    result = attack(chosen, outer, "grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status")
    fields = dict(line.split(":", 1) for line in result.output.splitlines())
    assert fields["Uid"].split()[0] != "0", result.output
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapBnd"], 16) == 0, result.output
    assert fields["NoNewPrivs"].strip() == "1", result.output
    assert fields["Seccomp"].strip() == "2", result.output  # a filter (seccomp_filter.py's)


def test_root_only_files_stay_unread(chosen: sandbox.Sandbox, outer: Outer) -> None:
    result = attack(chosen, outer, f"cat /secret; cat {outer.canary}; cat /proc/1/root{outer.canary}; echo done")
    assert CANARY not in result.output and result.output.endswith("done\n"), result.output


def test_the_root_stays_read_only(chosen: sandbox.Sandbox, outer: Outer) -> None:
    before = _tree_digest(outer.root)
    script = (
        "mount -o remount,rw / && echo remounted; for f in /poison /var/task/poison /bin/poison /dev/poison; "
        "do echo x > $f && echo wrote $f; done; echo hostname > /proc/sys/kernel/hostname && echo wrote sysctl; echo done"
    )
    result = attack(chosen, outer, script)
    assert "remounted" not in result.output and "wrote" not in result.output, result.output
    assert result.output.endswith("done\n") and _tree_digest(outer.root) == before


def test_no_mounting_the_hosts_disk(chosen: sandbox.Sandbox, outer: Outer) -> None:
    device = os.stat("/").st_dev
    script = (
        f"mknod /tmp/disk b {os.major(device)} {os.minor(device)} && echo made; mkdir -p /tmp/m; "
        "mount -t tmpfs none /tmp/m && echo mounted; mount /tmp/disk /tmp/m && echo mounted disk; "
        "unshare -r -m true && echo namespace; echo done"
    )
    result = attack(chosen, outer, script)
    assert "made" not in result.output and "mounted" not in result.output, result.output
    assert "namespace" not in result.output, result.output  # the seccomp filter's, under proot


def test_no_chroot_escape(chosen: sandbox.Sandbox, outer: Outer) -> None:
    if not (outer.root / "bin" / "escape").exists():
        pytest.skip("no static C compiler here to build the escape")
    result = attack(chosen, outer, f"chroot /tmp true && echo chrooted; /bin/escape {outer.canary}; echo done")
    assert "chrooted" not in result.output and CANARY not in result.output, result.output


def test_host_processes_are_invisible(chosen: sandbox.Sandbox, outer: Outer) -> None:
    result = attack(chosen, outer, "ls /proc | grep -c '^[0-9]'")
    assert int(result.output.split()[-1]) <= 5, result.output


def test_a_memory_hog_is_killed(chosen: sandbox.Sandbox, outer: Outer) -> None:
    if cgroups.missing():
        pytest.skip(f"not bounded here: {cgroups.missing()}")
    result = attack(chosen, outer, "dd if=/dev/zero of=/dev/null bs=320M count=1; echo dd=$?", memory_mb=128)
    assert result.oom and "dd=137" in result.output, result.output


def test_a_fork_bomb_is_stopped(chosen: sandbox.Sandbox, outer: Outer) -> None:
    if cgroups.missing():
        pytest.skip(f"not bounded here: {cgroups.missing()}")
    result = attack(chosen, outer, "bomb() { bomb | bomb & }; bomb; sleep 3", seconds=6)
    pids = next(group for group in outer.groups if (group / "pids.max").exists())
    outer_refusals = [line for line in (pids / "pids.events").read_text().splitlines() if line.startswith("max ")]
    assert result.pid_refusals > 0, result.output[-500:]
    assert outer_refusals in ([], ["max 0"]), "the bomb reached the outer bound: the sandbox's own did not hold"


def test_an_output_flood_is_kept_within_bounds(chosen: sandbox.Sandbox, outer: Outer) -> None:
    """30 MB of output (150 MB once cost the emulator 560 MB): the log keeps its first and last MiB."""
    flood = "yes $(head -c 1000 /dev/zero | tr '\\0' x) | head -c 30000000; echo; echo end"  # 30,000 lines
    result = attack(chosen, outer, flood, seconds=90, kept=True)
    assert result.status == 0, result.output
    assert result.kept <= HEAD_BYTES + TAIL_BYTES + 1000, result.kept
    assert result.output.splitlines()[-1] == "end"  # the tail is kept


def test_dev_shm_and_tmp_are_bounded(chosen: sandbox.Sandbox, outer: Outer) -> None:
    script = (
        "dd if=/dev/zero of=/dev/shm/fill bs=1M count=100 2>/dev/null; echo shm=$?; "
        "dd if=/dev/zero of=/tmp/fill bs=1M count=100 2>/dev/null; echo tmp=$?; "
        "du -m /dev/shm/fill /tmp/fill 2>/dev/null; df -T /tmp 2>/dev/null | tail -1"
    )
    result = attack(chosen, outer, script, tmp_mb=32, memory_mb=128)
    assert "shm=1" in result.output and "tmp=1" in result.output, result.output
    sizes = {line.split()[1]: int(line.split()[0]) for line in result.output.splitlines() if "/fill" in line}
    assert sizes.get("/dev/shm/fill", 0) <= sandbox.SHM_MB and sizes.get("/tmp/fill", 0) <= 48, result.output


def test_batch_tmp_is_on_disk(chosen: sandbox.Sandbox, outer: Outer) -> None:
    if chosen.name == "proot":
        pytest.skip("proot's /tmp is a bound folder: df cannot see it")
    result = attack(chosen, outer, "grep ' /tmp ' /proc/mounts", tmp_mb=64, tmp_on_disk=True)
    assert " ext4 " in result.output, result.output


class _Canary(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(CANARY)))
        self.end_headers()
        self.wfile.write(CANARY.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def emulator_endpoint(moto_endpoint: str) -> str:
    """The emulator on this host's loopback, as `faas local` runs it: the session's (moto's backends
    are per process, so one emulator per test process)."""
    return moto_endpoint


@pytest.fixture(scope="module")
def loopback_service() -> Iterator[int]:
    """An HTTP service on this host's loopback that answers the canary: its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _answers(endpoint: str) -> bool:
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        return bool(response.status == 200)


def test_loopback_services_are_out_of_reach(
    chosen: sandbox.Sandbox, outer: Outer, emulator_endpoint: str, loopback_service: int
) -> None:
    """The emulator's endpoint is reached (as AWS_ENDPOINT_URL names it); the host's other loopback
    services are not: not on 127.0.0.1 or ::1, nor through the namespace's gateway (pasta's). Any
    answer of the emulator counts: what it grants a function is its own affair."""
    port, emulator_port = loopback_service, urllib.parse.urlsplit(emulator_endpoint).port
    script = (
        f"{HTTP} get 127.0.0.1 {emulator_port} /moto-api/data.json | grep -q '^HTTP/1' && echo emulator reached; "
        f"get 127.0.0.1 {port} /; get ::1 {port} /; "
        "gateway=$(ip route 2>/dev/null | awk '/^default/ {print $3}'); echo gateway=$gateway; "
        f'[ -n "$gateway" ] && get $gateway {port} /; echo done'
    )
    result = attack(chosen, outer, script, env={"AWS_ENDPOINT_URL": emulator_endpoint})
    assert "emulator reached" in result.output and result.output.endswith("done\n"), result.output
    assert CANARY not in result.output, result.output
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read() == CANARY.encode()  # it was up
    assert _answers(emulator_endpoint)


@pytest.mark.skipif(not internet_possible(), reason="no pasta (Debian package passt): no internet to cut")
def test_no_internet_leaves_the_emulator(chosen: sandbox.Sandbox, outer: Outer, emulator_endpoint: str) -> None:
    """`faas local --no-internet`: no route out of the run's namespace (there is one without it), and
    the emulator is still reached."""
    emulator_port = urllib.parse.urlsplit(emulator_endpoint).port
    script = (
        f"{HTTP} get 127.0.0.1 {emulator_port} /moto-api/data.json | grep -q '^HTTP/1' && echo emulator reached; "
        "ip route | grep -q '^default' && echo route out; echo done"
    )
    env = {"AWS_ENDPOINT_URL": emulator_endpoint}
    cut, connected = (attack(chosen, outer, script, env=env, internet=internet) for internet in (False, True))
    assert "emulator reached" in cut.output and "route out" not in cut.output, cut.output
    assert connected.output.endswith("emulator reached\nroute out\ndone\n"), connected.output
    assert _answers(emulator_endpoint)


def test_another_instances_events_stay_its_own(chosen: sandbox.Sandbox, outer: Outer, emulator_endpoint: str) -> None:
    """The F3 reproduction: a function polls another instance's Runtime API, with its port and even
    its secret path, and forges an answer; it gets its own event only, the other's stays queued."""
    victim_network = chosen.own_network({})  # what the runner gives each instance
    victim = RuntimeApi(FUNCTION_ARN, victim_network)
    try:
        pending = victim.invoke(b'{"victim": "event"}', timeout_s=60)
        port, secret = victim.address.split(":")[1].split("/")
        script = (
            f"{HTTP} a=$AWS_LAMBDA_RUNTIME_API; at=${{a%%/*}}; "
            f'get ${{at%:*}} ${{at#*:}} "/${{a#*/}}/{NEXT}"; echo; '
            f"for path in /{secret}/ /; do get 127.0.0.1 {port} ${{path}}{NEXT}; "
            f"get 127.0.0.1 {port} ${{path}}{RESPONSE} POST; done; echo done"
        )
        result = attack(chosen, outer, script, env={"AWS_ENDPOINT_URL": emulator_endpoint}, own_event="own-event")
        assert "\r\n\r\nown-event" in result.output, result.output  # its own Runtime API answers
        assert "victim" not in result.output and result.output.endswith("done\n"), result.output
        assert not pending.taken.is_set() and not pending.done.is_set()
        assert _answers(emulator_endpoint)
    finally:
        victim.close()
        if victim_network is not None:
            victim_network.close()


def test_the_functions_environment_reaches_only_its_program(
    chosen: sandbox.Sandbox, outer: Outer, tmp_path: Path
) -> None:
    """An image sets its environment: none of it may reach the host-side steps (LD_PRELOAD would run
    its code there, as root before the drop), all of it must reach the program, byte for byte.
    proot (a compatibility mode, not a boundary) gets it too, after its drop to nobody."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the preloaded library")
    (tmp_path / "preload.c").write_text(PRELOAD_C)
    library, marker = tmp_path / "preload.so", tmp_path / "loaded-on-the-host"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(tmp_path / "preload.c")], check=True)
    tmp_path.chmod(0o777)  # whoever the host-side steps run as could write the marker
    value = "two words\nand a line = with an equals sign"
    env = {"LD_PRELOAD": str(library), "PRELOAD_MARKER": str(marker), "GREETING": value}
    result = attack(chosen, outer, 'printf "[%s]" "$GREETING"', env=env)
    assert f"[{value}]" in result.output, result.output
    if chosen.name == "proot":  # proot itself, a host program, passes the environment on: as nobody
        assert not marker.exists() or marker.stat().st_uid == int(sandbox.NOBODY)
    else:
        assert not marker.exists(), "a host-side step of the sandbox ran with the function's LD_PRELOAD"


def zip_attack(chosen: sandbox.Sandbox, outer: Outer, endpoint: str, event: dict[str, Any]) -> dict[str, Any]:
    """ZIP_HANDLER invoked with `event` by LambdaRuntime in `chosen`, from a child process held in the
    outer bounds (as `attack`): the handler's result, which must come back."""
    scratch = Path(tempfile.mkdtemp(dir=outer.scratch))
    scratch.chmod(0o755)
    order = {"zip": True, "sandbox": chosen.name, "scratch": str(scratch), "endpoint": endpoint, "event": event}
    argv = entering(outer.groups, [sys.executable, __file__, json.dumps(order)])
    try:
        child = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert child.returncode == 0, child.stderr.decode()
    invocation: dict[str, Any] = json.loads(child.stdout)
    assert not invocation["failed"], (invocation, child.stderr.decode())
    return invocation


def _zip_child(order: dict[str, Any]) -> dict[str, Any]:
    """In the outer bounds: invoke ZIP_HANDLER's function in the named sandbox."""
    cgroups.PIDS_MAX = INNER_PIDS
    chosen = next(s for s in sandbox.available() if s.name == order["sandbox"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("attacks.py", ZIP_HANDLER)
    code = buffer.getvalue()
    function = DeployedFunction(
        {
            "FunctionName": "zipattacks",
            "FunctionArn": FUNCTION_ARN,
            "Handler": "attacks.handler",
            "Runtime": "python3.12",
            "Timeout": 20,
            "MemorySize": 128,
            "EphemeralStorage": {"Size": 32},
            "CodeSha256": base64.b64encode(hashlib.sha256(code).digest()).decode(),
        }
    )
    aws = connect(region="us-east-1", endpoint_url=order["endpoint"])
    runtime = LambdaRuntime(aws, lambda _: code, Path(order["scratch"]), lambda: chosen)
    invocation = runtime.invoke(function, order["event"], lambda line: print(line, file=sys.stderr))
    return {"failed": invocation.failed, "payload": invocation.payload}


@pytest.fixture
def host_process() -> Iterator[subprocess.Popen[bytes]]:
    """A process of the host's, named by a token a zip function must not find."""
    process = subprocess.Popen(["sh", "-c", f"sleep 300; : {CANARY}-process"])
    yield process
    process.kill()
    process.wait()


def test_a_zip_function_has_no_privileges(chosen: sandbox.Sandbox, outer: Outer, emulator_endpoint: str) -> None:
    event = {"read": [], "list": [], "write": [], "kill": 0}
    status = zip_attack(chosen, outer, emulator_endpoint, event)["payload"]["status"]
    assert status["Uid"].split()[0] != "0" and status["NoNewPrivs"] == "1", status
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0, status


def test_a_zip_function_reads_no_root_only_host_file(
    chosen: sandbox.Sandbox, outer: Outer, emulator_endpoint: str
) -> None:
    """The canary (root's, mode 600), /etc/shadow: absent or refused. Of /etc only the name files and
    certificates are there; of the folders around the Python (root's home, the checkout holding the
    virtual environment, /home) only the way to it."""
    read = [str(outer.canary), f"/proc/1/root{outer.canary}", "/etc/shadow", "/etc/passwd"]
    around = [folder for folder in {"/root", "/home", str(Path(sys.prefix).parent)} if Path(folder).is_dir()]
    event = {"read": read, "list": ["/etc", *around], "write": [], "kill": 0}
    payload = zip_attack(chosen, outer, emulator_endpoint, event)["payload"]
    assert CANARY not in json.dumps(payload["read"]), payload["read"]
    assert all(answer.startswith("refused") for answer in payload["read"].values()), payload["read"]
    seen = payload["listed"]
    assert set(seen["/etc"]) <= {"hosts", "resolv.conf", "ssl"}, seen
    for folder in around:
        ways = {Path(target).relative_to(folder).parts[0] for _, target in host_binds() if target.startswith(folder)}
        listed = seen[folder] if isinstance(seen[folder], list) else []
        assert set(listed) & set(os.listdir(folder)) <= ways, (folder, seen[folder])


def test_a_zip_function_reaches_no_host_file_through_calls_a_sandbox_may_not_translate(
    chosen: sandbox.Sandbox, outer: Outer, emulator_endpoint: str
) -> None:
    """openat2 (O_PATH: no read permission needed), statx, faccessat2, fchmodat2 and file_getattr of
    the canary: under bubblewrap and unshare its path is not in the root; proot does not translate
    these calls, and its seccomp filter answers them with ENOSYS."""
    event = {"read": [], "list": [], "write": [], "kill": 0, "calls": [str(outer.canary)]}
    answers = zip_attack(chosen, outer, emulator_endpoint, event)["payload"]["calls"][str(outer.canary)]
    assert all(answer.startswith("refused") for answer in answers.values()), answers
    if chosen.name == "proot":
        assert set(answers.values()) == {"refused: Function not implemented"}, answers


def test_a_zip_function_writes_no_host_path(chosen: sandbox.Sandbox, outer: Outer, emulator_endpoint: str) -> None:
    """Its root, its code, the bootstrap's folder, the host's Python and system folders: all read-only.
    Only new files are tried (a sandbox that fails this must not have changed a host file), and removed."""
    poison = f"poison-{os.getpid()}"
    folders = ["/", "/var/task", "/var/runtime", "/usr/lib", sys.prefix, sys.base_prefix, str(outer.canary.parent)]
    write = [f"{folder.rstrip('/')}/{poison}" for folder in folders]
    try:
        event = {"read": [], "list": [], "write": write, "kill": 0}
        payload = zip_attack(chosen, outer, emulator_endpoint, event)["payload"]
        assert "wrote" not in payload["wrote"].values(), payload["wrote"]
        assert not [folder for folder in folders if (Path(folder) / poison).exists()]
    finally:
        for folder in folders:
            (Path(folder) / poison).unlink(missing_ok=True)


def test_a_zip_function_sees_no_host_process(
    chosen: sandbox.Sandbox, outer: Outer, emulator_endpoint: str, host_process: subprocess.Popen[bytes]
) -> None:
    event = {"read": [], "list": [], "write": [], "kill": host_process.pid}
    payload = zip_attack(chosen, outer, emulator_endpoint, event)["payload"]
    assert not [line for line in payload["processes"] if CANARY in line], payload["processes"]
    assert len(payload["processes"]) <= 5, payload["processes"]
    assert payload["killed"] != "killed" and host_process.poll() is None


if __name__ == "__main__":
    order = json.loads(sys.argv[1])
    print(json.dumps(_zip_child(order) if order.get("zip") else _child(order)))

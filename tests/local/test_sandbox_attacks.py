"""Attacks on every sandbox this machine has, started as root: each must fail.

A function's script tries what a hostile image would (capabilities, a root-only file, a
read-write remount of the unpack cache, mounting the host's disk, a chroot escape, the host's
processes, a memory hog, a fork bomb, filling /dev/shm and /tmp). Each attack runs through the real
Sandbox.start in a child process held in outer bounds of this module's own (a memory and a pids
cgroup, written here, not by the code under test) with its scratch folders on a small loop-mounted
file system, so a sandbox that does not hold cannot take the machine down. Without root (or
without those outer bounds) they are skipped: the bounds they test are root's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from render.local.execution import cgroups, sandbox

OUTER_MEMORY = 512 * 1024 * 1024
OUTER_PIDS = 256
INNER_PIDS = 64  # the sandbox's own process bound in these runs, below the outer one
SCRATCH_MB = 128
CANARY = "canary-7f3e1d"
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

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks test root's sandboxes and bounds")
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


def _own_group(controller: str) -> Path | None:
    mounts = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == "cgroup" and controller in options.split(","):
            mounts[controller] = Path(where)
        elif kind == "cgroup2":
            mounts.setdefault("", Path(where))
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        key = controller if controller in names.split(",") else "" if not names else None
        if key is not None and key in mounts and (key or controller in _v2_controllers(mounts[key], path)):
            return mounts[key] / path.lstrip("/")
    return None


def _v2_controllers(mount: Path, path: str) -> list[str]:
    with contextlib.suppress(OSError):
        return (mount / path.lstrip("/") / "cgroup.subtree_control").read_text().split()
    return []


def _outer_groups(name: str) -> list[Path]:
    """This module's own memory and pids groups, their limits read back; [] where it cannot have them."""
    groups: list[Path] = []
    for controller, limits in (
        ("memory", {"memory.limit_in_bytes": OUTER_MEMORY, "memory.max": OUTER_MEMORY}),
        ("pids", {"pids.max": OUTER_PIDS}),
    ):
        parent = _own_group(controller)
        if parent is None:
            return groups
        group = parent / name
        if group not in groups:
            group.mkdir(exist_ok=True)
            groups.append(group)
        for file, value in limits.items():
            if (group / file).exists():
                (group / file).write_text(str(value))
                assert int((group / file).read_text().split()[0]) <= value
    return groups


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
    groups = _outer_groups(f"faas-attacks-{os.getpid()}")
    mounted = top / "scratch"
    image = top / "scratch.ext4"
    try:
        if len(groups) < 2 or not shutil.which("mkfs.ext4"):
            pytest.skip("no outer memory and pids cgroups, or no mkfs.ext4: the attacks stay unrun")
        mounted.mkdir(mode=0o755)
        subprocess.run(["truncate", "-s", f"{SCRATCH_MB}M", str(image)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
        subprocess.run(["mount", "-o", "loop,nosuid,nodev", str(image), str(mounted)], check=True)
        mounted.chmod(0o755)
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
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", str(mounted)], check=True, capture_output=True)
        for group in groups:
            for nested in sorted((path for path in group.rglob("*") if path.is_dir()), reverse=True):
                with contextlib.suppress(OSError):
                    nested.rmdir()  # the sandboxes' own groups, nested in the outer ones
            with contextlib.suppress(OSError):
                group.rmdir()
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
    **spec: Any,
) -> Result:
    """`script` run by busybox sh in `chosen` (with `env`, the function's environment), from a child
    process held in the outer bounds."""
    scratch = Path(tempfile.mkdtemp(dir=outer.scratch))
    scratch.chmod(0o755)
    order: dict[str, Any] = {"sandbox": chosen.name, "root": str(outer.root), "scratch": str(scratch), "script": script}
    order |= {"seconds": seconds, "spec": spec, "env": {"PATH": "/bin", **(env or {})}}
    enter = "; ".join(f"echo $$ > {group / 'cgroup.procs'}" for group in outer.groups)
    argv = ["sh", "-ec", f'{enter}; exec "$@"', "outer", sys.executable, __file__, json.dumps(order)]
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
    argv = ["/bin/busybox", "sh", "-c", order["script"]]
    spec = sandbox.RunSpec(Path(order["root"]), argv, order["env"], Path(order["scratch"]), **order["spec"])
    with tempfile.TemporaryFile() as output:
        process = chosen.start(spec, stdout=output, stderr=subprocess.STDOUT)
        deadline, refusals = time.monotonic() + order["seconds"], 0
        while process.poll() is None and time.monotonic() < deadline:
            for group in process.group.folders if process.group else []:
                with contextlib.suppress(OSError):
                    for line in (group / "pids.events").read_text().splitlines():
                        refusals = max(refusals, int(line.split()[1]) if line.startswith("max ") else 0)
            time.sleep(0.05)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
        status = process.wait()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    return {"status": status, "output": text, "oom": process.out_of_memory(), "pid_refusals": refusals}


@pytest.fixture(params=SANDBOXES, ids=lambda s: s.name)
def chosen(request: pytest.FixtureRequest) -> sandbox.Sandbox:
    chosen: sandbox.Sandbox = request.param
    return chosen


def test_no_privileges(chosen: sandbox.Sandbox, outer: Outer) -> None:
    result = attack(chosen, outer, "grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' /proc/self/status")
    fields = dict(line.split(":", 1) for line in result.output.splitlines())
    assert fields["Uid"].split()[0] != "0", result.output
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapBnd"], 16) == 0, result.output
    assert fields["NoNewPrivs"].strip() == "1", result.output


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
    if chosen.name != "proot":  # under proot, nobody may make a user namespace, as on the host
        assert "namespace" not in result.output, result.output


def test_no_chroot_escape(chosen: sandbox.Sandbox, outer: Outer) -> None:
    if not (outer.root / "bin" / "escape").exists():
        pytest.skip("no static C compiler here to build the escape")
    result = attack(chosen, outer, f"chroot /tmp true && echo chrooted; /bin/escape {outer.canary}; echo done")
    assert "chrooted" not in result.output and CANARY not in result.output, result.output


def test_host_processes_are_invisible(chosen: sandbox.Sandbox, outer: Outer) -> None:
    if chosen.name == "proot":
        pytest.skip("proot is a compatibility mode: it shows the host's processes (said when it is picked)")
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


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))


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

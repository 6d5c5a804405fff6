"""What `make demo`, `make test`, `make mirror` and `make binaries` need from this machine, checked before they start.

    python3 tools/prerequisites.py GOAL... [--install]      # GOAL: demo, test, mirror, binaries

Prints nothing and exits 0 when everything is here. Otherwise prints one line per missing command
(what it is for), then one command that installs every missing package on this platform
(Debian and Ubuntu: apt-get; Fedora: dnf; macOS: Homebrew, saying what is Linux-only), and exits 2.
With --install, run as root where apt-get is, it installs the missing Debian packages instead
(`apt-get update` once, then `apt-get install`, their output in a log file under $TMPDIR) and
checks again. Terraform is checked too (1.5 or newer; it is no Debian package), and so is the
Python running this script (3.10 or newer, with its venv module).

On macOS and Fedora, `make test` goes ahead without what their package managers lack (the
Linux-only sandboxes, Debian's docker-registry and apt): the tests that need them skip, saying why.
`make demo` cannot: it runs the functions' images in those sandboxes, with base images built from
Debian packages.

The Makefile runs this with the system Python (.venv may not exist yet): standard library only,
and it runs on older Pythons so that it can say that they are too old.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

EXIT_MISSING = 2
GOALS = ("demo", "test", "mirror", "binaries")
# The goals that build the base image stand-ins from Debian packages and serve them (tools/base_images.py).
IMAGES = ("demo", "test", "mirror")
# Where a platform has no package for a need, this goal still runs: the tests that need it skip.
SKIPS_WHAT_IS_MISSING = ("test",)
MINIMUM_PYTHON = (3, 10)
MINIMUM_TERRAFORM = (1, 5)
TERRAFORM_URL = "https://developer.hashicorp.com/terraform/install"
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
APT_LISTS = Path("/var/lib/apt/lists")
SBIN = ("/usr/sbin", "/sbin")  # root's tools, outside a user's PATH on Debian
APT_LOG_LINES = 30

DEBIAN, FEDORA, MACOS, OTHER = "debian", "fedora", "macos", "other"
PLATFORM_NAMES = {DEBIAN: "Debian/Ubuntu", FEDORA: "Fedora", MACOS: "macOS", OTHER: "this system"}
# The arm64 build runs under qemu-user on x86_64 machines, the x86_64 build on arm64 ones.
QEMU = "qemu-x86_64-static" if platform.machine().lower() in ("aarch64", "arm64") else "qemu-aarch64-static"


@dataclass(frozen=True)
class Need:
    """A command some goals need, and the package that provides it on each platform (None: none does)."""

    commands: tuple[str, ...]  # any one of them will do; the first is the one installed
    purpose: str
    goals: tuple[str, ...]
    debian: str
    fedora: str | None = None
    brew: str | None = None
    linux_only: bool = False
    sbin: bool = False  # also looked for in /usr/sbin and /sbin

    def package(self, system: str) -> str | None:
        return {DEBIAN: self.debian, FEDORA: self.fedora, MACOS: self.brew, OTHER: self.debian}[system]


DEMO, TEST, BINARIES = ("demo",), ("test",), ("binaries",)
SANDBOXES = ("bwrap", "proot", "podman")  # render/local/execution/sandbox.py (and `unshare` as root)
NEEDS: tuple[Need, ...] = (
    # commands (any one), what for, goals, Debian package, Fedora package, Homebrew formula
    Need(("make",), "runs the Makefile", GOALS, "make", "make"),
    Need(("apt-get",), "downloads the Debian packages of the base image stand-ins", IMAGES, "apt"),
    Need(("apt-cache",), "resolves those packages' dependencies", IMAGES, "apt"),
    Need(("dpkg-deb",), "unpacks those packages", IMAGES, "dpkg"),
    Need(("docker-registry",), "a registry on loopback, the mirror of the stand-ins", IMAGES, "docker-registry"),
    Need(("bwrap",), "the bubblewrap sandbox (local mode)", TEST, "bubblewrap", "bubblewrap", linux_only=True),
    Need(("proot",), "the proot sandbox (local mode)", TEST, "proot", "proot", linux_only=True),
    Need(("pasta",), "the internet in local mode's network namespaces", TEST, "passt", "passt", linux_only=True),
    Need(SANDBOXES, "a sandbox to run the functions' images in", DEMO, "bubblewrap", "bubblewrap", linux_only=True),
    Need(("busybox",), "a static busybox (chroot and image tests)", TEST, "busybox-static", "busybox"),
    Need(("dot",), "Graphviz (`faas diagram` images)", TEST, "graphviz", "graphviz", "graphviz"),
    Need(("skopeo",), "an independent check of assembled images", TEST, "skopeo", "skopeo", "skopeo"),
    Need(("debootstrap",), "Debian root filesystems", BINARIES, "debootstrap", "debootstrap", sbin=True),
    Need((QEMU,), "the other architecture's build", BINARIES, "qemu-user-static", "qemu-user-static", linux_only=True),
    Need(("update-binfmts",), "registers qemu-user with binfmt_misc", BINARIES, "binfmt-support", sbin=True),
)


@dataclass(frozen=True)
class Missing:
    name: str  # the command, or "terraform 1.5+"...
    purpose: str
    package: str | None  # what installs it on this platform
    note: str = ""  # why there is no package, or where to get it
    unavailable: bool = False  # this platform has no package for it


@dataclass
class Findings:
    missing: list[Missing]  # installable here, or needed whether or not it is
    unavailable: list[Missing]  # no package on this platform, and the goals go ahead without it
    apt_update: bool = False  # apt knows no packages yet: `apt-get update` first


def detect_system(system: str, os_release: Path | None) -> str:
    """DEBIAN (Debian, Ubuntu and their derivatives), FEDORA (and its relatives), MACOS or OTHER."""
    if system == "Darwin":
        return MACOS
    if system != "Linux":
        return OTHER
    fields = read_os_release(os_release)
    ids = {fields.get("ID", ""), *fields.get("ID_LIKE", "").split()}
    if ids & {"debian", "ubuntu"}:
        return DEBIAN
    if ids & {"fedora", "rhel", "centos"}:
        return FEDORA
    return OTHER


def read_os_release(path: Path | None) -> dict[str, str]:
    paths = [path] if path else [Path(name) for name in OS_RELEASE]
    for candidate in paths:
        try:
            text = candidate.read_text()
        except OSError:
            continue
        fields = {}
        for line in text.splitlines():
            key, equals, value = line.partition("=")
            if equals:
                fields[key.strip()] = value.strip().strip("\"'")
        return fields
    return {}


def find(command: str, sbin: bool = False) -> str | None:
    path = os.environ.get("PATH", os.defpath)
    if sbin:
        path = os.pathsep.join([path, *SBIN])
    return shutil.which(command, path=path)


def check(goals: list[str], system: str, apt_lists: Path = APT_LISTS) -> Findings:
    findings = Findings([], [])
    goes_ahead = all(goal in SKIPS_WHAT_IS_MISSING for goal in goals)
    reported: set[str] = set()
    for need in NEEDS:
        # An alternative (any sandbox) whose first choice is already reported missing needs no line of its own.
        if not set(goals) & set(need.goals) or need.commands[0] in reported:
            continue
        if any(find(command, need.sbin) for command in need.commands):
            continue
        reported.add(need.commands[0])
        package = need.package(system)
        note = ""
        if package is None:
            note = "Linux only" if need.linux_only and system == MACOS else f"no {PLATFORM_NAMES[system]} package"
        missing = Missing(" or ".join(need.commands), need.purpose, package, note, unavailable=package is None)
        (findings.unavailable if package is None and goes_ahead else findings.missing).append(missing)
    if set(goals) & set(IMAGES) and find("apt-get") and not apt_knows_packages(apt_lists):
        findings.apt_update = True
    if set(goals) - {"binaries"}:
        findings.missing += check_python(system) + check_terraform(goals, system)
    return findings


def apt_knows_packages(apt_lists: Path) -> bool:
    """Whether apt has package lists (a fresh system's are empty until `apt-get update`)."""
    try:
        return any("_Packages" in entry.name for entry in apt_lists.iterdir())
    except OSError:
        return False


def check_python(system: str) -> list[Missing]:
    version = ".".join(str(part) for part in sys.version_info[:3])
    if sys.version_info < MINIMUM_PYTHON:
        wanted = ".".join(str(part) for part in MINIMUM_PYTHON)
        note = f"{sys.executable} is {version}: install a newer one and run make PYTHON=/path/to/it"
        return [Missing(f"python {wanted}+", "runs faas-render and its tests", None, note)]
    import importlib.util

    if importlib.util.find_spec("venv") and importlib.util.find_spec("ensurepip"):
        return []
    package = f"python3.{sys.version_info[1]}-venv" if system == DEBIAN else None
    note = "" if package else f"{sys.executable} cannot make virtual environments"
    return [Missing("python3 -m venv", "makes .venv, where faas-render and its tests are installed", package, note)]


def check_terraform(goals: list[str], system: str) -> list[Missing]:
    if not {"demo", "test"} & set(goals):
        return []
    wanted = ".".join(str(part) for part in MINIMUM_TERRAFORM) + "+"
    purpose = "applies the rendered root modules"
    where = {
        MACOS: f"brew install hashicorp/tap/terraform, or {TERRAFORM_URL}",
        DEBIAN: f"no Debian package: HashiCorp's apt repository or its zip, {TERRAFORM_URL}",
        FEDORA: f"HashiCorp's dnf repository or its zip, {TERRAFORM_URL}",
    }.get(system, TERRAFORM_URL)
    program = find("terraform")
    if program is None:
        return [Missing(f"terraform {wanted}", purpose, None, f"not on PATH; {where}")]
    version = terraform_version(program)
    if version is None or version < MINIMUM_TERRAFORM:
        found = ".".join(str(part) for part in version) if version else "of unknown version"
        return [Missing(f"terraform {wanted}", purpose, None, f"{program} is {found}; {where}")]
    return []


def terraform_version(program: str) -> tuple[int, ...] | None:
    environment = dict(os.environ, CHECKPOINT_DISABLE="1")  # no call home for the latest version
    try:
        done = subprocess.run(
            [program, "version", "-json"], capture_output=True, text=True, timeout=30, env=environment, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        text = str(json.loads(done.stdout)["terraform_version"])
    except (ValueError, KeyError, TypeError):
        text = done.stdout  # before 0.13: "Terraform v0.12.31"
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(part) for part in match.groups()) if match else None


def install_command(packages: list[str], system: str, apt_update: bool) -> str:
    sudo = "sudo " if os.geteuid() != 0 else ""
    if system == MACOS:
        return "brew install " + " ".join(packages)
    if system == FEDORA:
        return f"{sudo}dnf install " + " ".join(packages)
    steps = [f"{sudo}apt-get update"] if apt_update else []
    steps += [f"{sudo}apt-get install " + " ".join(packages)] if packages else []
    return " && ".join(steps)


def can_install(system: str) -> bool:
    return system == DEBIAN and os.geteuid() == 0 and find("apt-get") is not None


def apt_install(packages: list[str]) -> bool:
    """`apt-get update` and `apt-get install` of `packages`; their output in a log, shown when they fail."""
    handle, name = tempfile.mkstemp(prefix="faas-render-apt-", suffix=".log")
    print(f"==> installing {' '.join(packages) or 'nothing'} with apt-get (log: {name})", file=sys.stderr, flush=True)
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = [["apt-get", "update", "-qq"]]
    if packages:
        steps.append(["apt-get", "install", "-y", "-qq", *packages])
    with os.fdopen(handle, "w") as log:
        for step in steps:
            log.write("$ " + " ".join(step) + "\n")
            log.flush()
            if subprocess.run(step, stdout=log, stderr=subprocess.STDOUT, env=environment, check=False).returncode:
                break
        else:
            return True
    lines = Path(name).read_text(errors="replace").splitlines()
    print(f"{' '.join(step)} failed; the end of {name}:", file=sys.stderr)
    print("\n".join("  " + line for line in lines[-APT_LOG_LINES:]), file=sys.stderr)
    return False


def report(goals: list[str], system: str, findings: Findings) -> None:
    """What is missing, and the one command that installs it; or what the tests go without."""
    out = sys.stderr
    name = PLATFORM_NAMES[system]
    if findings.missing:
        print(
            " and ".join(f"make {goal}" for goal in goals)
            + (" needs" if len(goals) == 1 else " need")
            + " what this machine lacks:",
            file=out,
        )
        width = max(len(missing.name) for missing in findings.missing)
        for missing in findings.missing:
            detail = f" ({missing.note})" if missing.note else ""
            print(f"  {missing.name:<{width}}  {missing.purpose}{detail}", file=out)
    packages = list(dict.fromkeys(missing.package for missing in findings.missing if missing.package))
    impossible = [missing.name for missing in findings.missing if missing.unavailable]
    if impossible:
        print(
            f"Not available on {name}: {', '.join(impossible)}. Debian and Ubuntu have them all.",
            file=out,
        )
    elif system == OTHER and packages:
        print(f"Install what provides them (their Debian packages: {' '.join(packages)}).", file=out)
    elif packages or findings.apt_update:
        command = install_command(packages, system, findings.apt_update)
        what = "Install the packages" if packages else "Fetch apt's package lists"
        print(f"{what} with:\n  {command}", file=out)
    if findings.unavailable:
        names = ", ".join(f"{missing.name} ({missing.note})" for missing in findings.unavailable)
        print(f"On {name}, the tests that need these skip: {names}.", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("goals", nargs="+", choices=GOALS, metavar="GOAL", help=", ".join(GOALS))
    parser.add_argument(
        "--install", action="store_true", help="as root with apt-get: install the missing Debian packages"
    )
    parser.add_argument("--os-release", type=Path, help="read this file instead of /etc/os-release")
    parser.add_argument("--system", default=platform.system(), help="as platform.system() says (Linux, Darwin)")
    parser.add_argument("--apt-lists", type=Path, default=APT_LISTS, help=f"apt's package lists (default {APT_LISTS})")
    options = parser.parse_args(argv)
    goals = list(dict.fromkeys(options.goals))
    system = detect_system(options.system, options.os_release)
    findings = check(goals, system, options.apt_lists)
    installable = [missing.package for missing in findings.missing if missing.package]
    if options.install and (installable or findings.apt_update) and can_install(system):
        apt_install(list(dict.fromkeys(installable)))
        findings = check(goals, system, options.apt_lists)
    if findings.missing or findings.apt_update:
        report(goals, system, findings)
        return EXIT_MISSING
    if findings.unavailable:
        report(goals, system, findings)
    return 0


if __name__ == "__main__":
    sys.exit(main())

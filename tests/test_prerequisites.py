"""tools/prerequisites.py: what `make demo` and `make test` check before they start, and the one command
it prints to install what is missing (or, as root with apt-get, runs).

Each case runs the script as the Makefile does, with PATH holding only stub executables, a made-up
/etc/os-release and apt package lists of its own: nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

SCRIPT = REPO / "tools" / "prerequisites.py"
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n'
# What `make test` needs on Debian (the packages .ci/run installed), by the command each provides.
TEST_PACKAGES = {
    "busybox": "busybox-static",
    "dot": "graphviz",
    "docker-registry": "docker-registry",
    "bwrap": "bubblewrap",
    "proot": "proot",
    "pasta": "passt",
    "skopeo": "skopeo",
}
ALWAYS_ON_DEBIAN = {"make": "make", "apt-get": "apt", "apt-cache": "apt", "dpkg-deb": "dpkg"}
SUDO = "sudo " if os.geteuid() != 0 else ""
CHMOD = shutil.which("chmod") or "/bin/chmod"  # the stub apt-get runs with PATH holding only stubs


def terraform_stub(version: str) -> str:
    return f'#!/bin/sh\necho \'{{"terraform_version": "{version}", "platform": "linux_amd64"}}\'\n'


def machine(tmp_path: Path, commands: list[str], os_release: str = DEBIAN, terraform: str | None = "1.9.8") -> Path:
    """A folder of stub `commands` (and terraform answering `version -json` with `terraform`) for PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for command in commands:
        stub(folder / command, "#!/bin/sh\nexit 0\n")
    if terraform:
        stub(folder / "terraform", terraform_stub(terraform))
    (tmp_path / "os-release").write_text(os_release)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4").write_bytes(b"")
    return folder


def stub(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def run(tmp_path: Path, *arguments: str, system: str = "Linux") -> subprocess.CompletedProcess[str]:
    options = ["--os-release", str(tmp_path / "os-release"), "--apt-lists", str(tmp_path / "lists")]
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments, *options, "--system", system],
        env={"PATH": str(tmp_path / "bin"), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def install_lines(output: str) -> list[str]:
    """The commands printed under "Install the packages with:" (or "Fetch apt's package lists with:")."""
    lines = output.splitlines()
    return [following.strip() for line, following in zip(lines, lines[1:], strict=False) if line.endswith(" with:")]


def test_with_nothing_installed_one_apt_get_command_names_every_package_make_test_needs(tmp_path: Path) -> None:
    machine(tmp_path, [], terraform=None)
    done = run(tmp_path, "test")
    assert done.returncode == 2 and done.stdout == ""
    [command] = install_lines(done.stderr)
    assert command.startswith(f"{SUDO}apt-get install ")
    packages = command.removeprefix(f"{SUDO}apt-get install ").split()
    assert sorted(packages) == sorted({*TEST_PACKAGES.values(), *ALWAYS_ON_DEBIAN.values()})
    for name in [*TEST_PACKAGES, "terraform 1.5+"]:
        assert any(line.startswith(f"  {name} ") for line in done.stderr.splitlines()), name
    assert "https://developer.hashicorp.com/terraform/install" in done.stderr


def test_everything_present_prints_nothing(tmp_path: Path) -> None:
    machine(tmp_path, [*ALWAYS_ON_DEBIAN, *TEST_PACKAGES])
    done = run(tmp_path, "test", "demo", "mirror", "--install")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_only_what_is_missing_is_named_and_ubuntu_counts_as_debian(tmp_path: Path) -> None:
    machine(tmp_path, [*ALWAYS_ON_DEBIAN, "busybox", "dot", "skopeo", "proot"], os_release=UBUNTU)
    done = run(tmp_path, "test")
    assert done.returncode == 2
    assert install_lines(done.stderr) == [f"{SUDO}apt-get install docker-registry bubblewrap passt"]


def test_the_demo_takes_any_sandbox_the_tests_want_bubblewrap_itself(tmp_path: Path) -> None:
    machine(tmp_path, [*ALWAYS_ON_DEBIAN, "docker-registry", "proot"])
    assert run(tmp_path, "demo").returncode == 0
    done = run(tmp_path, "test", "demo")
    assert done.returncode == 2 and "make test and make demo need" in done.stderr
    assert install_lines(done.stderr) == [f"{SUDO}apt-get install bubblewrap passt busybox-static graphviz skopeo"]


def test_terraform_older_than_1_5_stops_both_goals(tmp_path: Path) -> None:
    machine(tmp_path, [*ALWAYS_ON_DEBIAN, *TEST_PACKAGES], terraform="1.4.7")
    for goal in ("demo", "test"):
        done = run(tmp_path, goal)
        assert done.returncode == 2 and "terraform 1.5+" in done.stderr and " is 1.4.7" in done.stderr
        assert install_lines(done.stderr) == []  # Terraform is no Debian package
    assert run(tmp_path, "mirror").returncode == 0


def test_empty_package_lists_ask_for_apt_get_update(tmp_path: Path) -> None:
    machine(tmp_path, [*ALWAYS_ON_DEBIAN, *TEST_PACKAGES])
    for listed in (tmp_path / "lists").iterdir():
        listed.unlink()
    done = run(tmp_path, "demo")
    assert done.returncode == 2 and install_lines(done.stderr) == [f"{SUDO}apt-get update"]


def test_fedora_runs_the_tests_without_debian_only_tools_but_not_the_demo(tmp_path: Path) -> None:
    machine(tmp_path, ["make", "bwrap", "proot", "pasta", "busybox"], os_release=FEDORA)
    done = run(tmp_path, "test")
    assert done.returncode == 2 and install_lines(done.stderr) == [f"{SUDO}dnf install graphviz skopeo"]
    assert "the tests that need these skip: apt-get" in done.stderr and "docker-registry" in done.stderr
    for command in ("dot", "skopeo"):
        stub(tmp_path / "bin" / command, "#!/bin/sh\n")
    done = run(tmp_path, "test")
    assert done.returncode == 0 and install_lines(done.stderr) == [] and "docker-registry" in done.stderr
    done = run(tmp_path, "demo")
    assert (
        done.returncode == 2 and "Not available on Fedora: apt-get, apt-cache, dpkg-deb, docker-registry" in done.stderr
    )


def test_macos_installs_with_homebrew_and_says_the_sandboxes_are_linux_only(tmp_path: Path) -> None:
    machine(tmp_path, ["make"])
    done = run(tmp_path, "test", system="Darwin")
    assert done.returncode == 2 and install_lines(done.stderr) == ["brew install graphviz skopeo"]
    assert "bwrap (Linux only)" in done.stderr
    done = run(tmp_path, "demo", system="Darwin")
    assert done.returncode == 2 and "Not available on macOS" in done.stderr and "(Linux only)" in done.stderr


def apt_get_stub(tmp_path: Path, fail: bool = False) -> Path:
    """An apt-get that logs its arguments and "installs" a package by writing a stub of its command."""
    log = tmp_path / "apt-get.log"
    cases = "".join(
        f"    {package}) echo exit > {tmp_path}/bin/{command}; {CHMOD} 755 {tmp_path}/bin/{command} ;;\n"
        for command, package in TEST_PACKAGES.items()
    )
    failure = 'echo "E: Unable to locate package docker-registry"; exit 100' if fail else ""
    stub(
        tmp_path / "bin" / "apt-get",
        f'#!/bin/sh\necho "$*" >> {log}\n[ "$1" = install ] || exit 0\n{failure}\nshift 3\n'
        f'for package; do\n  case "$package" in\n{cases}  esac\ndone\n',
    )
    return log


@pytest.mark.skipif(os.geteuid() != 0, reason="installs only as root")
def test_as_root_with_apt_get_it_installs_what_is_missing_and_checks_again(tmp_path: Path) -> None:
    machine(tmp_path, ["make", "apt-cache", "dpkg-deb", "busybox", "dot"])
    log = apt_get_stub(tmp_path)
    done = run(tmp_path, "test", "--install")
    assert done.returncode == 0, done.stderr
    installed = "docker-registry bubblewrap proot passt skopeo"
    assert log.read_text().splitlines() == ["update -qq", f"install -y -qq {installed}"]
    assert done.stderr.startswith(f"==> installing {installed} with apt-get (log: ")
    assert list(tmp_path.glob("faas-render-apt-*.log"))


@pytest.mark.skipif(os.geteuid() != 0, reason="installs only as root")
def test_a_failed_apt_get_shows_its_log_and_the_command(tmp_path: Path) -> None:
    machine(tmp_path, ["make", "apt-cache", "dpkg-deb", "busybox", "dot", "bwrap", "proot", "pasta", "skopeo"])
    apt_get_stub(tmp_path, fail=True)
    done = run(tmp_path, "test", "--install")
    assert done.returncode == 2
    assert "E: Unable to locate package docker-registry" in done.stderr
    assert install_lines(done.stderr) == ["apt-get install docker-registry"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("goal", ["test", "demo", "mirror"])
def test_the_makefile_checks_first(goal: str) -> None:
    done = subprocess.run(["make", "-n", "-C", str(REPO), goal], capture_output=True, text=True, check=True)
    first = [line for line in done.stdout.splitlines() if not line.startswith("make")][0]
    assert first.endswith(f"tools/prerequisites.py {goal} --install")

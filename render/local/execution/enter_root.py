"""The last host-side step of a sandbox: take the function's environment, drop privileges, exec.

    python -I -S enter_root.py ENV_FD ROOT CWD UID CALLS -- PROGRAM [ARGS...]

Run by the host's Python. The sandbox's host-side steps (mounts, setpriv, this) run with a clean
environment, so nothing the image or function sets (LD_PRELOAD, PATH, ...) reaches a host program
while it may still be privileged; the function's environment arrives on file descriptor ENV_FD
(NUL-separated NAME=VALUE entries), and only the program exec'd at the end gets it.

ROOT "-" keeps the root; otherwise it is chroot'ed into (root only: the unshare sandbox, whose
image has no tool to drop privileges after chroot, so both happen here in one process). UID "-"
keeps the user; otherwise the capability bounding set is emptied, supplementary groups dropped,
and uid and gid become UID (which clears every capability). no_new_privs is set in every case,
so no setuid file gives anything back. CALLS names the seccomp filter loaded last (seccomp_filter.py,
imported by path): "common", "proot" (which adds the calls proot does not translate), or "-" (none:
no libseccomp here). Only the standard library and that file, imported before the chroot.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # -I leaves this folder out: the filter's file
import seccomp_filter  # noqa: E402

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
KEEP = "-"


def read_environment(fd: int) -> dict[str, str]:
    with os.fdopen(fd, "rb") as source:
        entries = source.read().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in entries if b"=" in entry)


def enter(root: str, cwd: str, uid: str, calls: str, argv: list[str], env: dict[str, str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if calls != KEEP and not seccomp_filter.available():  # loaded now: the root may have no libseccomp
        raise OSError(2, "libseccomp is not installed")
    if root != KEEP:
        os.chroot(root)
        os.chdir("/")
    os.chdir(cwd)
    if uid != KEEP:
        with open("/proc/sys/kernel/cap_last_cap") as last:
            capabilities = range(int(last.read()) + 1)
        for capability in capabilities:
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), f"cannot drop capability {capability}")
        os.setgroups([])
        os.setresgid(int(uid), int(uid), int(uid))
        os.setresuid(int(uid), int(uid), int(uid))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot set no_new_privs")
    # Python ignores SIGPIPE and exec keeps what is ignored: the program gets the default back, as
    # Lambda's do (else `yes | head` never ends).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if calls != KEEP:
        seccomp_filter.load(proot=calls == "proot")
    os.execvpe(argv[0], argv, env)  # the program is looked up on the function's PATH


def main(arguments: list[str]) -> int:
    if len(arguments) < 7 or arguments[5] != "--" or arguments[4] not in ("common", "proot", KEEP):
        print("usage: enter_root.py ENV_FD ROOT CWD UID CALLS -- PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    fd, root, cwd, uid, calls, _, *argv = arguments
    try:
        enter(root, cwd, uid, calls, argv, read_environment(int(fd)))
    except OSError as error:
        print(f"sandbox: {argv[0]}: {error.strerror or error}", file=sys.stderr)
        return 127 if isinstance(error, FileNotFoundError) else 126
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

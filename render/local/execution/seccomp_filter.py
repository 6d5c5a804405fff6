"""The seccomp filter every sandbox puts in front of a function's programs (libseccomp, through ctypes).

Docker's default profile is the model: what a container without capabilities has no use for, and
what widens the kernel's reach, is refused with EPERM (the keyring, which no namespace separates;
bpf, perf_event_open, userfaultfd and io_uring; kernel modules, kexec, reboot, swap, accounting;
mounts, pivot_root; new namespaces: unshare, setns and clone with a CLONE_NEW* flag). clone3 gets
ENOSYS, as Docker gives it: its flags are in memory a filter cannot read, and the C libraries fall
back to clone, whose flags it can. proot adds ENOSYS for the calls it does not translate that
take a path (openat2, faccessat2, fchmodat2, statx, the *xattrat calls, file_getattr and
file_setattr): left alone, the kernel resolves their paths against the host's root. ENOSYS is what
an older kernel answers, and the C libraries fall back to the calls proot translates.

Loaded by enter_root.py right before it execs (unshare + chroot, proot: the filter then holds proot
too, which needs none of these calls), handed to bubblewrap as a BPF program (`--seccomp FD`).
The filter knows the machine's own ABI only: a call through another (a 32-bit x86 program on
x86_64) gets ENOSYS, since the numbers above could not be checked there.
Standard library only: enter_root.py imports this file by path, before any chroot.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Iterator
from functools import cache

ALLOW = 0x7FFF0000


def _errno(number: int) -> int:
    return 0x00050000 | number


REFUSED = [
    *("add_key", "keyctl", "request_key", "bpf", "perf_event_open", "userfaultfd"),
    *("io_uring_setup", "io_uring_enter", "io_uring_register"),
    *("init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot"),
    *("swapon", "swapoff", "acct", "mount", "umount2", "pivot_root"),
    *("fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr", "unshare", "setns"),
]
CLONE_NEW = {  # CLONE_NEW* flags (linux/sched.h), each refused to clone on its own
    "CLONE_NEWTIME": 0x00000080,
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
NOT_TRANSLATED_BY_PROOT = [
    *("openat2", "faccessat2", "fchmodat2", "statx"),
    *("getxattrat", "setxattrat", "listxattrat", "removexattrat", "file_getattr", "file_setattr"),
]
# Calls newer than libseccomp 2.5 knows, by their number: the same on every architecture since Linux 5.1.
UNIFIED_NUMBERS = {
    "fchmodat2": 452,
    "setxattrat": 463,
    "getxattrat": 464,
    "listxattrat": 465,
    "removexattrat": 466,
    "file_getattr": 468,
    "file_setattr": 469,
}
SCMP_CMP_MASKED_EQ = 7
SCMP_FLTATR_ACT_BADARCH = 2


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


@cache
def _library() -> ctypes.CDLL | None:
    try:  # by its soname first: find_library runs ldconfig
        library = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        found = ctypes.util.find_library("seccomp")
        if found is None:
            return None
        library = ctypes.CDLL(found, use_errno=True)
    library.seccomp_init.restype = ctypes.c_void_p
    library.seccomp_init.argtypes = [ctypes.c_uint32]
    library.seccomp_release.argtypes = [ctypes.c_void_p]
    library.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    library.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    library.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    library.seccomp_load.argtypes = [ctypes.c_void_p]
    library.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return library


def available() -> bool:
    """Whether libseccomp is here (Debian: libseccomp2)."""
    return _library() is not None


def _rules(proot: bool) -> Iterator[tuple[str, int, _ArgCmp | None]]:
    """(call, action, the condition on its first argument or None) of the filter."""
    for name in REFUSED:
        yield name, _errno(errno.EPERM), None
    for flag in CLONE_NEW.values():
        yield "clone", _errno(errno.EPERM), _ArgCmp(0, SCMP_CMP_MASKED_EQ, flag, flag)
    yield "clone3", _errno(errno.ENOSYS), None
    if proot:
        for name in NOT_TRANSLATED_BY_PROOT:
            yield name, _errno(errno.ENOSYS), None


class _Filter:
    """A libseccomp filter context holding the rules (released on exit)."""

    def __init__(self, proot: bool) -> None:
        library = _library()
        if library is None:
            raise OSError(errno.ENOENT, "libseccomp is not installed (Debian: apt-get install libseccomp2)")
        self.library = library
        self.context = library.seccomp_init(ALLOW)
        if not self.context:
            raise OSError(errno.ENOMEM, "seccomp_init failed")
        # Another ABI's calls, and numbers with x32's bit (proot cancels a call by making its number
        # -1): ENOSYS, as the kernel answers a number it does not know, where libseccomp would kill.
        library.seccomp_attr_set(self.context, SCMP_FLTATR_ACT_BADARCH, _errno(errno.ENOSYS))
        for name, action, condition in _rules(proot):
            number = library.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                number = UNIFIED_NUMBERS.get(name, -1)
            if number < 0:
                continue  # a call this architecture does not have
            conditions = (_ArgCmp * 1)(condition) if condition else None
            status = library.seccomp_rule_add_array(self.context, action, number, 1 if condition else 0, conditions)
            if status < 0:
                raise OSError(-status, f"seccomp: cannot add the rule for {name}")

    def __enter__(self) -> _Filter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.library.seccomp_release(self.context)


def load(proot: bool = False) -> None:
    """Put the filter in front of this process and whatever it execs (no_new_privs is set with it)."""
    with _Filter(proot) as built:
        status = built.library.seccomp_load(built.context)
        if status < 0:
            raise OSError(-status, "seccomp: cannot load the filter")


@cache
def program() -> bytes:
    """The filter (without proot's part) as a BPF program, as bubblewrap's --seccomp reads it."""
    fd = os.memfd_create("faas-seccomp")
    try:
        with _Filter(proot=False) as built:
            status = built.library.seccomp_export_bpf(built.context, fd)
        if status < 0:
            raise OSError(-status, "seccomp: cannot export the filter")
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)

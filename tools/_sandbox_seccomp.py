"""The sandbox's seccomp filter: the system calls the sandboxed code may not make.

A helper of `_sandbox.py`, not a tool module. It holds:

- `sandbox_filter(network=...)`: the filter as the kernel takes it (classic BPF, `struct
  sock_filter` records), which the launcher installs just before it executes the command;
- `syscall_number(name)`: a system call's number here (the launcher needs `keyctl`'s);
- `userns_guard(features)`: why bubblewrap here could not forbid nested user namespaces (no
  filter for this machine, and agentkit is root or the bwrap lacks `--disable-userns`).

It is apart from `_sandbox.py` because the filter is written for the kernel, not for bwrap or
Python: its system call numbers and audit architectures are per machine.

Security role, in both modes:

- no nested user namespaces: `unshare` and `clone` with CLONE_NEWUSER and `setns` fail with
  EPERM, `clone3` (whose flags the filter cannot read) with ENOSYS, so that the C library
  falls back to `clone`; so the code cannot become root in a namespace of its own;
- no kernel state that outlives the call or escapes the memory cap: the keyrings (`add_key`,
  `request_key`, `keyctl`: a key stored by one call could be read by a later one), System V
  IPC and POSIX message queues (objects that outlive their process, and memory no process
  holds), `memfd_create` and `memfd_secret` (memory in no process's resident set);
- no way at other processes or around the filter: `ptrace`, `process_vm_readv`/`writev`,
  `kcmp`, `pidfd_getfd`, and `io_uring` (its operations are not seen by seccomp), `bpf`,
  `perf_event_open` and `userfaultfd`;
- with `network=False` (rlimits-only mode, which has no network namespace): `socket` fails
  with EACCES, so no network and no UNIX socket of the host (`socketpair` still works);
- with `shares_uid=True` (rlimits-only mode as a normal user: the code runs as the user, and
  Landlock governs neither other processes' settings nor files' metadata): the calls that
  change another process of the user's (`prlimit64`, `setpriority`, `ioprio_set`, CPU
  affinity and scheduling, unless aimed at the caller itself) and those that change a file's
  mode, owner, times or extended attributes fail with EPERM, so the code can neither kill
  agentkit with a CPU limit nor make one of the user's private files readable by all.

Any system call of another ABI (x32, or 32-bit calls on x86-64) kills the process. There is
a filter for x86_64 and aarch64 only; elsewhere `sandbox_filter()` returns None, and
`_sandbox.py` refuses what `userns_guard` (or, in rlimits-only mode, the missing filter)
says cannot be made safe.
"""

from __future__ import annotations

import errno
import os
import struct
import sys

_CLONE_NEWUSER = 0x10000000
# Per machine: the audit architecture, whether x32 exists, the system call numbers.
_X86_64 = {
    "unshare": 272, "clone": 56, "setns": 308, "clone3": 435,
    "add_key": 248, "request_key": 249, "keyctl": 250,
    "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67,
    "semget": 64, "semop": 65, "semctl": 66, "semtimedop": 220,
    "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71,
    "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243,
    "mq_notify": 244, "mq_getsetattr": 245,
    "memfd_create": 319, "memfd_secret": 447,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "pidfd_getfd": 438,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "socket": 41,
    "prlimit64": 302, "setpriority": 141, "ioprio_set": 251, "sched_setaffinity": 203,
    "sched_setscheduler": 144, "sched_setparam": 142, "sched_setattr": 314,
    "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452,
    "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260,
    "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "setxattrat": 463,
    "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199, "removexattrat": 466,
    "file_setattr": 469,
}  # fmt: skip
_AARCH64 = {
    "unshare": 97, "clone": 220, "setns": 268, "clone3": 435,
    "add_key": 217, "request_key": 218, "keyctl": 219,
    "shmget": 194, "shmat": 196, "shmctl": 195, "shmdt": 197,
    "semget": 190, "semop": 193, "semctl": 191, "semtimedop": 192,
    "msgget": 186, "msgsnd": 189, "msgrcv": 188, "msgctl": 187,
    "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182, "mq_timedreceive": 183,
    "mq_notify": 184, "mq_getsetattr": 185,
    "memfd_create": 279, "memfd_secret": 447,
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
    "pidfd_getfd": 438,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
    "socket": 198,
    "prlimit64": 261, "setpriority": 140, "ioprio_set": 30, "sched_setaffinity": 122,
    "sched_setscheduler": 119, "sched_setparam": 118, "sched_setattr": 274,
    "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "fchown": 55, "fchownat": 54,
    "utimensat": 88,
    "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "setxattrat": 463,
    "removexattr": 14, "lremovexattr": 15, "fremovexattr": 16, "removexattrat": 466,
    "file_setattr": 469,
}  # fmt: skip
_SECCOMP_ARCHES = {
    "x86_64": (0xC000003E, True, _X86_64),
    "aarch64": (0xC00000B7, False, _AARCH64),
}
_SECCOMP_ARCHES["amd64"] = _SECCOMP_ARCHES["x86_64"]
_SECCOMP_ARCHES["arm64"] = _SECCOMP_ARCHES["aarch64"]

# Refused with EPERM in both modes (see the module docstring for why each).
DENIED = (
    *("add_key", "request_key", "keyctl"),
    *("shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop"),
    *("msgget", "msgsnd", "msgrcv", "msgctl"),
    *("mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr"),
    *("memfd_create", "memfd_secret"),
    *("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd"),
    *("io_uring_setup", "io_uring_enter", "io_uring_register"),
    *("bpf", "perf_event_open", "userfaultfd"),
)

# With `shares_uid`: allowed only when aimed at the caller (first argument 0, the caller's pid)...
SELF_ONLY = (
    *("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam"),
    "sched_setattr",
)
# ... or with (which, who) = (the process, 0): PRIO_USER or IOPRIO_WHO_USER with 0 is every
# process of the caller's uid.
SELF_ONLY_WHICH = {"setpriority": 0, "ioprio_set": 1}
# With `shares_uid`: refused with EPERM (the legacy names exist on x86_64 only).
METADATA = (
    *("chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat"),
    *("utime", "utimes", "futimesat", "utimensat"),
    *("setxattr", "lsetxattr", "fsetxattr", "setxattrat"),
    *("removexattr", "lremovexattr", "fremovexattr", "removexattrat", "file_setattr"),
)


def _machine() -> tuple[int, bool, dict[str, int]] | None:
    if struct.calcsize("P") != 8 or sys.byteorder != "little":
        return None
    return _SECCOMP_ARCHES.get(os.uname().machine)


def syscall_number(name: str) -> int | None:
    """The number of a system call the filter knows, on this machine; None elsewhere."""
    machine = _machine()
    return None if machine is None else machine[2][name]


def sandbox_filter(*, network: bool, shares_uid: bool = False) -> bytes | None:
    """The sandbox's seccomp filter here; None on an unsupported machine.

    Args:
        network: Allow `socket` (bubblewrap mode, whose network namespace has no network);
            False makes it fail with EACCES (rlimits-only mode).
        shares_uid: The code runs as the user agentkit runs as (rlimits-only mode as a normal
            user): refuse what reaches the user's other processes or files' metadata.
    """
    machine = _machine()
    if machine is None:
        return None
    audit, x32, numbers = machine
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, errno_action, kill = 0x7FFF0000, 0x00050000, 0x80000000
    # (code, k, label if true, label if false); labels name the instruction they precede.
    code: list[tuple[int, int, str | None, str | None]] = [
        (ld, 4, None, None),  # seccomp_data.arch
        (jeq, audit, None, "kill"),
        (ld, 0, None, None),  # seccomp_data.nr
        *([(jge, 0x40000000, "kill", None)] if x32 else []),
        (jeq, numbers["clone3"], "nosys", None),
        (jeq, numbers["setns"], "deny", None),
        *((jeq, numbers[name], "deny", None) for name in DENIED),
        *([] if network else [(jeq, numbers["socket"], "noaccess", None)]),
    ]
    if shares_uid:
        code += [(jeq, numbers[name], "deny", None) for name in METADATA if name in numbers]
        code += [(jeq, numbers[name], "self", None) for name in SELF_ONLY]
        code += [(jeq, numbers[name], name, None) for name in SELF_ONLY_WHICH]
    code += [(jeq, numbers["unshare"], "check", None), (jeq, numbers["clone"], "check", "allow")]
    # The arguments' low halves (offset 16 + 8n): pids, flags and `which` are 32-bit ints.
    labels = {"check": len(code)}
    code += [(ld, 16, None, None), (jset, _CLONE_NEWUSER, "deny", "allow")]
    if shares_uid:
        labels["self"] = len(code)
        code += [(ld, 16, None, None), (jeq, 0, "allow", "deny")]
        for name, which in SELF_ONLY_WHICH.items():
            labels[name] = len(code)
            code += [(ld, 16, None, None), (jeq, which, None, "deny")]
            code += [(ld, 24, None, None), (jeq, 0, "allow", "deny")]
    actions = {
        "allow": allow,
        "deny": errno_action | errno.EPERM,
        "noaccess": errno_action | errno.EACCES,
        "nosys": errno_action | errno.ENOSYS,
        "kill": kill,
    }
    for label, action in actions.items():
        labels[label] = len(code)
        code.append((ret, action, None, None))
    out = bytearray()
    for index, (op, k, yes, no) in enumerate(code):
        jt = labels[yes] - index - 1 if yes else 0
        jf = labels[no] - index - 1 if no else 0
        out += struct.pack("=HBBI", op, jt, jf, k)
    return bytes(out)


def userns_guard(features: frozenset[str]) -> str | None:
    """Why nested user namespaces could not be forbidden under bwrap here; None if they can.

    `features` are the options the bwrap binary understands: without a filter, a bwrap with
    `--disable-userns` still forbids them, but only when agentkit is not root (as root, bwrap
    makes no user namespace, and that option needs one).
    """
    if sandbox_filter(network=True) is not None:
        return None
    if os.geteuid() != 0 and "--disable-userns" in features:
        return None
    machine = os.uname().machine
    if os.geteuid() == 0:
        return (
            f"agentkit runs as root on {machine}, where the sandbox has no seccomp filter to "
            "forbid nested user namespaces (x86_64 and aarch64 only)"
        )
    return (
        f"this bubblewrap lacks --disable-userns (0.8 or newer is needed) and the sandbox has "
        f"no seccomp filter for {machine}, so nested user namespaces cannot be forbidden"
    )

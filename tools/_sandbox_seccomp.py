"""No nested user namespaces for the sandboxed code: the seccomp filter, and when it is needed.

A helper of `_sandbox.py`, not a tool module. It holds:

- `userns_filter()`: the filter as the kernel takes it (classic BPF, `struct sock_filter`
  records), which bwrap installs (`--seccomp`) or, in rlimits-only mode, the launcher does;
- `userns_guard(features)`: why bubblewrap here could not forbid nested user namespaces (no
  filter for this machine, and agentkit is root or the bwrap lacks `--disable-userns`).

It is apart from `_sandbox.py` because the filter is written for the kernel, not for bwrap or
Python: its system call numbers and audit architectures are per machine.

Security role: `unshare` and `clone` with CLONE_NEWUSER and `setns` fail with EPERM, `clone3`
(whose flags the filter cannot read) with ENOSYS, so that the C library falls back to `clone`.
Any system call of another ABI (x32, or 32-bit calls on x86-64) kills the process. So the code
cannot become root in a namespace of its own. There is a filter for x86_64 and aarch64 only;
elsewhere `userns_filter()` returns None, and `_sandbox.py` refuses what `userns_guard` (or, in
rlimits-only mode, the missing filter) says cannot be made safe.
"""

from __future__ import annotations

import errno
import os
import struct
import sys

# Per machine: the audit architecture, the system call numbers, and whether x32 exists.
_CLONE_NEWUSER = 0x10000000
_SECCOMP_ARCHES = {
    "x86_64": (0xC000003E, {"unshare": 272, "clone": 56, "setns": 308, "clone3": 435}, True),
    "aarch64": (0xC00000B7, {"unshare": 97, "clone": 220, "setns": 268, "clone3": 435}, False),
}
_SECCOMP_ARCHES["amd64"] = _SECCOMP_ARCHES["x86_64"]
_SECCOMP_ARCHES["arm64"] = _SECCOMP_ARCHES["aarch64"]


def userns_filter() -> bytes | None:
    """The seccomp filter forbidding user namespaces here; None on an unsupported machine."""
    if struct.calcsize("P") != 8 or sys.byteorder != "little":
        return None
    arch = _SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None:
        return None
    audit, numbers, x32 = arch
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
        (jeq, numbers["unshare"], "check", None),
        (jeq, numbers["clone"], "check", "allow"),
    ]
    labels = {"check": len(code)}
    code += [(ld, 16, None, None), (jset, _CLONE_NEWUSER, "deny", "allow")]  # args[0], low half
    for label, action in (("allow", allow), ("deny", errno_action | errno.EPERM)):
        labels[label] = len(code)
        code.append((ret, action, None, None))
    for label, action in (("nosys", errno_action | errno.ENOSYS), ("kill", kill)):
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
    if userns_filter() is not None:
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

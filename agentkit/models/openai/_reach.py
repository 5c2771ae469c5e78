"""Why a request got no answer: nothing could be reached, or nothing answered in time.

The SDK's aiohttp transport reports a refused connection as a connect *timeout*
(`APITimeoutError`, caused by `httpx.ConnectTimeout`, caused by the `ConnectionRefusedError`),
so the deepest cause in the exception's chain decides, never the SDK's exception class.
Shared by the chat adapter's errors and `OpenAIModel.probe()`.
"""

from __future__ import annotations

import errno
import socket

__all__ = ["hint", "root_cause", "timed_out", "unreachable"]

# Connect failures that mean no server can be reached at that address at all (as opposed to a
# connection that was made and then reset, which a server that crashed mid-answer causes).
_NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL}


def root_cause(exc: BaseException) -> BaseException:
    """The deepest `Exception` in the chain of causes of `exc` (`exc` itself without one);
    the cancellation of an SDK-internal scope along the way is skipped."""
    root: BaseException = exc
    link: BaseException | None = exc
    for _ in range(32):  # a chain is short; the bound only guards against a cycle
        link = link.__cause__ or link.__context__ if link is not None else None
        if link is None:
            break
        if isinstance(link, Exception):
            root = link
    return root


def timed_out(root: BaseException) -> bool:
    """`root` (a `root_cause`) is a timeout: the endpoint was reached but did not answer."""
    return isinstance(root, TimeoutError) or "Timeout" in type(root).__name__


def unreachable(root: BaseException, endpoint: str) -> str:
    """What to tell the user when `root` (a `root_cause`) means that nothing can be reached at
    `endpoint` (a refused connection, a host name that does not resolve, no route to the
    host); "" for any other failure."""
    what = hint(root)
    if not what or not isinstance(root, OSError):
        return ""
    if isinstance(root, socket.gaierror):
        return f"cannot find the host of {endpoint} ({root.strerror or root}): {what}"
    if what.startswith("is the server"):
        return f"nothing is listening at {endpoint}: {what}"
    return f"cannot reach {endpoint} ({root.strerror or type(root).__name__}): {what}"


def hint(root: BaseException) -> str:
    """What the user should check when `root` means nothing can be reached; "" otherwise."""
    if isinstance(root, socket.gaierror):
        return "check the URL"
    if not isinstance(root, OSError):
        return ""
    if isinstance(root, ConnectionRefusedError) or root.errno == errno.ECONNREFUSED:
        return "is the server running? check the URL"
    return "check the URL and the network" if root.errno in _NO_ROUTE else ""

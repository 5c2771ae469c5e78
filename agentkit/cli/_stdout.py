"""Leaving quietly when the reader of stdout went away (`agentkit run ... | head -1`)."""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["discard_stdout"]


def discard_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit finds no closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)

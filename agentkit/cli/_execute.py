"""How a command ends: its body run with a renderer, failures as one line and an exit status.

Also how the process leaves: output flushed, and without waiting on a sync tool that Ctrl-C
abandoned in its worker thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from agentkit.cli._status import EXIT_INTERRUPTED, EXIT_RUN_ERROR, EXIT_USAGE
from agentkit.cli._stdout import discard_stdout as _discard_stdout

if TYPE_CHECKING:
    from agentkit.cli._load import Options
    from agentkit.cli._render import Renderer

__all__ = ["execute"]


def execute(options: Options, body: Callable[[Renderer], int]) -> NoReturn:
    """Run a command body with the renderer, mapping failures to one line and an exit status."""
    from agentkit.cli._output import make_renderer
    from agentkit.cli._render import ApprovalInterrupted
    from agentkit.errors import AgentkitError, RunError, SessionBusy

    threads_before = set(threading.enumerate())
    renderer = make_renderer(options)
    try:
        code = body(renderer)
    except (KeyboardInterrupt, ApprovalInterrupted):
        code = EXIT_INTERRUPTED
        with contextlib.suppress(BrokenPipeError):
            renderer.cancelled()
    except BrokenPipeError:
        # The reader went away (`| head -1`): it has all it wanted. Stop quietly, with
        # success, as well-behaved Unix tools do.
        _discard_stdout()
        code = 0
    except RunError as exc:
        renderer.error(exc, EXIT_RUN_ERROR)
        if hint := _run_error_hint(exc, options):
            renderer.notice(hint)
        if exc.usage is not None and exc.usage.requests and not options.json:
            renderer.usage(exc.usage)  # what the failed run cost still counts
        code = EXIT_RUN_ERROR
    except SessionBusy as exc:  # another run holds the session: a failed run, try again later
        renderer.error(exc, EXIT_RUN_ERROR)
        code = EXIT_RUN_ERROR
    except AgentkitError as exc:
        renderer.error(exc, EXIT_USAGE)
        code = EXIT_USAGE
    except Exception as exc:
        if not options.verbose:
            exc = RuntimeError(f"internal error: {type(exc).__name__}: {exc} (-v shows where)")
        renderer.error(exc, EXIT_RUN_ERROR)
        code = EXIT_RUN_ERROR
    for callback in renderer.exit_callbacks:
        with contextlib.suppress(Exception):  # a flush that fails must not change the status
            callback()
    _leave(code, threads_before)


def _run_error_hint(exc: BaseException, options: Options) -> str | None:
    """What a command-line user can do about a failed run (the message speaks Python)."""
    from agentkit.errors import MaxTurnsExceeded, ToolRetriesExceeded

    if isinstance(exc, MaxTurnsExceeded):
        return "agentkit: allow more model replies with --max-turns N"
    if isinstance(exc, ToolRetriesExceeded) and not options.verbose:
        return "agentkit: -v shows the tool's full arguments and results"
    return None


def _abandoned_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Non-daemon threads started by the command and still running (waited on briefly)."""
    current = threading.current_thread()
    started = [
        t for t in threading.enumerate() if t not in before and not t.daemon and t is not current
    ]
    deadline = time.monotonic() + 0.25  # idle worker threads end as soon as their loop has
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in started if t.is_alive()]


def _leave(code: int, threads_before: set[threading.Thread]) -> NoReturn:
    """Flush the output and exit with `code`, without waiting for abandoned tool threads."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main_thread else None
    if main_thread:
        # Ctrl-C again while leaving: leave at once, without a traceback.
        signal.signal(signal.SIGINT, lambda *_: os._exit(EXIT_INTERRUPTED))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            if stream is sys.stdout:
                _discard_stdout()
        except (OSError, ValueError):
            pass
    if _abandoned_threads(threads_before):
        # A sync tool cancelled by Ctrl-C (or its timeout) keeps running in its worker
        # thread: Python cannot stop a thread, and at exit the interpreter joins every
        # non-daemon thread (anyio's workers are not daemons), so the process would live on
        # until the tool returns, and a second Ctrl-C would print a traceback from that join.
        # Everything of ours is flushed above and nothing else needs the interpreter's
        # shutdown, so leave now; the abandoned call's result was never going to be used.
        os._exit(code)
    if main_thread and previous is not None:
        signal.signal(signal.SIGINT, previous)
    raise SystemExit(code)

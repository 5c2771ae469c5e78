"""The stdio transport: the server as a child process in its own process group.

The SDK's `stdio_client` hides the process, so agentkit could neither tell which process to
check, nor say why a server stopped (its exit status, the end of its stderr), nor notice a
server that died between calls. This transport keeps the process in view and hands the SDK
the same pair of message streams. Framing is the SDK's: one JSON-RPC message per line,
parsed with `mcp_types.jsonrpc_message_adapter`.

Stopping follows the MCP lifecycle: close stdin, wait `grace` seconds for the server to
exit, then SIGTERM its whole process group, then SIGKILL it. The group goes even when its
leader has already exited, so no helper a server started outlives it.
"""

from __future__ import annotations

import logging
import math
import os
import signal
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import mcp_types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.stdio import get_default_environment
from mcp.shared.message import SessionMessage

__all__ = ["StdioProcess", "exit_text"]

logger = logging.getLogger("agentkit.mcp")

TERM_WAIT = 2.0  # seconds between SIGTERM and SIGKILL
_REAP_WAIT = 2.0  # seconds for the kernel to report a SIGKILLed process gone
_POLL = 0.01
_STDERR_LINES = 20
_STDERR_LINE_CHARS = 500
_MAX_LINE_BYTES = 64 * 1024 * 1024  # one JSON-RPC message; an image result can be megabytes

Streams = tuple[
    MemoryObjectReceiveStream["SessionMessage | Exception"],
    MemoryObjectSendStream[SessionMessage],
]


def exit_text(returncode: int | None) -> str:
    """How a process ended, in words: `exited with status 1`, `was killed by SIGKILL`."""
    if returncode is None:
        return "is still running"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


class StdioProcess:
    """One run of a stdio server: an async context manager giving the SDK its two streams.

    Args:
        command: The executable.
        args: Its arguments.
        env: Variables set on top of the SDK's short list of safe inherited ones (PATH,
            HOME, ...): API keys in agentkit's environment never reach the server unasked.
        cwd: The working folder.
        grace: Seconds the server has to exit after its stdin closes.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
        grace: float,
    ) -> None:
        self.command = command
        self.args = list(args)
        self.env = {**get_default_environment(), **(env or {})}
        self.cwd = cwd
        self.grace = grace
        self.pid: int | None = None
        self.returncode: int | None = None
        self.stdout_closed = anyio.Event()
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._context: Any = None
        self._process: anyio.abc.Process | None = None

    def poll(self) -> int | None:
        """The exit status once the process has exited (negative: killed by that signal)."""
        if self._process is not None and self._process.returncode is not None:
            self.returncode = self._process.returncode
        return self.returncode

    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr, or "" when it wrote none."""
        return "\n".join(self._stderr)

    async def __aenter__(self) -> Streams:
        self._context = self._run()
        streams: Streams = await self._context.__aenter__()
        return streams

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        result: bool | None = await self._context.__aexit__(exc_type, exc, tb)
        return result

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[Streams]:
        process = await anyio.open_process(
            [self.command, *self.args], env=self.env, cwd=self.cwd, start_new_session=True
        )
        # No await between the spawn and the `try`: a cancellation there would leak it.
        self.pid = process.pid
        self._process = process
        # inbox: what the server printed, for the SDK; outbox: what the SDK sends it.
        inbox_in, inbox = anyio.create_memory_object_stream["SessionMessage | Exception"](math.inf)
        outbox, outbox_out = anyio.create_memory_object_stream[SessionMessage](math.inf)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read_stdout, process, inbox_in)
                tg.start_soon(self._write_stdin, process, outbox_out)
                tg.start_soon(self._read_stderr, process)
                try:
                    yield inbox, outbox
                finally:
                    # Stopped while the readers still drain its pipes: a server blocked
                    # writing to a full pipe could not see its stdin close.
                    with anyio.CancelScope(shield=True):
                        outbox.close()
                        inbox.close()
                        await self._stop(process)
                    tg.cancel_scope.cancel()
        finally:
            if process.returncode is None:  # only if something above failed unexpectedly
                _signal_group(process.pid, signal.SIGKILL)

    async def _read_stdout(
        self, process: anyio.abc.Process, sink: MemoryObjectSendStream[SessionMessage | Exception]
    ) -> None:
        assert process.stdout is not None
        buffer = b""
        try:
            async for chunk in process.stdout:
                *lines, buffer = (buffer + chunk).split(b"\n")
                if len(buffer) > _MAX_LINE_BYTES:
                    buffer = b""
                    _deliver(sink, ValueError("the server sent a line over 64 MiB"))
                for line in lines:
                    if line.strip():
                        _deliver(sink, _parse(line))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass  # the pipe broke or was closed: the connection is over either way
        finally:
            sink.close()
            self.stdout_closed.set()

    async def _write_stdin(
        self, process: anyio.abc.Process, source: MemoryObjectReceiveStream[SessionMessage]
    ) -> None:
        assert process.stdin is not None
        with source:
            try:
                async for message in source:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(data.encode() + b"\n")
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass  # the server closed its stdin (or died): stdout's end reports it

    async def _read_stderr(self, process: anyio.abc.Process) -> None:
        assert process.stderr is not None
        buffer = b""
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            async for chunk in process.stderr:
                *lines, buffer = (buffer + chunk).split(b"\n")
                buffer = buffer[-_STDERR_LINE_CHARS * 4 :]
                for line in lines:
                    self._note_stderr(line)
        if buffer:
            self._note_stderr(buffer)

    def _note_stderr(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip()
        if text:
            self._stderr.append(text[:_STDERR_LINE_CHARS])
            logger.debug("%s (pid %s) stderr: %s", self.command, self.pid, text)

    async def _stop(self, process: anyio.abc.Process) -> None:
        """Close stdin, wait `grace`, then SIGTERM and SIGKILL the whole process group."""
        assert process.stdin is not None
        with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
        await self.wait_exit(self.grace)
        pgid = process.pid  # start_new_session: the leader's pid is the group's id
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGTERM)
            with anyio.move_on_after(TERM_WAIT):
                while _group_alive(pgid):
                    _ = process.returncode  # reading it lets the event loop reap the leader
                    await anyio.sleep(_POLL)
            if _group_alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
        await self.wait_exit(_REAP_WAIT)
        if self.returncode is None:
            logger.warning("MCP server %s (pid %s) survived SIGKILL", self.command, process.pid)
        with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            if process.stdout is not None:
                await process.stdout.aclose()
            if process.stderr is not None:
                await process.stderr.aclose()
        if self.returncode is not None:
            with anyio.move_on_after(_REAP_WAIT):
                await process.wait()  # closes the event loop's side of the pipes

    async def wait_exit(self, seconds: float) -> int | None:
        """Wait up to `seconds` for the leader to exit; its exit status, or None.

        It polls: `process.wait()` on asyncio also waits for the pipes to close, which a
        helper process holding them would delay past the leader's exit.
        """
        with anyio.move_on_after(seconds):
            while self.poll() is None:  # noqa: ASYNC110 - no event says a process exited
                await anyio.sleep(_POLL)
        return self.poll()


def _deliver(sink: MemoryObjectSendStream[SessionMessage | Exception], item: Any) -> None:
    """Pass a message on; once the session has gone, output is read and dropped."""
    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
        sink.send_nowait(item)


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:  # pydantic's ValidationError is one
        return exc


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting for init do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a member we may not signal, or a zombie: not proof the group is gone
    return _runs_in_group(pgid)


def _runs_in_group(pgid: int) -> bool:
    """On Linux, whether a non-zombie process is in the group; elsewhere assume so.

    A helper a server started is reparented to init when the server exits; an init that is
    slow to reap (some containers') would leave it a zombie, holding the group "alive".
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)

"""Run one reply's tool calls: look up, validate, approve, run concurrently, report as text.

Nothing a tool call does wrong escapes as an exception: an unknown tool, arguments that are
not JSON, failed validation, a declined approval, an exception, a timeout or a `ModelRetry`
each become tool-result text the model can act on. Only cancellation and BaseExceptions
that are not `Exception`s (KeyboardInterrupt, SystemExit) propagate.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from pydantic_core import to_json

from agentkit._context import RunContext
from agentkit._hygiene import clean_text, error_text, neutral_special_tokens, redact
from agentkit._loop import notes
from agentkit.errors import ModelRetry
from agentkit.messages import ToolCall
from agentkit.tools import Tool, ToolRegistry

__all__ = ["Approval", "CallOutcome", "Executor", "result_text"]

Approval = Callable[[ToolCall], "bool | Awaitable[bool]"]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How one call ended.

    Attributes:
        call: The call.
        result: The tool-result text for the model.
        is_error: Whether it failed (counts against the tool's failure budget).
        duration: Seconds it took.
        error_type: Why it failed, for traces: "unknown_tool", "invalid_arguments",
            "timeout", "model_retry", "declined", or the exception's class name.
    """

    call: ToolCall
    result: str
    is_error: bool
    duration: float = 0.0
    error_type: str | None = None


def result_text(value: Any, limit: int, redact: Callable[[str], str] | None = None) -> str:
    """The text the model receives for a tool's return value, capped at `limit` characters.

    Llama special tokens (`<|eot_id|>`, ...) are made inert, so a tool's output cannot forge
    a turn on servers that tokenize them; `redact` runs before the cut, so a secret that
    straddles it is still found.

    Raises:
        Exception: The value cannot be serialized (a reference cycle, a failing `repr`).
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", errors="replace")
    elif value is None:
        text = "null"
    else:
        text = to_json(value, fallback=repr).decode()
    text = neutral_special_tokens(clean_text(text))
    if redact is not None:
        text = redact(text)
    if len(text) > limit:
        text = text[:limit] + notes.result_cut(len(text), limit)
    return text


class Executor:
    """Runs the tool calls of one reply for one run.

    Args:
        registry: The agent's tools.
        approval: Consulted before calls of tools marked `requires_approval`.
        approve_all: Consult `approval` before every call.
        max_parallel: Calls that may run at once.
        max_result_chars: Longest tool result sent to the model.
        secrets: Strings replaced by *** in anything sent to the model.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        approval: Approval | None,
        approve_all: bool = False,
        max_parallel: int,
        max_result_chars: int,
        secrets: Sequence[str] = (),
    ) -> None:
        self.registry = registry
        self.approval = approval
        self.approve_all = approve_all
        self.max_parallel = max_parallel
        self.max_result_chars = max_result_chars
        self.secrets = tuple(secrets)

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _tell(self, text: object) -> str:
        """Text for the model: control sequences removed, secrets redacted, length capped."""
        return result_text(str(text), self.max_result_chars, self._redact)

    def prepare(self, call: ToolCall, truncated: bool = False) -> CallOutcome | dict[str, Any]:
        """Validated keyword arguments for a call, or the outcome that says why it cannot run."""
        tool = self.registry.get(call.name)
        if tool is None:
            text = notes.unknown_tool(call.name, self.registry.names)
            return CallOutcome(call, text, is_error=True, error_type="unknown_tool")
        if call.arguments is None:
            text = notes.unreadable_arguments(call.name, call.raw_arguments, truncated)
            return CallOutcome(call, self._tell(text), True, error_type="invalid_arguments")
        try:
            return tool.validate(call.arguments)
        except ModelRetry as exc:  # whatever went wrong in validation (see Tool.validate)
            return CallOutcome(call, self._tell(exc.message), True, error_type="invalid_arguments")

    async def approve(self, call: ToolCall, tool: Tool) -> CallOutcome | None:
        """None when the call may run; otherwise the outcome of a declined call."""
        if not (tool.requires_approval or (self.approve_all and self.approval is not None)):
            return None
        if self.approval is None:
            text = notes.no_approval_configured(call.name)
            return CallOutcome(call, text, is_error=True, error_type="declined")
        try:
            verdict = self.approval(call)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except Exception as exc:  # fail closed: a broken check never approves
            text = self._tell(notes.approval_failed(call.name, error_text(exc)))
            return CallOutcome(call, text, is_error=True, error_type=type(exc).__name__)
        if verdict:
            return None
        return CallOutcome(call, notes.declined(call.name), is_error=False)

    async def run(
        self,
        calls: Sequence[tuple[ToolCall, Tool, dict[str, Any]]],
        context: Callable[[ToolCall], RunContext[Any]],
    ) -> list[CallOutcome]:
        """Run validated calls concurrently (at most `max_parallel` at once); outcomes in order.

        Every call runs in the task group, a single one too. A cancellation of the run (an
        anyio scope, `task.cancel()`, Ctrl-C) cancels the group's scope and propagates; a
        `CancelledError` that a tool's own code raises while no enclosing scope is cancelled
        ends only that call, which is reported as failed, and its siblings run on.
        """
        outcomes: list[CallOutcome | None] = [None] * len(calls)
        limiter = anyio.CapacityLimiter(self.max_parallel) if len(calls) > 1 else None
        fatal: list[BaseException] = []

        async def run_at(index: int) -> None:
            try:
                if limiter is None:
                    outcomes[index] = await self._run_one(*calls[index], context)
                    return
                # The slot is taken before the call's timeout starts: a call waiting for
                # one has not started, and its wait is not the tool's time.
                async with limiter:
                    outcomes[index] = await self._run_one(*calls[index], context)
            except anyio.get_cancelled_exc_class():
                if anyio.current_effective_deadline() == -math.inf:
                    raise  # the run (or this batch) is being cancelled
                call = calls[index][0]
                text = notes.cancelled_by_tool(call.name)
                outcomes[index] = CallOutcome(call, text, True, error_type="CancelledError")
            except BaseException as exc:  # KeyboardInterrupt, SystemExit: end the batch
                fatal.append(exc)
                tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            for index in range(len(calls)):
                tg.start_soon(run_at, index)
        if fatal:
            raise fatal[0]
        finished = [outcome for outcome in outcomes if outcome is not None]
        assert len(finished) == len(calls), "a call ended without an outcome"
        return finished

    async def run_one(
        self,
        call: ToolCall,
        tool: Tool,
        kwargs: dict[str, Any],
        context: Callable[[ToolCall], RunContext[Any]],
    ) -> CallOutcome:
        """Run one validated call as `run` runs each (its timeout, sync tools in a worker
        thread, failures as text): what serving tools over MCP runs for a call."""
        return await self._run_one(call, tool, kwargs, context)

    async def _run_one(
        self,
        call: ToolCall,
        tool: Tool,
        kwargs: dict[str, Any],
        context: Callable[[ToolCall], RunContext[Any]],
    ) -> CallOutcome:
        ctx = context(call) if tool.context_param is not None else None
        start = time.perf_counter()
        try:
            with anyio.move_on_after(tool.timeout) as scope:
                value = await self._invoke(tool, kwargs, ctx)
            if scope.cancelled_caught:
                text = notes.timed_out(call.name, tool.timeout)
                return CallOutcome(call, text, True, time.perf_counter() - start, "timeout")
        except ModelRetry as exc:
            text = self._tell(exc.message)
            return CallOutcome(call, text, True, time.perf_counter() - start, "model_retry")
        except Exception as exc:
            text = self._tell(notes.failed(call.name, error_text(exc)))
            return CallOutcome(call, text, True, time.perf_counter() - start, type(exc).__name__)
        try:
            text = result_text(value, self.max_result_chars, self._redact)
        except Exception as exc:  # a reference cycle, a failing repr
            text = self._tell(notes.not_text(call.name, error_text(exc)))
            return CallOutcome(call, text, True, time.perf_counter() - start, type(exc).__name__)
        return CallOutcome(call, text, False, time.perf_counter() - start)

    async def _invoke(self, tool: Tool, kwargs: dict[str, Any], ctx: RunContext[Any] | None) -> Any:
        if tool.is_async:
            value = tool.invoke(kwargs, ctx)
        else:
            # Sync tools run in anyio's worker threads (at most 40 per process by default). A
            # thread cannot be killed: on timeout or cancellation it is abandoned and finishes
            # in the background, instead of being waited on forever.
            value = await anyio.to_thread.run_sync(tool.invoke, kwargs, ctx, abandon_on_cancel=True)
        # A function that returns an awaitable (an async function behind a plain decorator,
        # say) is awaited here, on the event loop, under the call's timeout.
        while inspect.isawaitable(value):
            value = await value
        return value

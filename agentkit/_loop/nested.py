"""Agents as tools: a sub-agent's run inside a tool call of its caller's run.

`agent.as_tool()` makes an `AgentTool`. When a reply's calls include one, the call step
opens a `Caller` for the batch (a context variable, so each call's task sees its run): the
sub-agent's run then counts its usage in the caller's run as it goes (so the top run's
limits bind the whole tree), streams when the top run streams, asks the caller's approval
callback when it has none, and passes each of its events up, as an `AgentEvent`, to the
caller's hooks at once and to the caller's stream when the batch ends. A sub-agent that
trips a guardrail, fails one, exceeds a usage limit or the depth limit stops the whole tree:
the batch is cancelled and the caller's run fails with that error. Any other failure of the
sub-agent is the call's result, as for any tool.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import anyio
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from agentkit._context import RunContext
from agentkit._loop.execute import Approval
from agentkit._loop.state import RunState
from agentkit.errors import (
    GuardrailError,
    GuardrailTripped,
    HookError,
    MaxDepthExceeded,
    ModelRetry,
    RunError,
    UsageLimitExceeded,
    UserError,
)
from agentkit.events import AgentEvent, Event, RunFinished
from agentkit.tools import Tool
from agentkit.tools._schema import clean_schema, format_validation_error

__all__ = [
    "AgentTool",
    "Caller",
    "ChildEvents",
    "Parent",
    "agent_tool",
    "close_all",
    "current_caller",
]

# Errors of a sub-agent that stop the whole tree instead of failing one call.
TREE_STOPS = (GuardrailTripped, GuardrailError, UsageLimitExceeded, MaxDepthExceeded, HookError)

TASK_DESCRIPTION = "The whole task: the agent sees nothing else of this conversation."


class Caller:
    """A run whose current batch of tool calls may start sub-agents.

    Attributes:
        run: The calling run's state.
        path: Agent names from the top run to this one.
        depth: 0 for a top run.
        max_depth: The top agent's `max_depth`.
        stream: Whether the top run streams.
        approval: The approval callback (and approve-all flag) a sub-agent without its own
            uses.
        notify: Hands an event to the calling run's hooks at once.
    """

    __slots__ = (
        "approval",
        "depth",
        "max_depth",
        "notify",
        "passed_up",
        "path",
        "run",
        "scope",
        "stopped",
        "stream",
    )

    def __init__(
        self,
        run: RunState,
        *,
        path: tuple[str, ...],
        depth: int,
        max_depth: int,
        stream: bool,
        approval: tuple[Approval | None, bool],
        notify: Callable[[Event], Awaitable[None]],
    ) -> None:
        self.run = run
        self.path = path
        self.depth = depth
        self.max_depth = max_depth
        self.stream = stream
        self.approval = approval
        self.notify = notify
        self.passed_up: list[AgentEvent] = []  # for the stream, when the batch ends
        self.stopped: RunError | None = None
        self.scope: anyio.CancelScope | None = None

    async def pass_up(self, event: AgentEvent) -> None:
        await self.notify(event)
        self.passed_up.append(event)

    def stop(self, error: RunError) -> None:
        """Stop the whole batch (and so the tree): the run fails with `error`."""
        if self.stopped is None:
            self.stopped = error
        if self.scope is not None:
            self.scope.cancel()

    def take_passed_up(self) -> list[AgentEvent]:
        events, self.passed_up = self.passed_up, []
        return events


_current: ContextVar[Caller | None] = ContextVar("agentkit_caller", default=None)


def current_caller() -> Caller | None:
    """The run whose tool call runs in this task, when it may start sub-agents."""
    return _current.get()


def calling(caller: Caller) -> Any:
    """Make `caller` the current caller of this task: `_current.reset(token)` after."""
    return _current.set(caller)


def done_calling(token: Any) -> None:
    _current.reset(token)


class Parent:
    """What a sub-agent's run gets from the call that starts it."""

    __slots__ = ("call_id", "caller")

    def __init__(self, caller: Caller, call_id: str) -> None:
        self.caller = caller
        self.call_id = call_id


# Runs an agent: (prompt, deps, parent or None) -> its events.
ChildEvents = Callable[[str, Any, "Parent | None"], AsyncIterator[Event]]


class AgentTool(Tool):
    """A `Tool` that runs another agent (`agent.as_tool()`); `agent` is that agent."""

    __slots__ = ("_adapter", "_options", "agent", "agent_name")

    agent: Any
    agent_name: str
    _adapter: TypeAdapter[Any] | None
    _options: dict[str, Any]

    def __reduce__(self) -> tuple[Any, ...]:
        # The agent travels as its configuration; the tool is made again from it.
        return (_remade, (self.agent, self._options))

    def _key(self) -> tuple[Any, ...]:
        # The same agent offered the same way is the same tool (after a pickle round trip).
        return ("agent", self.agent.config, sorted(self._options.items(), key=str))

    def __hash__(self) -> int:
        return hash((self.name, "agent"))


def _remade(agent: Any, options: dict[str, Any]) -> Tool:
    made: Tool = agent.as_tool(**options)
    return made


def agent_tool(
    agent: Any,
    name: str | None,
    description: str | None,
    input_type: Any,
    options: dict[str, Any],
) -> AgentTool:
    """The tool that runs `agent` (an `Agent`; see `Agent.as_tool`).

    Raises:
        UserError: No description, a bad name, or an `input_type` with no JSON schema.
    """
    agent_name: str = agent.config.name
    description = description or agent.config.description
    unknown = sorted(set(options) - {"timeout", "requires_approval", "max_failures"})
    if unknown:
        raise UserError(
            f"as_tool() got unknown option(s) {', '.join(unknown)}; "
            "known: timeout, requires_approval, max_failures"
        )
    if not description:
        raise UserError(
            f"agent {agent_name!r} as a tool needs a description: say what it does and "
            "when to call it, as_tool(description=...) or Agent(description=...) (the "
            "calling model reads it to decide)"
        )
    adapter: TypeAdapter[Any] | None = None
    if input_type is None:
        parameters: dict[str, Any] = {
            "type": "object",
            "properties": {"task": {"type": "string", "description": TASK_DESCRIPTION}},
            "required": ["task"],
            "additionalProperties": False,
        }
    else:
        try:
            adapter = TypeAdapter(input_type)
            parameters = clean_schema(adapter.json_schema())
        except Exception as exc:
            raise UserError(
                f"input_type {input_type!r} cannot be described as a JSON schema: "
                f"{str(exc).splitlines()[0]}; use a pydantic model, dataclass or TypedDict"
            ) from None
        if parameters.get("type") != "object":
            raise UserError(f"input_type {input_type!r} must describe an object (its fields)")

    def events(prompt: str, deps: Any, parent: Parent | None) -> AsyncIterator[Event]:
        stream = parent is not None and parent.caller.stream
        run: AsyncIterator[Event] = agent._events(
            prompt, None, deps, None, None, stream=stream, parent=parent
        )
        return run

    async def run_agent(ctx: RunContext[Any], **arguments: Any) -> str:
        prompt = _prompt(tool, arguments)
        return await run_child(events, agent_name, prompt, ctx)

    timeout = options.get("timeout", 600.0)
    made = AgentTool.from_schema(
        name=name or agent_name,
        description=description,
        parameters=parameters,
        function=run_agent,
        timeout=timeout,
        requires_approval=options.get("requires_approval", False),
        max_failures=options.get("max_failures"),
    )
    assert isinstance(made, AgentTool)
    tool: AgentTool = made
    tool.agent = agent
    tool.agent_name = agent_name
    tool._adapter = adapter
    tool._options = {"name": name, "description": description, "input_type": input_type}
    tool._options.update(options)
    return tool


async def close_all(agent: Any, seen: set[int] | None = None) -> None:
    """Close what an agent holds for the running event loop: its model's connections, its
    guardrails' (those with `aclose`), and those of the agents it uses as tools."""
    seen = set() if seen is None else seen
    if id(agent) in seen:
        return  # agents that call each other: each closed once
    seen.add(id(agent))
    await agent.model.aclose()
    config = agent.config
    guardrails = {*config.input_guardrails, *config.output_guardrails}
    guardrails.update(config.tool_result_guardrails)
    for guardrail in guardrails:
        close = getattr(guardrail, "aclose", None)
        if callable(close):
            await close()
    for tool in agent.tools:
        if isinstance(tool, AgentTool):
            await close_all(tool.agent, seen)


def _prompt(tool: AgentTool, arguments: dict[str, Any]) -> str:
    """The sub-agent's prompt: the task, or the validated input as JSON."""
    if tool._adapter is None:
        return str(arguments["task"])
    try:
        value = tool._adapter.validate_python(arguments)
    except ValidationError as exc:
        allowed = ", ".join(tool.parameters.get("properties", {})) or "none"
        raise ModelRetry(format_validation_error(tool.name, exc, allowed)) from None
    return to_json(value).decode()


async def run_child(events: ChildEvents, name: str, prompt: str, ctx: RunContext[Any]) -> str:
    """Run the sub-agent for one call; its answer as the call's result (text, or JSON).

    Raises:
        RunError: The sub-agent failed (the call's result says so); one of `TREE_STOPS`
            also stops the caller's whole batch.
    """
    caller = current_caller()
    if caller is None:  # called outside an agentkit batch: a run of its own
        result = None
        async for event in events(prompt, ctx.deps, None):
            if isinstance(event, RunFinished):
                result = event.result
        assert result is not None
        return _answer(result.output)
    depth = caller.depth + 1
    if depth > caller.max_depth:
        path = (*caller.path, name)
        error = MaxDepthExceeded(
            f"agent {name!r} would run at depth {depth} > max_depth {caller.max_depth} "
            f"(path {' > '.join(path)}): raise max_depth on the top agent, or look for "
            "agents that call each other in circles",
            path=path,
        )
        caller.stop(caller.run.fail(error))
        raise error
    parent = Parent(caller, ctx.tool_call_id)
    path = (*caller.path, name)
    result = None
    try:
        async for event in events(prompt, ctx.deps, parent):
            if isinstance(event, AgentEvent):  # a grandchild's: passed on flat
                await caller.pass_up(AgentEvent(event.path, event.event, caller.run.run_id))
                continue
            if isinstance(event, RunFinished):
                result = event.result
            await caller.pass_up(AgentEvent(path, event, caller.run.run_id))
    except TREE_STOPS as exc:
        caller.stop(exc)
        raise
    assert result is not None
    return _answer(result.output)


def _answer(output: Any) -> str:
    if isinstance(output, str):
        return output
    try:
        return to_json(output).decode()
    except Exception:
        return json.dumps(output, default=str)

"""Tool sources (MCP servers) among an agent's tools: kept apart, started, listed per run.

`Agent(tools=[server, my_function])` keeps the server where it stands in `config.tools`.
Its tools are listed at the start of each run (a dict check while the server's listing is
fresh, and the very same `Tool` objects), so the loop is rebuilt only when a listing really
changed; a run keeps the tools it started with. Tool names come in the order of
`config.tools`, each server's sorted by name.

Lifetime, under structured concurrency (no task outlives the block that started it):
- `async with agent:` starts the sources that are not running (its sub-agents' too) in a
  task group of its own and stops them at the end; a source someone else runs is theirs.
- `run()` outside that block starts what is not running for that run only, and stops it
  when the run ends. A concurrent run in another task cannot use those: it is refused.
- `stream()` and sub-agents never start sources: an async generator may be closed from
  another task, which would leave its task group's scope in the wrong task.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    aclosing,
    asynccontextmanager,
    nullcontext,
)
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import anyio

from agentkit._loop.nested import AgentTool
from agentkit.errors import UserError
from agentkit.events import Event
from agentkit.models import OUTPUT_TOOL_NAME
from agentkit.tools import Tool, ToolRegistry, ToolSource, is_tool_source

if TYPE_CHECKING:
    from agentkit._loop.loop import Loop
    from agentkit.agent import Agent

__all__ = [
    "Lifetime",
    "SourcedTools",
    "Split",
    "for_run",
    "serving",
    "sourced",
    "split_sources",
]

# Ids of the sources that the runs this task is inside started (sub-agents may use them).
_in_runs: ContextVar[frozenset[int]] = ContextVar("agentkit_run_sources", default=frozenset())
# The sources started by a run, until it stops them.
_run_started: dict[int, ToolSource] = {}


@dataclass(frozen=True)
class Split:
    """`tools=[...]` as given, its plain tools apart and its sources apart."""

    items: tuple[Any, ...]
    plain: Any
    sources: list[ToolSource]

    def ordered(self, registry: ToolRegistry) -> tuple[Any, ...]:
        """`config.tools`: the plain tools (as `Tool`s) and the sources, in the given order."""
        made = iter(registry)
        return tuple(item if is_tool_source(item) else next(made) for item in self.items)


def split_sources(tools: Iterable[Any]) -> Split:
    """The tool sources of `tools=` apart from its tools and functions.

    Raises:
        UserError: A source given on its own, not in a list.
    """
    if is_tool_source(tools):
        raise UserError(
            "tools must be a list of tools, functions or MCP servers: write tools=[server] "
            f"(for the server `{getattr(tools, 'name', tools)}`)"
        )
    if isinstance(tools, (Tool, str, bytes)) or callable(tools):
        return Split((), tools, [])  # the registry says what is wrong with it
    items = tuple(tools)
    sources = [item for item in items if is_tool_source(item)]
    if len({id(source) for source in sources}) < len(sources):
        twice = sorted({s.name for s in sources if sum(t is s for t in sources) > 1})
        raise UserError(f"MCP server `{'`, `'.join(twice)}` is listed twice in tools=[...]")
    return Split(items, [item for item in items if not is_tool_source(item)], sources)


def sourced(agent: Agent[Any], split: Split, has_output: bool) -> SourcedTools | None:
    """What runs the agent's sources and its sub-agents' ones; None when there are none."""
    nested: list[ToolSource] = []
    for tool in agent.tools:
        inner = getattr(tool.agent, "_sources", None) if isinstance(tool, AgentTool) else None
        if inner is not None:
            nested.extend(inner.everywhere)
    if not split.sources and not nested:
        return None
    return SourcedTools(agent, split, nested, has_output)


@asynccontextmanager
async def serving(agent: Agent[Any]) -> AsyncIterator[None]:
    """The agent's sources (its sub-agents' too) running for the block, as `async with
    agent:` runs them, but the agent's connections left open at the end: for a caller that
    runs many concurrent runs of an agent it does not own (a batch)."""
    sources: SourcedTools | None = getattr(agent, "_sources", None)
    if sources is None:
        yield
        return
    await sources.enter()
    try:
        yield
    finally:
        await sources.exit()


def for_run(sources: SourcedTools | None) -> AbstractAsyncContextManager[Any]:
    """What `run()` enters: the lifetime of the sources not running, else nothing."""
    lifetime = sources.for_run() if sources is not None else None
    return lifetime if lifetime is not None else nullcontext()


class SourcedTools:
    """An agent's tool sources: their lifetimes, and each run's loop from their listings."""

    def __init__(
        self, agent: Agent[Any], split: Split, nested: Sequence[ToolSource], has_output: bool
    ) -> None:
        self.agent = agent
        self.own = tuple(split.sources)
        unique = {id(s): s for s in itertools.chain(self.own, nested)}
        self.everywhere = tuple(unique.values())
        self.reserved = OUTPUT_TOOL_NAME if has_output else None
        # config.tools with each source as its index in `own`.
        positions = itertools.count()
        self.layout: tuple[Tool | int, ...] = tuple(
            next(positions) if is_tool_source(item) else cast(Tool, item)
            for item in agent.config.tools
        )
        self.listings: list[list[Tool]] | None = None
        self.loop: Loop | None = None
        self.entered: dict[int, list[Lifetime]] = {}

    # -- lifetimes --------------------------------------------------------------------------

    def for_run(self) -> Lifetime | None:
        """The lifetime of the sources a run must start (None when all are running)."""
        missing = [source for source in self.everywhere if not source.running]
        return Lifetime(missing, for_run=True) if missing else None

    async def enter(self) -> None:
        """`async with agent:` starts what is not running, then lists the tools (so a clash
        or a listing failure shows here, and `tool_definitions()` has them)."""
        lifetime = Lifetime([source for source in self.everywhere if not source.running])
        await lifetime.__aenter__()
        try:
            if self.own:
                await self.current()
        except BaseException:
            await lifetime.__aexit__(None, None, None)
            raise
        self.entered.setdefault(anyio.get_current_task().id, []).append(lifetime)

    async def exit(self) -> None:
        """The end of this task's innermost `async with agent:`."""
        lifetimes = self.entered.get(anyio.get_current_task().id)
        if not lifetimes:
            return
        lifetime = lifetimes.pop()
        if not lifetimes:
            del self.entered[anyio.get_current_task().id]
        await lifetime.__aexit__(None, None, None)

    async def stop(self) -> None:
        """Stop every source the agent's `async with` blocks started (from any task)."""
        for lifetimes in list(self.entered.values()):
            for lifetime in lifetimes:
                await lifetime.stop()

    def check(self, stream: bool) -> None:
        """Refuse a run whose sources are not running, or belong to another task's run."""
        ours = _in_runs.get()
        for source in self.everywhere:
            if not source.running and stream:
                raise UserError(
                    f"MCP server `{source.name}` is not running, and stream() does not start "
                    "servers: stream inside `async with agent:` (it starts and stops them)"
                )
            if not source.running:
                raise UserError(
                    f"MCP server `{source.name}` is not running: start the agent's servers "
                    "with `async with agent:` (`await agent.run(...)` starts them for its run)"
                )
            if id(source) in _run_started and id(source) not in ours:
                raise UserError(
                    f"MCP server `{source.name}` was started by another run, and stops when "
                    "that run ends: run agents concurrently inside `async with agent:`"
                )

    # -- listings ---------------------------------------------------------------------------

    def events(
        self, on: Callable[[Loop], AsyncIterator[Event]], stream: bool
    ) -> AsyncIterator[Event]:
        """A run's events: `on(loop)` for the loop of the sources' current listing."""
        self.check(stream)
        if not self.own:  # only its sub-agents have sources
            return on(self.agent._loop)
        return self._listed(on)

    async def _listed(
        self, on: Callable[[Loop], AsyncIterator[Event]]
    ) -> AsyncGenerator[Event, None]:
        events = cast(AsyncGenerator[Event, None], on(await self.current()))
        async with aclosing(events):
            async for event in events:
                yield event

    async def current(self) -> Loop:
        """The loop for the sources' tools now; the same one while no listing changed."""
        listings = [await source.list_tools() for source in self.own]
        if self.loop is not None and self.listings is not None and _same(listings, self.listings):
            return self.loop
        registry = self._registry(listings)
        loop: Loop = self.agent._new_loop(tools=registry)
        self.listings, self.loop = listings, loop
        self.agent._loop, self.agent.tools = loop, registry
        return loop

    def _registry(self, listings: list[list[Tool]]) -> ToolRegistry:
        """The run's tools in order; a name two of them share is refused, naming both."""
        tools: list[Tool] = []
        owners: dict[str, str] = {}
        problems: list[str] = []
        for item in self.layout:
            owner = "the agent's own tools"
            if isinstance(item, int):
                owner = f"MCP server `{self.own[item].name}`"
            for tool in listings[item] if isinstance(item, int) else [item]:
                first = owners.setdefault(tool.name, owner)
                if first != owner:
                    problems.append(
                        f"two tools are named `{tool.name}`: one of {first}, one of {owner}: "
                        "give the server a prefix (prefix=...), or leave one out (deny=[...])"
                    )
                elif tool.name == self.reserved and isinstance(item, int):
                    problems.append(
                        f"{owner} has a tool `{tool.name}`, the name of the output tool: give "
                        "the server a prefix (prefix=...), or leave it out (deny=[...])"
                    )
                else:
                    tools.append(tool)
        if problems:
            raise UserError("the agent's tools are not valid:", problems)
        return ToolRegistry(tools)


def _same(listings: list[list[Tool]], before: list[list[Tool]]) -> bool:
    return all(
        len(now) == len(then) and all(a is b for a, b in zip(now, then, strict=True))
        for now, then in zip(listings, before, strict=True)
    )


class Lifetime:
    """Starts sources (at once) in a task group of its own; stops them at the end.

    The block's exception is not handed to the task group (it would come out wrapped in an
    ExceptionGroup); a start that fails stops the others and raises as it is.
    """

    def __init__(self, sources: Sequence[ToolSource], *, for_run: bool = False) -> None:
        self.sources = list(sources)
        self.started: list[ToolSource] = []
        self.for_run = for_run
        self._stack: AsyncExitStack | None = None
        self._token: Token[frozenset[int]] | None = None

    async def __aenter__(self) -> Lifetime:
        stack = AsyncExitStack()
        group = await stack.enter_async_context(anyio.create_task_group())
        try:
            await _start_all(group, self.sources, self.started)
        except BaseException:
            try:
                with anyio.CancelScope(shield=True):
                    await _stop_all(self.started)
            finally:
                await stack.aclose()  # outside the shield: the group was entered before it
            raise
        self._stack = stack
        if self.for_run:
            ids = {id(source) for source in self.started}
            _run_started.update((id(source), source) for source in self.started)
            self._token = _in_runs.set(_in_runs.get() | ids)
        return self

    async def stop(self) -> None:
        """Stop what it started (from any task) and wait until it has stopped."""
        await _stop_all(self.started)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.stop()
        finally:
            for source in self.started:
                _run_started.pop(id(source), None)
            if self._token is not None:
                _in_runs.reset(self._token)
                self._token = None
            stack, self._stack = self._stack, None
            if stack is not None:
                await stack.aclose()


async def _start_all(
    group: anyio.abc.TaskGroup, sources: Sequence[ToolSource], started: list[ToolSource]
) -> None:
    """Start the sources at once; the first failure (in their order) is raised as it is."""
    errors: dict[int, Exception] = {}

    async def start(index: int, source: ToolSource) -> None:
        try:
            await source.start(group)
        except Exception as exc:
            errors[index] = exc
        else:
            started.append(source)

    async with anyio.create_task_group() as starting:
        for index, source in enumerate(sources):
            starting.start_soon(start, index, source)
    if errors:
        raise errors[min(errors)]


async def _stop_all(sources: Sequence[ToolSource]) -> None:
    """Stop the sources at once; the first failure is raised once all have stopped."""
    errors: list[Exception] = []

    async def stop(source: ToolSource) -> None:
        try:
            await source.aclose()
        except Exception as exc:
            errors.append(exc)

    async with anyio.create_task_group() as stopping:
        for source in sources:
            stopping.start_soon(stop, source)
    if errors:
        raise errors[0]

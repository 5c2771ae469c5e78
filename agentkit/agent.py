"""Agent: its configuration (a frozen value), and run / run_sync / stream over the one loop.

The loop itself is in `agentkit._loop`; an Agent builds it once from its configuration, and
each run drains it (`run`), hands its events out (`stream`), or does so in a fresh event
loop (`run_sync`). `replace(**changes)` makes a new agent with some settings changed.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio

from agentkit._config import (
    AgentConfig,
    Collector,
    ConfigReads,
    config_problems,
    event_loop_running,
    extension_problems,
    registry,
    tool_choice_problem,
)
from agentkit._env import DEFAULT_MODEL
from agentkit._loop.execute import Approval
from agentkit._loop.guard import Guards
from agentkit._loop.hooks import Hook
from agentkit._loop.loop import Loop
from agentkit._loop.nested import Parent, agent_tool, close_all
from agentkit._loop.output import OutputSpec
from agentkit._loop.stored import stored_events
from agentkit._loop.window import budget_problems, input_budget
from agentkit._sources import for_run, sourced, split_sources
from agentkit.errors import UserError
from agentkit.events import Event, RunFinished, RunResult
from agentkit.guardrails import Guardrail
from agentkit.messages import Message
from agentkit.models import OUTPUT_TOOL_NAME, Model, ModelSettings
from agentkit.models._base import check_settings
from agentkit.models._resolve import resolve_model
from agentkit.tools import Tool, ToolRegistry, ToolSource
from agentkit.usage import UsageLimits, check_price

if TYPE_CHECKING:
    from agentkit.sessions import HistoryProcessor, Session, TokenCounter

__all__ = ["Agent", "AgentConfig", "RunResult", "UsageLimits"]

OutputT = TypeVar("OutputT")


_FIELDS = tuple(f.name for f in dataclasses.fields(AgentConfig))


class Agent(ConfigReads, Generic[OutputT]):
    """A Llama 3.1 agent: instructions, tools, a model, and the loop that ties them.

    Args:
        model: A model id served by the endpoint, "offline" for the built-in offline model,
            or a `Model` instance.
        instructions: The system prompt.
        tools: `Tool`s, plain functions (described from type hints and docstrings), and MCP
            servers (`agentkit.mcp`; started by `async with agent:`, else for each run).
        base_url: The endpoint; else AGENTKIT_BASE_URL, else OPENAI_BASE_URL, else haimaker.
        api_key: The key; else AGENTKIT_API_KEY, else OPENAI_API_KEY.
        max_turns: Model replies a run may take before `MaxTurnsExceeded`.
        output_type: When set, the answer is a validated instance of this type, given by the
            model through a `final_result` tool.
        approval: Called with the `ToolCall` before each call of a tool marked
            `requires_approval`; sync or async; a false answer declines the call.
        approve_all_tools: Consult `approval` before every tool call, not only the marked.
        max_tool_failures: A tool (or the output) failing this many times in a row stops
            the run with `ToolRetriesExceeded`; a tool's own `max_failures` wins.
        model_settings: temperature, top_p, max_tokens, seed, stop, tool_choice,
            first_tool_choice (the first request's tool_choice: "required" makes the first
            reply call a tool), parallel_tool_calls, extra_body.
        usage_limits: Request, token and tool-call limits per run.
        max_parallel_tools: Tool calls of one reply that run at once.
        max_result_chars: Longest tool result sent to the model; longer ones are cut.
        max_retries: HTTP retries of the `openai` SDK.
        timeout: Seconds the SDK waits to connect and between bytes of a reply.
        deadline: Seconds one model request may take in all, retries and streaming included
            (a slow drip never trips `timeout`; this stops it).
        price: (input, output) US dollars per million tokens for this agent's model, over
            `agentkit.messages.PRICES`; the cost in `Usage` is estimated from it.
        name: Its tool name in `as_tool()`, and its name in events and traces.
        description: What it does, for a model that may call it (`as_tool()`).
        hooks: Callables (sync or async) given every event of every run, in order.
        input_guardrails: Judge the user's prompt before the first request.
        output_guardrails: Judge the final answer first (`stream()` holds its text till then).
        tool_result_guardrails: Judge each tool result before the model sees it.
        max_depth: How deep agents used as tools may call each other, from this agent.
        max_input_tokens: Past it, requests send a trimmed history (Llama 3.1 default: 114,688).
        history_processor: Before each request, messages in, the messages to send out.
        token_counter: Exact sizes from the server near the budget (`server_token_counter`).
    """

    def __init__(
        self,
        model: str | Model = DEFAULT_MODEL,
        *,
        instructions: str | None = None,
        tools: Iterable[Tool | Callable[..., Any] | ToolSource] = (),
        base_url: str | None = None,
        api_key: str | None = None,
        max_turns: int = 10,
        output_type: type[OutputT] | None = None,
        approval: Approval | None = None,
        approve_all_tools: bool = False,
        max_tool_failures: int = 2,
        model_settings: ModelSettings | None = None,
        usage_limits: UsageLimits | None = None,
        max_parallel_tools: int = 8,
        max_result_chars: int = 100_000,
        max_retries: int = 2,
        timeout: float = 60.0,
        deadline: float = 600.0,
        price: tuple[float, float] | None = None,
        name: str = "agent",
        description: str | None = None,
        hooks: Sequence[Hook] = (),
        input_guardrails: Sequence[Guardrail] = (),
        output_guardrails: Sequence[Guardrail] = (),
        tool_result_guardrails: Sequence[Guardrail] = (),
        max_depth: int = 5,
        max_input_tokens: int | None = None,
        history_processor: HistoryProcessor | None = None,
        token_counter: TokenCounter | None = None,
    ) -> None:
        problems = config_problems(
            max_turns, max_tool_failures, max_parallel_tools, max_result_chars
        )
        if price is not None and (price_problem := check_price(price)) is not None:
            problems.append(price_problem)
        problems += extension_problems(
            name, max_depth, hooks, input_guardrails, output_guardrails, tool_result_guardrails
        )
        built = Collector(problems)
        split = built(split_sources, tools)  # MCP servers (tool sources) apart
        tools_ = built(registry, split.plain if split is not None else ())
        model_ = built(
            resolve_model,
            model,
            base_url=base_url,
            api_key=api_key,
            max_retries=max_retries,
            timeout=timeout,
            deadline=deadline,
        )
        settings = built(check_settings, model_settings or {})
        output = None
        if output_type is not None and output_type is not str:
            output = built(OutputSpec, output_type)
            if tools_ is not None and OUTPUT_TOOL_NAME in tools_:
                problems.append(f"`{OUTPUT_TOOL_NAME}` is reserved for the output tool: rename it")
        if settings and (choice := tool_choice_problem(settings, output_type not in (None, str))):
            problems.append(choice)
        if usage_limits is not None and not isinstance(usage_limits, UsageLimits):
            problems.append(f"usage_limits must be a UsageLimits, got {usage_limits!r:.80}")
        problems += budget_problems(max_input_tokens, model_, settings)
        if problems or model_ is None or tools_ is None or settings is None or split is None:
            raise UserError("the agent is not valid:", problems)
        self.config = AgentConfig(
            model=model,
            instructions=instructions,
            tools=split.ordered(tools_),
            base_url=base_url,
            api_key=api_key,
            max_turns=max_turns,
            output_type=output_type,
            approval=approval,
            approve_all_tools=approve_all_tools,
            max_tool_failures=max_tool_failures,
            model_settings=settings,
            usage_limits=usage_limits or UsageLimits(),
            max_parallel_tools=max_parallel_tools,
            max_result_chars=max_result_chars,
            max_retries=max_retries,
            timeout=timeout,
            deadline=deadline,
            price=None if price is None else (float(price[0]), float(price[1])),
            name=name,
            description=description,
            hooks=tuple(hooks),
            input_guardrails=tuple(input_guardrails),
            output_guardrails=tuple(output_guardrails),
            tool_result_guardrails=tuple(tool_result_guardrails),
            max_depth=max_depth,
            max_input_tokens=max_input_tokens,
            history_processor=history_processor,
            token_counter=token_counter,
        )
        self.model: Model = model_
        self.tools: ToolRegistry = tools_
        self._new_loop = functools.partial(
            Loop,
            model=model_,
            tools=tools_,
            output=output,
            instructions=instructions,
            max_turns=max_turns,
            max_tool_failures=max_tool_failures,
            approval=approval,
            approve_all_tools=approve_all_tools,
            max_parallel_tools=max_parallel_tools,
            max_result_chars=max_result_chars,
            price=self.config.price,
            name=name,
            hooks=self.config.hooks,
            guards=Guards(input_guardrails, output_guardrails, tool_result_guardrails),
            max_depth=max_depth,
            max_input_tokens=input_budget(max_input_tokens, model_.name, settings),
            history_processor=history_processor,
            token_counter=token_counter,
        )
        self._loop: Loop = self._new_loop()
        self._sources = sourced(self, split, output is not None)

    def replace(self, **changes: Any) -> Agent[Any]:
        """A new agent with the settings in `changes` and this one's for the rest.

        `agent.replace(model="meta-llama/llama-3.1-8b-instruct", max_turns=4)` keeps the
        instructions, tools, endpoint, key, timeouts and limits. The new agent has its own
        connections; this one is left as it was.

        Raises:
            UserError: A name that is no setting, or a resulting configuration not valid.
        """
        unknown = sorted(set(changes) - set(_FIELDS))
        if unknown:
            raise UserError(
                f"Agent.replace() got unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(_FIELDS)}"
            )
        return Agent.from_config(dataclasses.replace(self.config, **changes))

    @classmethod
    def from_config(cls, config: AgentConfig) -> Agent[Any]:
        """The agent a configuration describes (`agent.config`, perhaps from another process)."""
        values = {name: getattr(config, name) for name in _FIELDS}
        values["model_settings"] = dict(config.model_settings)
        return cls(**values)

    def __reduce__(self) -> tuple[Any, ...]:
        # An agent travels as its configuration; its connections are made anew where it lands.
        return (Agent.from_config, (self.config,))

    def __repr__(self) -> str:
        return f"Agent(model={self.model.name!r}, tools={self.tools.names})"

    def tool_definitions(self) -> list[dict[str, Any]]:
        """The tools as every request offers them to the model (the output tool included;
        an MCP server's once listed, as `async with agent:` does)."""
        return [copy.deepcopy(dict(d)) for d in self._loop.replies.definitions]

    def as_tool(
        self,
        name: str | None = None,
        description: str | None = None,
        input_type: Any = None,
        **options: Any,
    ) -> Tool:
        """This agent as a tool another agent can call: a call runs this agent on its task.

        `name` and `description` default to the agent's; `input_type` (a pydantic model)
        replaces the one `task` string; `options`: timeout (600 s), requires_approval,
        max_failures, as for `@tool`. Raises `UserError` without a description.
        """
        return agent_tool(self, name, description, input_type, options)

    async def aclose(self) -> None:
        """Close the HTTP connections of the model, the guardrails and the agents used as
        tools (they belong to the running event loop); stop the MCP servers it started."""
        if self._sources is not None:
            await self._sources.stop()
        await close_all(self)

    async def __aenter__(self) -> Agent[OutputT]:
        if self._sources is not None:  # starts its MCP servers (and its sub-agents')
            await self._sources.enter()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._sources is not None:
                await self._sources.exit()
        finally:
            await self.aclose()

    async def run(
        self,
        prompt: str,
        *,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        deps: Any = None,
        model_settings: ModelSettings | None = None,
        usage_limits: UsageLimits | None = None,
        session: Session | None = None,
    ) -> RunResult[OutputT]:
        """Run the agent on a prompt until it gives a final answer.

        Args:
            prompt: The user's message.
            messages: An earlier conversation to continue (typed messages or wire dicts).
            deps: Passed to tools as `RunContext.deps`.
            model_settings: Settings for this run, over the agent's.
            usage_limits: Limits for this run, instead of the agent's.
            session: A stored conversation (`agentkit.sessions`): loaded, each turn stored.

        Raises:
            ModelError: The endpoint failed after retries, or answered garbage.
            MaxTurnsExceeded: The model kept calling tools for `max_turns` replies.
            UsageLimitExceeded: A usage limit was reached.
            ToolRetriesExceeded: A tool kept failing past its budget.
        """
        result: RunResult[OutputT] | None = None
        async with for_run(self._sources):  # MCP servers not running live for this run
            events = self._events(
                prompt, messages, deps, model_settings, usage_limits, False, session
            )
            async for event in events:
                if isinstance(event, RunFinished):
                    result = event.result
        assert result is not None, "the loop ended without a result"
        return result

    def run_sync(
        self,
        prompt: str,
        *,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        deps: Any = None,
        model_settings: ModelSettings | None = None,
        usage_limits: UsageLimits | None = None,
        session: Session | None = None,
    ) -> RunResult[OutputT]:
        """`run()` from synchronous code, in a fresh event loop.

        Raises:
            UserError: Called where an event loop is already running (async code, Jupyter):
                use `await agent.run(...)` there.
        """
        if event_loop_running():
            raise UserError(
                "run_sync() cannot start an event loop inside a running one (async code, "
                "Jupyter): use `await agent.run(...)` instead"
            )

        async def main() -> RunResult[OutputT]:
            try:
                return await self.run(
                    prompt,
                    messages=messages,
                    deps=deps,
                    model_settings=model_settings,
                    usage_limits=usage_limits,
                    session=session,
                )
            finally:
                with anyio.CancelScope(shield=True):
                    await self.aclose()  # its connections die with this event loop

        return anyio.run(main)

    def stream(
        self,
        prompt: str,
        *,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        deps: Any = None,
        model_settings: ModelSettings | None = None,
        usage_limits: UsageLimits | None = None,
        session: Session | None = None,
    ) -> AsyncIterator[Event]:
        """Run the agent with streaming requests, yielding events as they happen.

        Text deltas arrive as `TextDelta`; the last event is `RunFinished` with the result.
        With `session=`, `aclose()` a stream you stop reading early: it gives the session back.
        """
        return self._events(prompt, messages, deps, model_settings, usage_limits, True, session)

    def _events(
        self,
        prompt: str,
        history: Sequence[Message | Mapping[str, Any]] | None,
        deps: Any,
        settings: ModelSettings | None,
        limits: UsageLimits | None,
        stream: bool,
        session: Session | None = None,
        *,
        parent: Parent | None = None,
    ) -> AsyncIterator[Event]:
        merged = check_settings({**self.config.model_settings, **(settings or {})})
        if settings and (choice := tool_choice_problem(merged, self._loop.output is not None)):
            raise UserError(choice)
        limits = limits or self.config.usage_limits

        def on(loop: Loop) -> AsyncIterator[Event]:
            if session is not None:  # a run on a session: see `_loop.stored`
                return stored_events(loop, session, history, prompt, deps, merged, limits, stream)
            return loop.events(prompt, history, deps, merged, limits, stream=stream, parent=parent)

        if self._sources is not None:  # MCP servers: the loop of this run's tool listing
            return self._sources.events(on, stream)
        return on(self._loop)

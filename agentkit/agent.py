"""The agent and its loop: request a reply, run its tool calls, repeat until an answer.

One loop, `Agent._events`, an async generator of events. `run()` drains it, `run_sync()`
runs `run()` in a fresh event loop, `stream()` hands the events to the caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import anyio

from ._call_step import CallStep, FinalResult
from ._config import Collector, config_problems, event_loop_running, registry
from ._execute import Approval, Executor
from ._output import OUTPUT_TOOL_NAME, OutputSpec
from ._reply_step import ReplyStep
from ._run import RunResult, RunState, UsageLimits
from .errors import MaxTurnsExceeded, UserError
from .events import Event, ModelReplyFinished, ModelRequestStarted, RunFinished
from .messages import AssistantMessage, Message, SystemMessage, UserMessage, messages_from_wire
from .models import (
    DEFAULT_MODEL,
    Model,
    ModelResponse,
    ModelSettings,
    check_settings,
    resolve_model,
)
from .tools import Tool, ToolRegistry

__all__ = ["Agent", "RunResult", "UsageLimits"]

OutputT = TypeVar("OutputT")


class Agent(Generic[OutputT]):
    """A Llama 3.1 agent: instructions, tools, a model, and the loop that ties them.

    Args:
        model: A model id served by the endpoint, "offline" for the built-in offline model,
            or a `Model` instance.
        instructions: The system prompt.
        tools: `Tool`s or plain functions (described from type hints and docstrings).
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
            parallel_tool_calls, extra_body.
        usage_limits: Request, token and tool-call limits per run.
        max_parallel_tools: Tool calls of one reply that run at once.
        max_result_chars: Longest tool result sent to the model; longer ones are cut.
        max_retries: HTTP retries of the `openai` SDK.
        timeout: Seconds the SDK waits to connect and between bytes of a reply.
        deadline: Seconds one model request may take in all, retries and streaming included
            (a slow drip never trips `timeout`; this stops it).
    """

    def __init__(
        self,
        model: str | Model = DEFAULT_MODEL,
        *,
        instructions: str | None = None,
        tools: Iterable[Tool | Callable[..., Any]] = (),
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
    ) -> None:
        problems = config_problems(
            max_turns, max_tool_failures, max_parallel_tools, max_result_chars
        )
        built = Collector(problems)
        model_ = built(
            resolve_model,
            model,
            base_url=base_url,
            api_key=api_key,
            max_retries=max_retries,
            timeout=timeout,
            deadline=deadline,
        )
        tools_ = built(registry, tools)
        settings = built(check_settings, model_settings or {})
        output = None
        if output_type is not None and output_type is not str:
            output = built(OutputSpec, output_type)
            if tools_ is not None and OUTPUT_TOOL_NAME in tools_:
                problems.append(f"`{OUTPUT_TOOL_NAME}` is reserved for the output tool: rename it")
        if usage_limits is not None and not isinstance(usage_limits, UsageLimits):
            problems.append(f"usage_limits must be a UsageLimits, got {usage_limits!r:.80}")
        if problems or model_ is None or tools_ is None or settings is None:
            raise UserError("the agent is not valid:", problems)
        self.model: Model = model_
        self.tools: ToolRegistry = tools_
        self.model_settings: ModelSettings = settings
        self._output: OutputSpec[Any] | None = output
        self.instructions = instructions
        self.output_type = output_type
        self.max_turns = max_turns
        self.approval = approval
        self.approve_all_tools = approve_all_tools
        self.max_tool_failures = max_tool_failures
        self.usage_limits = usage_limits or UsageLimits()
        self.max_parallel_tools = max_parallel_tools
        self.max_result_chars = max_result_chars
        definitions = list(self.tools.definitions)
        if self._output is not None:
            definitions.append(self._output.definition)
        self._replies = ReplyStep(self.model, definitions)
        self._calls = CallStep(self.tools, self._output)

    def __repr__(self) -> str:
        return f"Agent(model={self.model.name!r}, tools={self.tools.names})"

    async def aclose(self) -> None:
        """Close the model's HTTP connections (they belong to the running event loop)."""
        await self.model.aclose()

    async def __aenter__(self) -> Agent[OutputT]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def run(
        self,
        prompt: str,
        *,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        deps: Any = None,
        model_settings: ModelSettings | None = None,
        usage_limits: UsageLimits | None = None,
    ) -> RunResult[OutputT]:
        """Run the agent on a prompt until it gives a final answer.

        Args:
            prompt: The user's message.
            messages: An earlier conversation to continue (typed messages or wire dicts).
            deps: Passed to tools as `RunContext.deps`.
            model_settings: Settings for this run, over the agent's.
            usage_limits: Limits for this run, instead of the agent's.

        Raises:
            ModelError: The endpoint failed after retries, or answered garbage.
            MaxTurnsExceeded: The model kept calling tools for `max_turns` replies.
            UsageLimitExceeded: A usage limit was reached.
            ToolRetriesExceeded: A tool kept failing past its budget.
        """
        result: RunResult[OutputT] | None = None
        events = self._events(prompt, messages, deps, model_settings, usage_limits, stream=False)
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
                )
            finally:
                with anyio.CancelScope(shield=True):
                    await self.model.aclose()  # its connections die with this event loop

        return anyio.run(main)

    def stream(
        self,
        prompt: str,
        *,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        deps: Any = None,
        model_settings: ModelSettings | None = None,
        usage_limits: UsageLimits | None = None,
    ) -> AsyncIterator[Event]:
        """Run the agent with streaming requests, yielding events as they happen.

        Text deltas arrive as `TextDelta`; the last event is `RunFinished` with the result.
        """
        return self._events(prompt, messages, deps, model_settings, usage_limits, stream=True)

    async def _events(
        self,
        prompt: str,
        history: Sequence[Message | Mapping[str, Any]] | None,
        deps: Any,
        settings: ModelSettings | None,
        limits: UsageLimits | None,
        *,
        stream: bool,
    ) -> AsyncIterator[Event]:
        run = RunState(
            self._start(prompt, history), limits or self.usage_limits, deps, self._budget
        )
        merged = check_settings({**self.model_settings, **(settings or {})})
        executor = Executor(
            self.tools,
            approval=self.approval,
            approve_all=self.approve_all_tools,
            max_parallel=self.max_parallel_tools,
            max_result_chars=self.max_result_chars,
            secrets=self.model.secrets,
        )
        for turn in range(1, self.max_turns + 1):
            run.check_requests()
            yield ModelRequestStarted(turn)
            response: ModelResponse | None = None
            async for item in self._replies.reply(run, merged, stream):
                if isinstance(item, ModelResponse):
                    response = item
                else:
                    yield item
            assert response is not None
            message = response.message
            run.messages.append(message)
            run.usage = run.usage + response.usage
            yield ModelReplyFinished(turn, message, response.usage)
            run.check_tokens()
            if not message.tool_calls:
                output = self._final_output(run, message)
                if output is not _CONTINUE:
                    yield RunFinished(RunResult(output, run.messages, run.usage))
                    return
                continue
            final = FinalResult()
            async for event in self._calls.run(run, executor, response, final):
                yield event
            if final.given:
                yield RunFinished(RunResult(final.value, run.messages, run.usage))
                return
        raise run.fail(
            MaxTurnsExceeded(
                f"the model was still calling tools after {self.max_turns} "
                f"turn{'' if self.max_turns == 1 else 's'} "
                "(raise max_turns, or check that the tools give it what it needs)"
            )
        )

    def _start(
        self, prompt: str, history: Sequence[Message | Mapping[str, Any]] | None
    ) -> list[Message]:
        if not isinstance(prompt, str):
            raise UserError(f"the prompt must be a string, got {type(prompt).__name__}")
        try:
            earlier = messages_from_wire(history or ())
        except ValueError as exc:
            raise UserError(f"messages= is not a valid conversation: {exc}") from None
        messages: list[Message] = []
        if not any(isinstance(m, SystemMessage) for m in earlier):
            system = "\n\n".join(
                t for t in (self.instructions, self._output and self._output.instructions) if t
            )
            if system:
                messages.append(SystemMessage(system))
        messages.extend(earlier)
        messages.append(UserMessage(prompt))
        return messages

    def _final_output(self, run: RunState, message: AssistantMessage) -> Any:
        """The answer of a reply without tool calls, or _CONTINUE after asking the model again."""
        text = message.content or ""
        if not text.strip() and not run.asked_after_empty_reply:
            # Llama 3.1 sometimes ends a turn with nothing (a bare <|eom_id|> after a tool
            # result); an empty answer is almost never what the user wanted. Ask once.
            run.asked_after_empty_reply = True
            run.messages.append(
                UserMessage("Your reply was empty. Answer the question, or call one of the tools.")
            )
            return _CONTINUE
        if self._output is None:
            return text
        value = self._output.from_text(text)
        if value is not None:
            return value
        run.count(OUTPUT_TOOL_NAME, failed=True, what="the final result")
        run.messages.append(
            UserMessage(
                f"Give the final answer by calling the `{OUTPUT_TOOL_NAME}` tool with "
                "arguments that match its schema, not as text."
            )
        )
        return _CONTINUE

    def _budget(self, name: str) -> int:
        """Failures in a row that stop the run: the tool's own budget, else the agent's."""
        tool = self.tools.get(name)
        if tool is not None and tool.max_failures is not None:
            return tool.max_failures
        return self.max_tool_failures


_CONTINUE: Any = object()  # _final_output: no answer yet, ask the model again

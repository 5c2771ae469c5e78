"""The agent and its loop: request a reply, run its tool calls, repeat until an answer.

One loop, `Agent._events`, an async generator of events. `run()` drains it, `run_sync()`
runs `run()` in a fresh event loop, `stream()` hands the events to the caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import anyio
import sniffio

from ._execute import Approval, CallOutcome, Executor
from ._output import OUTPUT_TOOL_NAME, OutputSpec
from ._run import RunResult, RunState, UsageLimits
from .errors import MaxTurnsExceeded, ModelError, ModelRetry, RunError, UserError
from .events import (
    Event,
    ModelReplyFinished,
    ModelRequestStarted,
    RunFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from .llama import TextGate, extract_tool_calls, strip_special_tokens
from .messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
    messages_from_wire,
    new_call_id,
)
from .models import (
    DEFAULT_MODEL,
    Model,
    ModelResponse,
    ModelSettings,
    ToolUseFailed,
    check_settings,
    resolve_model,
)
from .tools import Tool, ToolRegistry

__all__ = ["Agent", "RunResult", "UsageLimits"]

OutputT = TypeVar("OutputT")
T = TypeVar("T")


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
    ) -> None:
        problems = _config_problems(
            max_turns, max_tool_failures, max_parallel_tools, max_result_chars
        )
        built = _Builder(problems)
        model_ = built(
            resolve_model,
            model,
            base_url=base_url,
            api_key=api_key,
            max_retries=max_retries,
            timeout=timeout,
        )
        registry = built(_registry, tools)
        settings = built(check_settings, model_settings or {})
        output = None
        if output_type is not None and output_type is not str:
            output = built(OutputSpec, output_type)
            if registry is not None and OUTPUT_TOOL_NAME in registry:
                problems.append(f"`{OUTPUT_TOOL_NAME}` is reserved for the output tool: rename it")
        if usage_limits is not None and not isinstance(usage_limits, UsageLimits):
            problems.append(f"usage_limits must be a UsageLimits, got {usage_limits!r:.80}")
        if problems or model_ is None or registry is None or settings is None:
            raise UserError("the agent is not valid:", problems)
        self.model: Model = model_
        self.tools: ToolRegistry = registry
        self.model_settings: ModelSettings = settings
        self.output: OutputSpec[Any] | None = output
        self.instructions = instructions
        self.output_type = output_type
        self.max_turns = max_turns
        self.approval = approval
        self.approve_all_tools = approve_all_tools
        self.max_tool_failures = max_tool_failures
        self.usage_limits = usage_limits or UsageLimits()
        self.max_parallel_tools = max_parallel_tools
        self.max_result_chars = max_result_chars
        self._definitions = list(self.tools.definitions)
        if self.output is not None:
            self._definitions.append(self.output.definition)

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
        if _event_loop_running():
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
            async for item in self._reply(run, merged, stream):
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
            done = _Holder()
            async for event in self._run_calls(run, executor, response, done):
                yield event
            if done.set:
                yield RunFinished(RunResult(done.value, run.messages, run.usage))
                return
        raise run.fail(
            MaxTurnsExceeded(
                f"the model was still calling tools after {self.max_turns} turns "
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
                t for t in (self.instructions, self.output and self.output.instructions) if t
            )
            if system:
                messages.append(SystemMessage(system))
        messages.extend(earlier)
        messages.append(UserMessage(prompt))
        return messages

    async def _reply(
        self, run: RunState, settings: ModelSettings, stream: bool
    ) -> AsyncIterator[TextDelta | ModelResponse]:
        """The model's reply (text deltas first when streaming), with text calls recovered."""
        while True:
            try:
                if stream:
                    async for item in self._stream_reply(run, settings):
                        yield item
                else:
                    response = await self.model.request(run.messages, self._definitions, settings)
                    yield self._recovered(response)
            except ToolUseFailed as exc:
                recovered = self._from_failed_generation(run, exc)
                if recovered is None:
                    continue  # the model is asked once more
                yield recovered
            except RunError as exc:
                raise run.fail(exc) from exc.__cause__
            # A usable reply: a later tool_use_failed gets its own second chance.
            run.asked_after_tool_use_failed = False
            return

    def _from_failed_generation(self, run: RunState, exc: ToolUseFailed) -> ModelResponse | None:
        prose, calls = extract_tool_calls(exc.failed_generation)
        if calls:
            return self._recovered(ModelResponse(AssistantMessage(prose or None, tuple(calls))))
        if run.asked_after_tool_use_failed:
            raise run.fail(exc)
        run.asked_after_tool_use_failed = True
        run.messages.append(
            UserMessage(
                "Your last reply was rejected by the server because its tool call was not valid"
                f"{f' ({exc.reason})' if exc.reason else ''}. Reply again: call a tool with a "
                "JSON object of arguments that matches its schema, or answer in plain text."
            )
        )
        return None

    async def _stream_reply(
        self, run: RunState, settings: ModelSettings
    ) -> AsyncIterator[TextDelta | ModelResponse]:
        gate = TextGate()
        response: ModelResponse | None = None
        streamed: list[str] = []
        stream = self.model.request_stream(run.messages, self._definitions, settings)
        async for item in stream:
            if isinstance(item, ModelResponse):
                response = item
            else:
                streamed.append(item)
                if text := gate.feed(item):
                    yield TextDelta(text)
        if response is None:
            raise run.fail(_no_response(self.model))
        recovered = self._recovered(response)
        # Prose that came after a native call was held by the stream reader; it is only in
        # the final message. Show it too, through the same gate.
        content, seen = response.message.content or "", "".join(streamed)
        late = content[len(seen) :] if content.startswith(seen) else ""
        if late and (text := gate.feed(late)):
            yield TextDelta(text)
        # Held call text is dropped only when it was taken as calls.
        if rest := gate.finish(keep_calls=not recovered.message.tool_calls):
            yield TextDelta(rest)
        yield recovered

    def _recovered(self, response: ModelResponse) -> ModelResponse:
        """The reply with tool calls left as text recovered, and call ids made unique."""
        message = response.message
        content = message.content
        if message.tool_calls:
            calls = _unique_ids(message.tool_calls)
            if calls is message.tool_calls:
                return response
            message = AssistantMessage(content, calls)
        elif content:
            if self._definitions:
                prose, recovered = extract_tool_calls(content)
                message = AssistantMessage(prose or None, _unique_ids(tuple(recovered)))
            else:
                message = AssistantMessage(strip_special_tokens(content).strip() or None)
        else:
            return response
        return ModelResponse(message, response.usage, response.finish_reason)

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
        if self.output is None:
            return text
        value = self.output.from_text(text)
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

    async def _run_calls(
        self, run: RunState, executor: Executor, response: ModelResponse, done: _Holder
    ) -> AsyncIterator[Event]:
        """Run a reply's calls and append their results, in call order."""
        calls = response.message.tool_calls
        outcomes = {
            c.id: self._output_call(c, done)
            for c in calls
            if c.name == OUTPUT_TOOL_NAME and self.output is not None
        }
        runnable: list[tuple[ToolCall, Tool, dict[str, Any]]] = []
        if done.set:  # the answer is in: nothing else is prepared, approved or run
            _skip_rest(calls, outcomes)
        else:
            runnable = await self._admit(run, executor, response, outcomes)
        for call in calls:
            yield ToolCallStarted(call)
        if runnable:
            for outcome in await executor.run(runnable, run.context):
                outcomes[outcome.call.id] = outcome
        run.usage = run.usage + Usage(tool_calls=len(runnable))
        for call in calls:
            outcome = outcomes[call.id]
            run.messages.append(ToolMessage(call.id, outcome.result, call.name))
            yield ToolCallFinished(call, outcome.result, outcome.is_error, outcome.duration)
        self._count_failures(run, calls, outcomes)

    async def _admit(
        self,
        run: RunState,
        executor: Executor,
        response: ModelResponse,
        outcomes: dict[str, CallOutcome],
    ) -> list[tuple[ToolCall, Tool, dict[str, Any]]]:
        """The calls that will run; the others get their outcome (bad call, declined)."""
        truncated = response.finish_reason == "length"
        valid: list[tuple[ToolCall, Tool, dict[str, Any]]] = []
        for call in response.message.tool_calls:
            if call.id in outcomes:
                continue
            prepared = executor.prepare(call, truncated)
            if isinstance(prepared, CallOutcome):
                outcomes[call.id] = prepared
            else:
                tool = self.tools.get(call.name)
                assert tool is not None
                valid.append((call, tool, prepared))
        # Only calls that would run count against the limit, and before anyone is asked.
        answers = {call_id: outcome.result for call_id, outcome in outcomes.items()}
        run.check_tool_calls(response.message.tool_calls, len(valid), answers)
        runnable = []
        for call, tool, kwargs in valid:
            declined = await executor.approve(call, tool)
            if declined is not None:
                outcomes[call.id] = declined
            else:
                runnable.append((call, tool, kwargs))
        return runnable

    def _count_failures(
        self, run: RunState, calls: Sequence[ToolCall], outcomes: dict[str, CallOutcome]
    ) -> None:
        """One count per tool per reply: a failure when all of its calls failed."""
        failed: dict[str, bool] = {}
        for call in calls:
            failed[call.name] = failed.get(call.name, True) and outcomes[call.id].is_error
        for name, all_failed in failed.items():
            what = "the final result" if name == OUTPUT_TOOL_NAME else f"tool `{name}`"
            run.count(name, all_failed, what)

    def _output_call(self, call: ToolCall, done: _Holder) -> CallOutcome:
        assert self.output is not None
        if done.set:
            return CallOutcome(call, "Not needed: the final result was already given.", False)
        try:
            done.value = self.output.validate(call.arguments or {})
        except ModelRetry as exc:
            return CallOutcome(call, exc.message, is_error=True)
        done.set = True
        return CallOutcome(call, "Final result accepted.", is_error=False)

    def _budget(self, name: str) -> int:
        """Failures in a row that stop the run: the tool's own budget, else the agent's."""
        tool = self.tools.get(name)
        if tool is not None and tool.max_failures is not None:
            return tool.max_failures
        return self.max_tool_failures


class _Holder:
    """The final result given through the output tool, if any."""

    __slots__ = ("set", "value")

    def __init__(self) -> None:
        self.set = False
        self.value: Any = None


_CONTINUE: Any = object()


def _skip_rest(calls: Sequence[ToolCall], outcomes: dict[str, CallOutcome]) -> None:
    for call in calls:
        if call.id not in outcomes:
            text = "Not run: the final result was given in the same reply."
            outcomes[call.id] = CallOutcome(call, text, is_error=False)


def _unique_ids(calls: tuple[ToolCall, ...]) -> tuple[ToolCall, ...]:
    """The calls with duplicate ids replaced, so each tool result answers exactly one call."""
    seen: set[str] = set()
    fixed: list[ToolCall] | None = None
    for i, call in enumerate(calls):
        if call.id in seen:
            fixed = fixed if fixed is not None else list(calls)
            fixed[i] = ToolCall(call.name, call.arguments, new_call_id(), call.raw_arguments)
        seen.add(fixed[i].id if fixed is not None else call.id)
    return tuple(fixed) if fixed is not None else calls


def _no_response(model: Model) -> RunError:
    return ModelError(f"model {model.name!r} streamed no complete reply")


class _Builder:
    """Calls constructors, collecting their `UserError`s: every problem is reported at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def __call__(self, build: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return build(*args, **kwargs)
        except UserError as exc:
            self.problems.append(str(exc).replace("\n", "\n    "))
            return None


def _registry(tools: Iterable[Tool | Callable[..., Any]]) -> ToolRegistry:
    if isinstance(tools, Tool) or callable(tools) or isinstance(tools, (str, bytes)):
        name = getattr(tools, "name", None) or getattr(tools, "__name__", repr(tools))
        raise UserError(f"tools must be a list of tools or functions: write tools=[{name}]")
    return ToolRegistry(tools)


def _config_problems(max_turns: int, failures: int, parallel: int, result_chars: int) -> list[str]:
    return [
        f"{name} must be a whole number >= 1, got {value!r}"
        for name, value in (
            ("max_turns", max_turns),
            ("max_tool_failures", failures),
            ("max_parallel_tools", parallel),
            ("max_result_chars", result_chars),
        )
        if not isinstance(value, int) or isinstance(value, bool) or value < 1
    ]


def _event_loop_running() -> bool:
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return False
    return True

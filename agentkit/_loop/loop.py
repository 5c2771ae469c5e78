"""The loop: request a reply, run its tool calls, repeat until an answer.

One loop, `Loop.events`, an async generator of events; `Agent.run()` drains it,
`Agent.stream()` hands its events to the caller. Each turn is two steps on the run's state:
`ReplyStep` records the model's reply, `CallStep` runs its calls and records their results
(or the answer given through the output tool); a reply without calls is the answer.
Guardrails judge the prompt before the first request and the answer before `RunFinished`;
the hooks get every event before it is yielded (`hooks`); agents used as tools run inside
their caller's tool calls (`nested`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import anyio

from agentkit._loop import notes
from agentkit._loop.calls import CallStep
from agentkit._loop.execute import Approval, Executor
from agentkit._loop.guard import Checked, Guards
from agentkit._loop.hooks import Hook, HookCalls
from agentkit._loop.nested import AgentTool, Caller, Parent
from agentkit._loop.output import OutputSpec
from agentkit._loop.reply import Notify, ReplyStep
from agentkit._loop.state import RunState
from agentkit._loop.window import RunWindow, Window
from agentkit.errors import MaxTurnsExceeded, UserError
from agentkit.events import (
    AgentEvent,
    Event,
    ModelReplyFinished,
    ModelRequestRetried,
    RunFailed,
    RunFinished,
    RunStarted,
    TextDelta,
)
from agentkit.messages import AssistantMessage, Message, SystemMessage, UserMessage
from agentkit.models import OUTPUT_TOOL_NAME, Model, ModelSettings
from agentkit.models.openai import messages_from_wire
from agentkit.tools import ToolRegistry
from agentkit.usage import UsageLimits

if TYPE_CHECKING:
    from agentkit._loop.stored import Stored
    from agentkit.sessions import HistoryProcessor, TokenCounter

__all__ = ["Loop"]

# Events the hooks were given as they happened (from inside a request or a sub-agent's call).
_HEARD_EARLY = (ModelRequestRetried, AgentEvent)


async def _ignore(event: Event) -> None:
    pass


class Loop:
    """An agent's loop, built once from its parts; `events` runs it for one prompt."""

    def __init__(
        self,
        *,
        model: Model,
        tools: ToolRegistry,
        output: OutputSpec[Any] | None,
        instructions: str | None,
        max_turns: int,
        max_tool_failures: int,
        approval: Approval | None,
        approve_all_tools: bool,
        max_parallel_tools: int,
        max_result_chars: int,
        price: tuple[float, float] | None = None,
        name: str = "agent",
        hooks: Sequence[Hook] = (),
        guards: Guards | None = None,
        max_depth: int = 5,
        max_input_tokens: int | None = None,
        history_processor: HistoryProcessor | None = None,
        token_counter: TokenCounter | None = None,
    ) -> None:
        self.model = model
        self.tools = tools
        self.output = output
        self.max_turns = max_turns
        self.max_tool_failures = max_tool_failures
        self.system = "\n\n".join(t for t in (instructions, output and output.instructions) if t)
        definitions = list(tools.definitions)
        if output is not None:
            definitions.append(output.definition)
        self.replies = ReplyStep(model, definitions, price)
        self.window = Window(max_input_tokens, history_processor, token_counter, definitions, model)
        self.guards = guards or Guards()
        self.calls = CallStep(tools, output, self.guards)
        self.executor = Executor(
            tools,
            approval=approval,
            approve_all=approve_all_tools,
            max_parallel=max_parallel_tools,
            max_result_chars=max_result_chars,
            secrets=model.secrets,
        )
        # Observing and nesting (hooks, RunStarted, sub-agents): see `nested` and `hooks`.
        self.name = name
        self.hooks = tuple(hooks)
        self.max_depth = max_depth
        self.approval = (approval, approve_all_tools)
        self.server = model.server
        self.starts_agents = any(isinstance(tool, AgentTool) for tool in tools)
        self._inherited: tuple[Approval, bool, Executor] | None = None

    async def events(
        self,
        prompt: str,
        history: Sequence[Message | Mapping[str, Any]] | None,
        deps: Any,
        settings: ModelSettings,
        limits: UsageLimits,
        *,
        stream: bool,
        parent: Parent | None = None,
        stored: Stored | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Run the loop for one prompt, yielding its events: `RunStarted` first, then the
        turns', and `RunFinished` last, or `RunFailed` before the error is raised.

        Every event goes to the hooks before it is yielded (a retry and a sub-agent's
        events, as they happen). A cancellation, or a reader that stops reading, gives the
        hooks `RunFailed` too, without yielding it. With `stored` (see `_loop.stored`), each
        whole turn is stored as the next begins.
        """
        upper = parent.caller.run if parent is not None else None
        run = RunState(self._start(prompt, history), limits, deps, self._budget, upper, stored)
        window = self.window.open(stored and stored.session)
        hooks = HookCalls(self.hooks, run.fail, self.model.secrets) if self.hooks else None
        caller = self._caller(run, parent, stream, hooks) if self.starts_agents else None
        executor = self._executor(parent)
        turns = self._turns(run, prompt, settings, stream, executor, caller, hooks, window)
        started = self._started(run, prompt, parent, stream)
        finished = False
        try:
            if hooks is not None:
                await hooks(started)
            yield started
            async with aclosing(turns):
                async for event in turns:
                    if hooks is not None and not isinstance(event, _HEARD_EARLY):
                        await hooks(event)
                    finished = isinstance(event, RunFinished)
                    yield event
        except BaseException as exc:
            if finished:
                raise  # the reader stopped after the answer: nothing failed
            failed = RunFailed(exc, run.usage, run.run_id)
            if hooks is not None:
                with anyio.CancelScope(shield=True):
                    await hooks(failed, last=True)
            if isinstance(exc, Exception):
                yield failed
            raise

    async def _turns(
        self,
        run: RunState,
        prompt: str,
        settings: ModelSettings,
        stream: bool,
        executor: Executor,
        caller: Caller | None,
        notify: Notify | None,
        window: RunWindow | None,
    ) -> AsyncGenerator[Event, None]:
        """The turns of one run, between the input and the output guardrails' checks."""
        if self.guards.input:
            async for event in self._guarded(run, await self.guards.check_input(run, prompt)):
                yield event
        for turn in range(1, self.max_turns + 1):
            await run.commit()  # the turn before, whole: all its calls are answered
            held: list[Event] = []
            turn_events = self._turn(
                run, settings, stream, turn, executor, caller, notify, held, window
            )
            async for event in turn_events:
                yield event
            if run.answer is not None and self.guards.output:
                checked = await self.guards.check_output(run, run.answer.value)
                async for event in self._guarded(run, checked):  # a trip drops what was held
                    yield event
            for event in held:
                yield event
            if run.answer is not None:
                await run.commit()
                yield RunFinished(run.result(), run.run_id)
                return
        raise run.fail(
            MaxTurnsExceeded(
                f"the model was still calling tools after {self.max_turns} "
                f"turn{'' if self.max_turns == 1 else 's'} "
                "(raise max_turns, or check that the tools give it what it needs)"
            )
        )

    async def _turn(
        self,
        run: RunState,
        settings: ModelSettings,
        stream: bool,
        turn: int,
        executor: Executor,
        caller: Caller | None,
        notify: Notify | None,
        held: list[Event],
        window: RunWindow | None = None,
    ) -> AsyncGenerator[Event, None]:
        """One turn: the reply, then its calls or its answer. With output guardrails, the
        events of a reply that may be the answer go to `held`, to be shown once they pass."""
        hold = bool(self.guards.output)
        async for event in self.replies.reply(run, settings, stream, turn, notify, window):
            if hold and isinstance(event, (TextDelta, ModelReplyFinished)):
                held.append(event)
            else:
                yield event
        reply = run.last_reply()
        if held and not self._may_answer(reply.message):
            for event in held:  # a reply that only calls tools: shown as it was
                yield event
            held.clear()
        run.check_tokens()
        if reply.message.tool_calls:
            async for event in self.calls.run(run, executor, reply, caller):
                if held:
                    held.append(event)
                else:
                    yield event
        else:
            self._answer(run, reply.message)

    async def _guarded(self, run: RunState, checked: Checked) -> AsyncGenerator[Event, None]:
        """A check's events; then the run fails if a guardrail stopped it."""
        events, error = checked
        for event in events:
            yield event
        if error is not None:
            raise run.fail(error)

    def _started(
        self, run: RunState, prompt: str, parent: Parent | None, stream: bool
    ) -> RunStarted:
        address, port = self.server
        return RunStarted(
            self.name,
            self.model.name,
            prompt,
            run.run_id,
            parent.caller.run.run_id if parent is not None else None,
            parent.call_id if parent is not None else None,
            address,
            port,
            stream,
        )

    def _caller(
        self, run: RunState, parent: Parent | None, stream: bool, hooks: HookCalls | None
    ) -> Caller:
        """What this run's sub-agents get from it."""
        approval = self.approval
        if parent is not None and approval[0] is None:
            approval = parent.caller.approval
        above = parent.caller if parent is not None else None
        return Caller(
            run,
            path=(*above.path, self.name) if above is not None else (self.name,),
            depth=above.depth + 1 if above is not None else 0,
            max_depth=above.max_depth if above is not None else self.max_depth,
            stream=stream,
            approval=approval,
            notify=hooks if hooks is not None else _ignore,
        )

    def _executor(self, parent: Parent | None) -> Executor:
        """The executor of a run: a sub-agent without an approval callback uses its caller's."""
        if parent is None or self.approval[0] is not None:
            return self.executor
        approval, approve_all = parent.caller.approval
        if approval is None:
            return self.executor
        cached = self._inherited
        if cached is None or cached[0] is not approval or cached[1] != approve_all:
            executor = Executor(
                self.tools,
                approval=approval,
                approve_all=approve_all,
                max_parallel=self.executor.max_parallel,
                max_result_chars=self.executor.max_result_chars,
                secrets=self.model.secrets,
            )
            cached = self._inherited = (approval, approve_all, executor)
        return cached[2]

    def _may_answer(self, message: AssistantMessage) -> bool:
        """Whether a reply may hold the final answer: no calls, or a call of the output tool."""
        if not message.tool_calls:
            return True
        return self.output is not None and any(
            call.name == OUTPUT_TOOL_NAME for call in message.tool_calls
        )

    def _start(
        self, prompt: str, history: Sequence[Message | Mapping[str, Any]] | None
    ) -> list[Message]:
        """The conversation a run starts from: system prompt, history, the prompt."""
        if not isinstance(prompt, str):
            raise UserError(f"the prompt must be a string, got {type(prompt).__name__}")
        try:
            earlier = messages_from_wire(history or ())
        except ValueError as exc:
            raise UserError(f"messages= is not a valid conversation: {exc}") from None
        messages: list[Message] = []
        if self.system and not any(isinstance(m, SystemMessage) for m in earlier):
            messages.append(SystemMessage(self.system))
        messages.extend(earlier)
        messages.append(UserMessage(prompt))
        return messages

    def _answer(self, run: RunState, message: AssistantMessage) -> None:
        """A reply without tool calls: record it as the answer, or ask the model again."""
        text = message.content or ""
        if not text.strip() and not run.asked_after_empty_reply:
            run.asked_after_empty_reply = True
            run.add_note(notes.EMPTY_REPLY)
            return
        if self.output is None:
            run.finish(text)
            return
        value = self.output.from_text(text)
        if value is not None:
            run.finish(value)
            return
        run.count(OUTPUT_TOOL_NAME, failed=True, what="the final result")
        run.add_note(notes.output_as_text(OUTPUT_TOOL_NAME))

    def _budget(self, name: str) -> int:
        """Failures in a row that stop the run: the tool's own budget, else the agent's."""
        tool = self.tools.get(name)
        if tool is not None and tool.max_failures is not None:
            return tool.max_failures
        return self.max_tool_failures

"""The loop: request a reply, run its tool calls, repeat until an answer.

One loop, `Loop.events`, an async generator of events; `Agent.run()` drains it,
`Agent.stream()` hands its events to the caller. Each turn is two steps on the run's state:
`ReplyStep` records the model's reply, `CallStep` runs its calls and records their results
(or the answer given through the output tool); a reply without calls is the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from agentkit._loop import notes
from agentkit._loop.calls import CallStep
from agentkit._loop.execute import Approval, Executor
from agentkit._loop.output import OutputSpec
from agentkit._loop.reply import ReplyStep
from agentkit._loop.state import RunState
from agentkit.errors import MaxTurnsExceeded, UserError
from agentkit.events import Event, RunFinished
from agentkit.messages import AssistantMessage, Message, SystemMessage, UserMessage
from agentkit.models import OUTPUT_TOOL_NAME, Model, ModelSettings
from agentkit.models.openai import messages_from_wire
from agentkit.tools import ToolRegistry
from agentkit.usage import UsageLimits

__all__ = ["Loop"]


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
        self.calls = CallStep(tools, output)
        self.executor = Executor(
            tools,
            approval=approval,
            approve_all=approve_all_tools,
            max_parallel=max_parallel_tools,
            max_result_chars=max_result_chars,
            secrets=model.secrets,
        )

    async def events(
        self,
        prompt: str,
        history: Sequence[Message | Mapping[str, Any]] | None,
        deps: Any,
        settings: ModelSettings,
        limits: UsageLimits,
        *,
        stream: bool,
    ) -> AsyncIterator[Event]:
        """Run the loop for one prompt, yielding its events; the last is `RunFinished`."""
        run = RunState(self._start(prompt, history), limits, deps, self._budget)
        for turn in range(1, self.max_turns + 1):
            async for event in self.replies.reply(run, settings, stream, turn):
                yield event
            reply = run.last_reply()
            run.check_tokens()
            if reply.message.tool_calls:
                async for event in self.calls.run(run, self.executor, reply):
                    yield event
            else:
                self._answer(run, reply.message)
            if run.answer is not None:
                yield RunFinished(run.result())
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

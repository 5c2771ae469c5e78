"""One reply's tool calls: admit them (bad calls, limits, approval), run them, record them.

The final answer given through the output tool ends the run: the reply's other calls are
then answered without being prepared, approved or run. Results are appended in call order,
and a tool's failures are counted once per reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from ._execute import CallOutcome, Executor
from ._output import OUTPUT_TOOL_NAME, OutputSpec
from ._run import RunState
from .errors import ModelRetry
from .events import Event, ToolCallFinished, ToolCallStarted
from .messages import ToolCall, ToolMessage, Usage
from .models import ModelResponse
from .tools import Tool, ToolRegistry

__all__ = ["CallStep", "FinalResult"]

Runnable = tuple[ToolCall, Tool, dict[str, Any]]


class FinalResult:
    """The answer given through the output tool in this reply, if any."""

    __slots__ = ("given", "value")

    def __init__(self) -> None:
        self.given = False
        self.value: Any = None


class CallStep:
    """Runs the tool calls of a reply for a run."""

    def __init__(self, tools: ToolRegistry, output: OutputSpec[Any] | None) -> None:
        self.tools = tools
        self.output = output

    async def run(
        self, run: RunState, executor: Executor, response: ModelResponse, final: FinalResult
    ) -> AsyncIterator[Event]:
        """Run a reply's calls and append their results, in call order."""
        calls = response.message.tool_calls
        outcomes = {
            c.id: self._output_call(c, final)
            for c in calls
            if c.name == OUTPUT_TOOL_NAME and self.output is not None
        }
        runnable: list[Runnable] = []
        if final.given:  # the answer is in: nothing else is prepared, approved or run
            for call in calls:
                if call.id not in outcomes:
                    text = "Not run: the final result was given in the same reply."
                    outcomes[call.id] = CallOutcome(call, text, is_error=False)
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
        _count_failures(run, calls, outcomes)

    async def _admit(
        self,
        run: RunState,
        executor: Executor,
        response: ModelResponse,
        outcomes: dict[str, CallOutcome],
    ) -> list[Runnable]:
        """The calls that will run; the others get their outcome (bad call, declined)."""
        truncated = response.finish_reason == "length"
        valid: list[Runnable] = []
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

    def _output_call(self, call: ToolCall, final: FinalResult) -> CallOutcome:
        assert self.output is not None
        if final.given:
            return CallOutcome(call, "Not needed: the final result was already given.", False)
        try:
            final.value = self.output.validate(call.arguments or {})
        except ModelRetry as exc:
            return CallOutcome(call, exc.message, is_error=True)
        final.given = True
        return CallOutcome(call, "Final result accepted.", is_error=False)


def _count_failures(
    run: RunState, calls: Sequence[ToolCall], outcomes: dict[str, CallOutcome]
) -> None:
    """One count per tool per reply: a failure when all of its calls failed."""
    failed: dict[str, bool] = {}
    for call in calls:
        failed[call.name] = failed.get(call.name, True) and outcomes[call.id].is_error
    for name, all_failed in failed.items():
        what = "the final result" if name == OUTPUT_TOOL_NAME else f"tool `{name}`"
        run.count(name, all_failed, what)

"""One reply's tool calls: admit them (bad calls, limits, approval), run them, record them.

The final answer given through the output tool ends the run: the reply's other calls are
then answered without being prepared, approved or run. Results are recorded in call order,
all at once, and a tool's failures are counted once per reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from agentkit._loop import notes
from agentkit._loop.execute import CallOutcome, Executor
from agentkit._loop.output import OutputSpec
from agentkit._loop.state import RunState
from agentkit.errors import ModelRetry
from agentkit.events import Event, ToolCallFinished, ToolCallStarted
from agentkit.messages import ToolCall
from agentkit.models import OUTPUT_TOOL_NAME, ModelResponse
from agentkit.tools import Tool, ToolRegistry
from agentkit.usage import Usage

__all__ = ["CallStep"]

Runnable = tuple[ToolCall, Tool, dict[str, Any]]


class CallStep:
    """Runs the tool calls of a reply for a run."""

    def __init__(self, tools: ToolRegistry, output: OutputSpec[Any] | None) -> None:
        self.tools = tools
        self.output = output

    async def run(
        self, run: RunState, executor: Executor, response: ModelResponse
    ) -> AsyncIterator[Event]:
        """Run a reply's calls and record their results; an output call records the answer."""
        calls = response.message.tool_calls
        outcomes = self._output_calls(run, calls)
        runnable: list[Runnable] = []
        if run.answer is not None:  # the answer is in: nothing else is prepared or run
            for call in calls:
                outcomes.setdefault(call.id, CallOutcome(call, notes.NOT_RUN_AFTER_FINAL, False))
        else:
            runnable = await self._admit(run, executor, response, outcomes)
        for call in calls:
            yield ToolCallStarted(call)
        if runnable:
            for outcome in await executor.run(runnable, run.context):
                outcomes[outcome.call.id] = outcome
        run.add_usage(Usage(tool_calls=len(runnable)))
        run.add_results(calls, {call_id: outcome.result for call_id, outcome in outcomes.items()})
        for call in calls:
            outcome = outcomes[call.id]
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

    def _output_calls(self, run: RunState, calls: Sequence[ToolCall]) -> dict[str, CallOutcome]:
        """The outcomes of the reply's output-tool calls; the first valid one is the answer."""
        outcomes: dict[str, CallOutcome] = {}
        if self.output is None:
            return outcomes
        for call in calls:
            if call.name != OUTPUT_TOOL_NAME:
                continue
            if run.answer is not None:
                outcomes[call.id] = CallOutcome(call, notes.ALREADY_FINAL, is_error=False)
                continue
            try:
                run.finish(self.output.validate(call.arguments or {}))
            except ModelRetry as exc:
                outcomes[call.id] = CallOutcome(call, exc.message, is_error=True)
            else:
                outcomes[call.id] = CallOutcome(call, notes.FINAL_ACCEPTED, is_error=False)
        return outcomes


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

"""One reply's tool calls: admit them (bad calls, limits, approval), run them, record them.

The final answer given through the output tool ends the run: the reply's other calls are
then answered without being prepared, approved or run. Results are recorded in call order,
all at once, and a tool's failures are counted once per reply. Tool-result guardrails judge
the results of the calls that succeeded, all at once, before they are recorded: a result
they stop is withheld from the model, and the run fails once every call is answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio

from agentkit._loop import notes
from agentkit._loop.execute import CallOutcome, Executor
from agentkit._loop.guard import Guards
from agentkit._loop.nested import AgentTool, Caller, calling, done_calling
from agentkit._loop.output import OutputSpec
from agentkit._loop.state import RunState
from agentkit.errors import GuardrailTripped, ModelRetry, RunError
from agentkit.events import Event, ToolCallFinished, ToolCallStarted
from agentkit.messages import ToolCall
from agentkit.models import OUTPUT_TOOL_NAME, ModelResponse
from agentkit.tools import Tool, ToolRegistry
from agentkit.usage import Usage

__all__ = ["CallStep"]

Runnable = tuple[ToolCall, Tool, dict[str, Any]]


class CallStep:
    """Runs the tool calls of a reply for a run."""

    def __init__(
        self, tools: ToolRegistry, output: OutputSpec[Any] | None, guards: Guards | None = None
    ) -> None:
        self.tools = tools
        self.output = output
        self.guards = guards or Guards()

    async def run(
        self,
        run: RunState,
        executor: Executor,
        response: ModelResponse,
        caller: Caller | None = None,
    ) -> AsyncIterator[Event]:
        """Run a reply's calls and record their results; an output call records the answer.

        With `caller`, a batch that holds agent tools runs as their caller (see `nested`):
        their events come before the calls' `ToolCallFinished`s.
        """
        calls = response.message.tool_calls
        outcomes = self._output_calls(run, calls)
        runnable: list[Runnable] = []
        if run.answer is not None:  # the answer is in: nothing else is prepared or run
            for call in calls:
                outcomes.setdefault(call.id, CallOutcome(call, notes.NOT_RUN_AFTER_FINAL, False))
        else:
            runnable = await self._admit(run, executor, response, outcomes)
        for call in calls:
            yield ToolCallStarted(call, run.run_id)
        stop: RunError | None = None
        if runnable:
            async for item in self._execute(run, executor, runnable, caller, outcomes):
                if isinstance(item, RunError):
                    stop = item
                else:
                    yield item
        run.add_results(calls, {call_id: outcome.result for call_id, outcome in outcomes.items()})
        for call in calls:
            outcome = outcomes[call.id]
            yield ToolCallFinished(
                call,
                outcome.result,
                outcome.is_error,
                outcome.duration,
                run.run_id,
                outcome.error_type,
            )
        if stop is not None:
            raise run.fail(stop)
        _count_failures(run, calls, outcomes)

    async def _execute(
        self,
        run: RunState,
        executor: Executor,
        runnable: list[Runnable],
        caller: Caller | None,
        outcomes: dict[str, CallOutcome],
    ) -> AsyncIterator[Event | RunError]:
        """Run the calls and record their outcomes; yields sub-agents' and guardrails' events,
        then the error that stops the run, if any."""
        stop: RunError | None = None
        if caller is not None and any(isinstance(tool, AgentTool) for _, tool, _ in runnable):
            ran, stop = await _as_caller(run, executor, runnable, caller)
            for passed in caller.take_passed_up():
                yield passed
        else:
            ran = await executor.run(runnable, run.context)
        for outcome in ran:
            outcomes[outcome.call.id] = outcome
        run.add_usage(Usage(tool_calls=len(runnable)))
        if stop is not None:
            text = notes.not_finished(str(stop).splitlines()[0])
            for call, _, _ in runnable:
                outcomes.setdefault(call.id, CallOutcome(call, text, True, error_type="not_run"))
            yield stop
        elif self.guards.tool_result:
            async for judged in self._judge_results(run, runnable, outcomes):
                yield judged

    async def _judge_results(
        self, run: RunState, runnable: list[Runnable], outcomes: dict[str, CallOutcome]
    ) -> AsyncIterator[Event | RunError]:
        """The tool-result guardrails' events; results they stop are withheld, and the
        first error (in call order) comes last."""
        judged = [outcomes[call.id] for call, _, _ in runnable if not outcomes[call.id].is_error]
        if not judged:
            return
        first: RunError | None = None
        for outcome, (events, error) in zip(
            judged, await self.guards.check_results(run, judged), strict=True
        ):
            for event in events:
                yield event
            if error is None:
                continue
            first = first or error
            categories = error.verdict.categories if isinstance(error, GuardrailTripped) else ()
            text = notes.withheld(categories, decided=isinstance(error, GuardrailTripped))
            outcomes[outcome.call.id] = CallOutcome(
                outcome.call, text, True, outcome.duration, "guardrail"
            )
        if first is not None:
            yield first

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


async def _as_caller(
    run: RunState, executor: Executor, runnable: list[Runnable], caller: Caller
) -> tuple[list[CallOutcome], RunError | None]:
    """Run a batch that starts sub-agents; one that stops the tree cancels the batch."""
    ran: list[CallOutcome] = []
    token = calling(caller)
    try:
        with anyio.CancelScope() as scope:
            caller.scope = scope
            ran = await executor.run(runnable, run.context)
    finally:
        caller.scope = None
        done_calling(token)
    stop, caller.stopped = caller.stopped, None
    return ran, stop


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

"""Guardrails at their points in the loop: the user's prompt, the final answer, tool results.

Each check runs the guardrails of its kind together (`agentkit.guardrails`), reports one
`GuardrailChecked` per guardrail, in the order given, and counts what asking a classifier
cost in the run's usage. A guardrail that trips, or cannot decide, stops the run; the
caller raises the error through `RunState.fail` once the events are out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from pydantic_core import to_json

from agentkit._loop.execute import CallOutcome
from agentkit._loop.state import RunState
from agentkit.errors import GuardrailError, GuardrailTripped, RunError
from agentkit.events import GuardrailChecked
from agentkit.guardrails import Guardrail, GuardrailCheck
from agentkit.guardrails._run import Judged, decide, judge
from agentkit.messages import AssistantMessage
from agentkit.usage import Usage

__all__ = ["Checked", "Guards"]

# The events of one check, and the error that stops the run (None: all passed).
Checked = tuple[list[GuardrailChecked], RunError | None]


class Guards:
    """An agent's input, output and tool-result guardrails."""

    def __init__(
        self,
        input: Sequence[Guardrail] = (),
        output: Sequence[Guardrail] = (),
        tool_result: Sequence[Guardrail] = (),
    ) -> None:
        self.input = tuple(input)
        self.output = tuple(output)
        self.tool_result = tuple(tool_result)

    async def check_input(self, run: RunState, prompt: str) -> Checked:
        """The user's prompt, with the conversation before it."""
        check = GuardrailCheck("input", prompt, tuple(run.messages[:-1]), deps=run.deps)
        return await _check(run, self.input, check)

    async def check_output(self, run: RunState, value: Any) -> Checked:
        """The final answer (text, or a structured answer as its JSON)."""
        messages = run.messages
        last = max(
            (i for i, m in enumerate(messages) if isinstance(m, AssistantMessage)), default=0
        )
        content = value if isinstance(value, str) else _json(value)
        check = GuardrailCheck(
            "output", content, tuple(messages[:last]), output=value, deps=run.deps
        )
        return await _check(run, self.output, check)

    async def check_results(self, run: RunState, outcomes: Sequence[CallOutcome]) -> list[Checked]:
        """Each call's result, all at once; in the order of `outcomes`."""
        messages = tuple(run.messages)  # up to the assistant message that made the calls
        checked: list[Checked] = [([], None)] * len(outcomes)

        async def one(index: int) -> None:
            outcome = outcomes[index]
            check = GuardrailCheck(
                "tool_result", outcome.result, messages, call=outcome.call, deps=run.deps
            )
            checked[index] = await _check(run, self.tool_result, check)

        if len(outcomes) == 1:
            await one(0)
        else:
            async with anyio.create_task_group() as group:
                for index in range(len(outcomes)):
                    group.start_soon(one, index)
        return checked


async def _check(run: RunState, guardrails: Sequence[Guardrail], check: GuardrailCheck) -> Checked:
    judged = await judge(guardrails, check)
    call_id = check.call.id if check.call is not None else None
    events = [
        GuardrailChecked(
            check.kind, j.guardrail, j.tripped, j.duration, run.run_id, j.categories, call_id
        )
        for j in judged
    ]
    usage = sum((u for j in judged if (u := _usage(j)) is not None), Usage())
    if usage.requests or usage.total_tokens:
        run.add_usage(usage)  # what asking a classifier cost is the run's cost too
    try:
        decide(judged, check)
    except (GuardrailTripped, GuardrailError) as exc:
        return events, exc
    return events, None


def _usage(judged: Judged) -> Usage | None:
    if judged.verdict is not None:
        return judged.verdict.usage
    if isinstance(judged.error, GuardrailTripped):
        return judged.error.verdict.usage
    return None


def _json(value: Any) -> str:
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    return to_json(value, fallback=repr).decode()

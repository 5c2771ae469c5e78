"""Agents as tools: a sub-agent runs inside a tool call, as part of its caller's run."""

from __future__ import annotations

import pickle
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from agentkit import (
    Agent,
    GuardrailTripped,
    MaxDepthExceeded,
    RunContext,
    ToolMessage,
    UsageLimitExceeded,
    UserError,
    tool,
)
from agentkit.events import AgentEvent, Event, RunStarted, TextDelta, ToolCallFinished
from agentkit.guardrails import GuardrailCheck, Verdict
from agentkit.messages import Message
from agentkit.testing import FunctionModel, ModelRequest, ScriptedModel, call
from agentkit.usage import UsageLimits

pytestmark = pytest.mark.anyio


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def mathy(replies: list[Any], **options: Any) -> Agent[str]:
    model = ScriptedModel(replies, name="child-model")
    return Agent(model, name="mathy", description="Does sums.", tools=[add], **options)


def results(messages: list[Message]) -> dict[str, str]:
    return {m.name or "": m.content for m in messages if isinstance(m, ToolMessage)}


async def test_the_answer_is_the_result_and_usage_counts_the_whole_tree() -> None:
    child = mathy([call("add", a=1, b=2), "three"])
    top = Agent(ScriptedModel([call("mathy", task="1+2"), "it is three"]), tools=[child.as_tool()])
    result = await top.run("what is 1+2?")
    assert result.output == "it is three"
    assert results(result.messages) == {"mathy": "three"}
    # Two requests each; the child's add and the call of mathy itself.
    assert (result.usage.requests, result.usage.tool_calls) == (4, 2)


async def test_the_childs_events_reach_the_callers_stream_and_hooks_tagged_with_the_path() -> None:
    heard: list[Event] = []
    child_own: list[Event] = []
    child = mathy([call("add", a=1, b=2), "three"], hooks=[child_own.append])
    tool_ = child.as_tool()
    top = Agent(
        ScriptedModel([call("mathy", task="1+2"), "three"]),
        name="top",
        tools=[tool_],
        hooks=[heard.append],
    )
    streamed = [event async for event in top.stream("1+2?")]
    assert streamed == heard
    passed = [e for e in streamed if isinstance(e, AgentEvent)]
    assert {e.path for e in passed} == {("top", "mathy")}
    assert all(e.run_id == streamed[0].run_id for e in passed)
    assert [e.event for e in passed] == child_own  # the child's hooks see its own events
    started = passed[0].event
    assert isinstance(started, RunStarted) and started.agent == "mathy"
    assert started.parent_run_id == streamed[0].run_id
    assert started.stream is True  # the top run streams, so the child does
    call_id = next(e for e in streamed if e.type == "tool_call_started").call.id  # type: ignore[union-attr]
    assert started.parent_call_id == call_id
    finished = next(i for i, e in enumerate(streamed) if isinstance(e, ToolCallFinished))
    assert all(streamed.index(e) < finished for e in passed)  # all before the call's end
    assert any(isinstance(e.event, TextDelta) for e in passed)


async def test_the_callers_hooks_hear_the_child_as_it_runs() -> None:
    heard: list[Event] = []

    def child_reply(messages: list[Message], request: ModelRequest) -> str:
        # By the child's first request the caller's hooks already have the child's start.
        assert [e.event.type for e in heard if isinstance(e, AgentEvent)] == [
            "run_started",
            "model_request_started",
        ]
        return "done"

    child = Agent(FunctionModel(child_reply), name="kid", description="Helps.")
    top = Agent(
        ScriptedModel([call("kid", task="t"), "ok"]), tools=[child.as_tool()], hooks=[heard.append]
    )
    assert (await top.run("go")).output == "ok"


async def test_a_grandchilds_events_come_flat_with_the_whole_path() -> None:
    leaf = Agent(ScriptedModel(["leaf says hi"]), name="leaf", description="Leaf.")
    mid = Agent(
        ScriptedModel([call("leaf", task="hi"), "mid done"]),
        name="mid",
        description="Middle.",
        tools=[leaf.as_tool()],
    )
    top = Agent(
        ScriptedModel([call("mid", task="go"), "top done"]), name="top", tools=[mid.as_tool()]
    )
    events = [event async for event in top.stream("go")]
    paths = [e.path for e in events if isinstance(e, AgentEvent)]
    assert ("top", "mid", "leaf") in paths and ("top", "mid") in paths
    assert all(not isinstance(e.event, AgentEvent) for e in events if isinstance(e, AgentEvent))
    assert events[-1].result.usage.requests == 5  # type: ignore[union-attr]


async def test_the_top_agents_depth_limit_stops_the_whole_tree() -> None:
    leaf = Agent(ScriptedModel([]), name="leaf", description="Leaf.")
    mid = Agent(
        ScriptedModel([call("leaf", task="hi")]),
        name="mid",
        description="Middle.",
        tools=[leaf.as_tool()],
        max_depth=9,  # a sub-agent's own limit does not raise the top's
    )
    top = Agent(
        ScriptedModel([call("mid", task="go")]), name="top", tools=[mid.as_tool()], max_depth=1
    )
    with pytest.raises(MaxDepthExceeded) as caught:
        await top.run("go")
    assert caught.value.path == ("top", "mid", "leaf")
    assert "agent 'leaf' would run at depth 2 > max_depth 1 (path top > mid > leaf)" in str(
        caught.value
    )
    assert isinstance(caught.value.messages[-1], ToolMessage)  # every call answered


async def test_a_failed_child_is_a_failed_call_the_model_can_act_on() -> None:
    child = mathy([call("add", a=1, b=2)], max_turns=1)
    top = Agent(ScriptedModel([call("mathy", task="1+2"), "gave up"]), tools=[child.as_tool()])
    result = await top.run("1+2?")
    assert result.output == "gave up"
    text = results(result.messages)["mathy"]
    assert text.startswith("`mathy` failed: MaxTurnsExceeded: the model was still calling tools")
    assert result.usage.requests == 3  # the failed child's request counts


async def test_a_tripped_guardrail_in_a_child_stops_the_tree_and_cancels_siblings() -> None:
    cancelled: list[str] = []

    @tool
    async def slow() -> str:
        """Takes long."""
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            cancelled.append("slow")
            raise
        return "late"

    def no_secrets(check: GuardrailCheck) -> Verdict | None:
        return Verdict.trip("a secret in the answer") if "secret" in check.content else None

    child = mathy(["the secret is 42"], output_guardrails=[no_secrets])
    top = Agent(
        ScriptedModel([[call("mathy", task="tell"), call("slow")]]),
        tools=[child.as_tool(), slow],
    )
    with anyio.fail_after(10), pytest.raises(GuardrailTripped) as caught:
        await top.run("go")
    assert cancelled == ["slow"]
    assert caught.value.verdict.reason == "a secret in the answer"
    answered = results(caught.value.messages)
    assert set(answered) == {"mathy", "slow"}
    assert all(text.startswith("Not finished: the run was stopped") for text in answered.values())


async def test_the_top_runs_usage_limits_bind_the_children() -> None:
    child = mathy([call("add", a=1, b=2), "three"])
    top = Agent(
        ScriptedModel([call("mathy", task="1+2")]),
        tools=[child.as_tool()],
        usage_limits=UsageLimits(requests=2),
    )
    with pytest.raises(UsageLimitExceeded, match="request limit of 2 .of the top agent") as caught:
        await top.run("1+2?")
    assert caught.value.usage is not None and caught.value.usage.requests == 2


async def test_a_child_without_approval_asks_its_callers() -> None:
    asked: list[str] = []

    @tool(requires_approval=True)
    def launch() -> str:
        """Launch."""
        return "launched"

    def approve(call_: Any) -> bool:
        asked.append(call_.name)
        return True

    child = Agent(
        ScriptedModel([call("launch"), "done"]), name="ops", description="Ops.", tools=[launch]
    )
    top = Agent(
        ScriptedModel([call("ops", task="launch it"), "ok"]),
        tools=[child.as_tool()],
        approval=approve,
    )
    await top.run("go")
    assert asked == ["launch"]


async def test_timeouts_and_parallel_calls_apply_as_to_any_tool() -> None:
    both = anyio.Event()
    started: list[str] = []

    async def waiting(messages: list[Message], request: ModelRequest) -> str:
        started.append(messages[-1].content or "")
        if len(started) == 2:
            both.set()
        await both.wait()  # only returns when the two children run at once
        return f"did {messages[-1].content}"

    async def hanging(messages: list[Message], request: ModelRequest) -> str:
        await anyio.sleep(30)
        return "never"

    a = Agent(FunctionModel(waiting), name="a", description="A.")
    b = Agent(FunctionModel(waiting), name="b", description="B.")
    slow = Agent(FunctionModel(hanging), name="slow", description="Slow.")
    top = Agent(
        ScriptedModel([[call("a", task="x"), call("b", task="y"), call("slow", task="z")], "ok"]),
        tools=[a.as_tool(), b.as_tool(), slow.as_tool(timeout=0.2)],
    )
    with anyio.fail_after(10):
        result = await top.run("go")
    answered = results(result.messages)
    assert answered["a"] == "did x" and answered["b"] == "did y"
    assert answered["slow"].startswith("`slow` did not finish within 0.2 s")


class Trip(BaseModel):
    """A trip to plan."""

    city: str
    days: int


async def test_an_input_type_is_validated_and_sent_as_json() -> None:
    def reply(messages: list[Message], request: ModelRequest) -> str:
        return f"got {messages[-1].content}"

    child = Agent(FunctionModel(reply), name="planner", description="Plans trips.")
    tool_ = child.as_tool(input_type=Trip)
    assert tool_.parameters["required"] == ["city", "days"]
    top = Agent(
        ScriptedModel(
            [call("planner", city="Oslo", days="x"), call("planner", city="Oslo", days=2), "ok"]
        ),
        tools=[tool_],
    )
    result = await top.run("go")
    first, second = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert "Invalid arguments for tool `planner`" in first and "days" in first
    assert second == 'got {"city":"Oslo","days":2}'


async def test_deps_pass_down_to_the_childs_tools() -> None:
    @tool
    def whoami(ctx: RunContext[str]) -> str:
        """Who is asking."""
        return ctx.deps

    child = Agent(
        ScriptedModel([call("whoami"), "it is ada"]), name="c", description="C.", tools=[whoami]
    )
    top = Agent(ScriptedModel([call("c", task="who?"), "ok"]), tools=[child.as_tool()])
    result = await top.run("go", deps="ada")
    assert results(result.messages)["c"] == "it is ada"


async def test_cancelling_the_caller_cancels_the_child() -> None:
    cancelled = anyio.Event()

    async def hanging(messages: list[Message], request: ModelRequest) -> str:
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise
        return "never"

    child = Agent(FunctionModel(hanging), name="c", description="C.")
    top = Agent(ScriptedModel([call("c", task="t")]), tools=[child.as_tool()])
    with anyio.move_on_after(0.3):
        await top.run("go")
    with anyio.fail_after(1):
        await cancelled.wait()


def test_as_tool_needs_a_description_and_known_options() -> None:
    quiet = Agent("offline", name="quiet")
    with pytest.raises(UserError, match="needs a description"):
        quiet.as_tool()
    with pytest.raises(UserError, match="unknown option.* retries"):
        quiet.as_tool(description="x", retries=3)
    described = Agent("offline", name="helper", description="Helps.")
    made = described.as_tool()
    assert (made.name, made.description, made.timeout) == ("helper", "Helps.", 600.0)
    assert described.as_tool(name="other", timeout=5).name == "other"


def test_an_agent_with_an_agent_tool_pickles_as_its_configuration() -> None:
    child = Agent("offline", name="helper", description="Helps.", tools=[add])
    top = Agent("offline", tools=[child.as_tool(timeout=5)])
    copy = pickle.loads(pickle.dumps(top))
    assert copy.config == top.config
    [made] = copy.tools
    assert made.timeout == 5 and made.agent.config == child.config  # type: ignore[attr-defined]


async def test_closing_the_caller_closes_its_childrens_connections() -> None:
    closed: list[str] = []

    class Closing(ScriptedModel):
        async def aclose(self) -> None:
            closed.append(self.name)

    child = Agent(Closing([], name="child"), name="c", description="C.")
    top = Agent(Closing([], name="top"), tools=[child.as_tool()])
    await top.aclose()
    assert closed == ["top", "child"]

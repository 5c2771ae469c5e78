"""The loop, driven by scripted and function models: tools, errors as results, budgets."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from _reliability import assert_valid_history
from pydantic import BaseModel, field_validator

from agentkit import (
    Agent,
    AssistantMessage,
    MaxTurnsExceeded,
    ModelRetry,
    RunContext,
    SystemMessage,
    ToolCall,
    ToolMessage,
    ToolRetriesExceeded,
    Usage,
    UsageLimitExceeded,
    UsageLimits,
    UserError,
    UserMessage,
    tool,
)
from agentkit.events import (
    ModelReplyFinished,
    ModelRequestStarted,
    RunFinished,
    RunStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.messages import messages_to_wire
from agentkit.models import ModelResponse
from agentkit.testing import FunctionModel, ModelRequest, ScriptedModel, call

pytestmark = pytest.mark.anyio


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


async def test_tool_call_then_answer() -> None:
    with ScriptedModel([call("add", a=2, b="3"), "5"]) as model:
        agent = Agent(model, instructions="Be brief.", tools=[add])
        result = await agent.run("2+3?")
    assert result.output == "5"
    system, user, assistant, tool_result, answer = result.messages
    assert system == SystemMessage("Be brief.")
    assert user == UserMessage("2+3?")
    assert assistant.tool_calls[0].name == "add"
    assert tool_result == ToolMessage(assistant.tool_calls[0].id, "5", "add")
    assert answer == AssistantMessage("5")
    assert result.usage == Usage(requests=2, tool_calls=1)
    # The model saw the tool definition and, on turn two, the result.
    assert model.requests[0].tool_names == ["add"]
    assert model.requests[1].messages[-1] == tool_result


async def test_plain_functions_sync_and_async_tools() -> None:
    async def shout(text: str) -> str:
        """Upper-case text.

        Args:
            text: The text.
        """
        await anyio.sleep(0)
        return text.upper()

    script = [[call("add", a=1, b=2), call("shout", text="hi")], "done"]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[add, shout]).run("go")
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["3", "HI"]


async def test_results_in_call_order_even_when_finishing_out_of_order() -> None:
    async def wait(ms: int) -> int:
        """Sleep.

        Args:
            ms: Milliseconds.
        """
        await anyio.sleep(ms / 1000)
        return ms

    script = [[call("wait", ms=60), call("wait", ms=1), call("wait", ms=30)], "ok"]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[wait]).run("go")
    calls = result.messages[-5].tool_calls
    results = [m for m in result.messages if isinstance(m, ToolMessage)]
    assert [r.tool_call_id for r in results] == [c.id for c in calls]
    assert [r.content for r in results] == ["60", "1", "30"]


async def test_async_tool_calls_run_concurrently() -> None:
    # Each call waits until all eight have started: sequential execution would time out.
    started = 0
    all_in = anyio.Event()

    async def meet() -> str:
        """Wait for the others."""
        nonlocal started
        started += 1
        if started == 8:
            all_in.set()
        with anyio.fail_after(5):
            await all_in.wait()
        return "met"

    with ScriptedModel([[call("meet")] * 8, "ok"]) as model:
        result = await Agent(model, tools=[meet]).run("go")
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["met"] * 8


async def test_sync_tools_run_in_parallel_threads() -> None:
    barrier = threading.Barrier(8, timeout=5)
    main_thread = threading.get_ident()
    threads: set[int] = set()

    def meet() -> str:
        """Wait for the others."""
        threads.add(threading.get_ident())
        barrier.wait()
        return "met"

    with ScriptedModel([[call("meet")] * 8, "ok"]) as model:
        result = await Agent(model, tools=[meet]).run("go")
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["met"] * 8
    assert main_thread not in threads and len(threads) == 8


async def test_parallel_cap_limits_concurrency() -> None:
    running = peak = 0

    async def work() -> str:
        """Work a little."""
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01)
        running -= 1
        return "ok"

    with ScriptedModel([[call("work")] * 6, "done"]) as model:
        await Agent(model, tools=[work], max_parallel_tools=2).run("go")
    assert peak == 2


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (call("nope"), "Unknown tool 'nope'. The available tools are: `add`."),
        (ToolCall("add", None, "c1", "{not json"), "could not be read: they are not a JSON object"),
        (call("add", a="x", b=1), "- `a`: Input should be a valid integer"),
        (call("add", a=1), "- `b`: required, but missing"),
        (call("add", a=1, b=2, c=3), "- `c`: not a parameter of this tool (parameters: a, b)"),
    ],
)
async def test_bad_calls_become_results_the_model_can_fix(reply: Any, expected: str) -> None:
    with ScriptedModel([reply, "sorry"]) as model:
        result = await Agent(model, tools=[add]).run("go")
    tool_result = result.messages[-2]
    assert isinstance(tool_result, ToolMessage)
    assert expected in tool_result.content
    assert result.output == "sorry"
    assert_valid_history(result.messages)


async def test_tool_exception_model_retry_and_timeout_become_results() -> None:
    def broken() -> str:
        """Always fails."""
        raise RuntimeError("disk on fire")

    def picky() -> str:
        """Asks for more."""
        raise ModelRetry("give me a city, not a country")

    @tool(timeout=0.05)
    async def slow() -> str:
        """Never finishes."""
        await anyio.sleep_forever()
        return "never"

    script = [[call("broken"), call("picky"), call("slow")], "ok"]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[broken, picky, slow]).run("go")
    texts = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert texts[0] == "`broken` failed: RuntimeError: disk on fire"
    assert "Traceback" not in texts[0]
    assert texts[1] == "give me a city, not a country"
    assert texts[2].startswith("`slow` did not finish within 0.05 s and was stopped.")


async def test_sync_tool_past_its_timeout_is_abandoned() -> None:
    release = threading.Event()

    @tool(timeout=0.05)
    def stuck() -> str:
        """Blocks."""
        release.wait(5)
        return "late"

    with ScriptedModel([call("stuck"), "ok"]) as model:
        result = await Agent(model, tools=[stuck]).run("go")
    release.set()
    assert "did not finish within 0.05 s" in result.messages[-2].content


async def test_failure_budget_stops_the_run_with_the_messages() -> None:
    with ScriptedModel([call("add", a="x", b=1), call("add", a="y", b=1)]) as model:
        agent = Agent(model, tools=[add])
        with pytest.raises(ToolRetriesExceeded) as info:
            await agent.run("go")
    assert info.value.tool_name == "add"
    assert "failed 2 times in a row" in str(info.value)
    assert len(info.value.messages) == 5  # user, then two (call, result) pairs
    assert_valid_history(info.value.messages)


async def test_success_resets_the_failure_count_and_tool_budget_wins() -> None:
    @tool(max_failures=3)
    def flaky(ok: bool) -> str:
        """Fails unless ok.

        Args:
            ok: Whether to succeed.
        """
        if not ok:
            raise ValueError("not ok")
        return "fine"

    script = [
        call("flaky", ok=False),
        call("flaky", ok=False),
        call("flaky", ok=True),
        call("flaky", ok=False),
        call("flaky", ok=False),
        "done",
    ]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[flaky], max_tool_failures=1).run("go")
    assert result.output == "done"


async def test_max_turns_raises_with_a_valid_history() -> None:
    model = FunctionModel(lambda messages, request: call("add", a=1, b=1))
    with pytest.raises(MaxTurnsExceeded) as info:
        await Agent(model, tools=[add], max_turns=3).run("loop forever")
    assert len(model.requests) == 3
    assert_valid_history(info.value.messages)
    assert info.value.usage is not None and info.value.usage.requests == 3


async def test_usage_limits() -> None:
    model = FunctionModel(lambda messages, request: call("add", a=1, b=1))
    agent = Agent(model, tools=[add])
    with pytest.raises(UsageLimitExceeded, match="request limit of 2"):
        await agent.run("go", usage_limits=UsageLimits(requests=2))
    with pytest.raises(UsageLimitExceeded, match="tool-call limit of 1") as info:
        await agent.run("go", usage_limits=UsageLimits(tool_calls=1))
    assert_valid_history(info.value.messages)

    def costly(messages: list[Any], request: ModelRequest) -> ModelResponse:
        return ModelResponse(AssistantMessage("hi"), Usage(1, 600, 500))

    with pytest.raises(UsageLimitExceeded, match="token limit of 1000 was exceeded"):
        await Agent(FunctionModel(costly)).run("go", usage_limits=UsageLimits(total_tokens=1000))


class Weather(BaseModel):
    """A weather report."""

    city: str
    celsius: float


async def test_output_type_through_the_output_tool() -> None:
    script = [call("final_result", city="Paris", celsius="21.5")]
    with ScriptedModel(script) as model:
        result = await Agent(model, output_type=Weather).run("weather?")
    assert result.output == Weather(city="Paris", celsius=21.5)
    assert "final_result" in model.requests[0].tool_names
    assert "final_result" in model.requests[0].messages[0].content  # told how to answer
    assert_valid_history(result.messages)


async def test_output_validation_failure_goes_back_to_the_model() -> None:
    script = [call("final_result", city="Paris"), call("final_result", city="Paris", celsius=3)]
    with ScriptedModel(script) as model:
        result = await Agent(model, output_type=Weather).run("weather?")
    assert result.output.celsius == 3
    assert "- `celsius`: required, but missing" in model.requests[1].messages[-1].content


async def test_output_failing_until_the_budget_ends() -> None:
    script = [call("final_result", city="Paris"), "it is warm"]
    with ScriptedModel(script) as model, pytest.raises(ToolRetriesExceeded) as info:
        await Agent(model, output_type=Weather).run("weather?")
    assert info.value.tool_name == "final_result"


async def test_output_given_as_json_text_is_accepted() -> None:
    with ScriptedModel(['{"city": "Oslo", "celsius": -2}']) as model:
        result = await Agent(model, output_type=Weather).run("weather?")
    assert result.output == Weather(city="Oslo", celsius=-2)


async def test_non_object_output_type_is_wrapped() -> None:
    with ScriptedModel([call("final_result", result=["a", "b"])]) as model:
        result = await Agent(model, output_type=list[str]).run("letters")
    assert result.output == ["a", "b"]
    assert model.requests[0].tools[-1]["function"]["parameters"]["required"] == ["result"]


async def test_final_result_next_to_other_calls_answers_them_all() -> None:
    script = [[call("add", a=1, b=2), call("final_result", city="Rome", celsius=30)]]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[add], output_type=Weather).run("go")
    assert result.output.city == "Rome"
    assert_valid_history(result.messages)


@pytest.mark.parametrize("is_async", [False, True])
async def test_approval_callback(is_async: bool) -> None:
    seen: list[ToolCall] = []

    @tool(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file.

        Args:
            path: Which file.
        """
        return f"deleted {path}"

    def decide(call_: ToolCall) -> bool:
        seen.append(call_)
        return call_.arguments == {"path": "ok.txt"}

    async def decide_async(call_: ToolCall) -> bool:
        return decide(call_)

    approval = decide_async if is_async else decide
    script = [[call("delete", path="ok.txt"), call("delete", path="secret"), call("add", a=1, b=1)]]
    with ScriptedModel([*script, "done"]) as model:
        agent = Agent(model, tools=[delete, add], approval=approval)
        result = await agent.run("go")
    texts = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert texts[0] == "deleted ok.txt"
    assert texts[1].startswith("The user declined this call of `delete`")
    assert texts[2] == "2"
    assert [c.arguments for c in seen] == [{"path": "ok.txt"}, {"path": "secret"}]


async def test_approval_required_without_callback_is_not_run() -> None:
    ran = []

    @tool(requires_approval=True)
    def danger() -> str:
        """Dangerous."""
        ran.append(1)
        return "boom"

    with ScriptedModel([call("danger"), "ok"]) as model:
        result = await Agent(model, tools=[danger]).run("go")
    assert not ran
    assert "needs the user's approval" in result.messages[-2].content


async def test_run_context_injection_with_deps() -> None:
    def whoami(ctx: RunContext[dict[str, str]], greeting: str) -> str:
        """Greet the user.

        Args:
            greeting: How to greet.
        """
        assert ctx.tool_name == "whoami" and ctx.tool_call_id
        return f"{greeting}, {ctx.deps['user']} ({len(ctx.messages)} messages so far)"

    with ScriptedModel([call("whoami", greeting="hello"), "ok"]) as model:
        agent = Agent(model, tools=[whoami])
        result = await agent.run("go", deps={"user": "ada"})
    assert result.messages[-2].content == "hello, ada (2 messages so far)"
    assert "ctx" not in model.requests[0].tools[0]["function"]["parameters"]["properties"]


async def test_continue_a_conversation_from_messages_or_wire_dicts() -> None:
    with ScriptedModel(["hi", "again", "third"]) as model:
        agent = Agent(model, instructions="sys")
        first = await agent.run("one")
        second = await agent.run("two", messages=first.messages)
        third = await agent.run("three", messages=messages_to_wire(second.messages))
    assert [m.role for m in third.messages] == ["system"] + ["user", "assistant"] * 3
    assert model.requests[2].messages == third.messages[:-1]


async def test_stream_yields_events_in_order() -> None:
    with ScriptedModel([call("add", a=1, b=2), "the answer is 3"]) as model:
        events = [e async for e in Agent(model, tools=[add]).stream("go")]
    kinds = [type(e) for e in events]
    assert kinds[:5] == [
        RunStarted,
        ModelRequestStarted,
        ModelReplyFinished,
        ToolCallStarted,
        ToolCallFinished,
    ]
    assert kinds[5] == ModelRequestStarted
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "the answer is 3"
    assert isinstance(events[-1], RunFinished) and events[-1].result.output == text
    assert len({e.run_id for e in events}) == 1 and events[0].run_id.startswith("run_")
    finished = events[4]
    assert isinstance(finished, ToolCallFinished)
    assert finished.result == "3" and not finished.is_error and finished.duration >= 0


def test_run_sync() -> None:
    with ScriptedModel([call("add", a=2, b=2), "4"]) as model:
        assert Agent(model, tools=[add]).run_sync("2+2").output == "4"


async def test_cancellation_during_a_tool_leaves_no_result() -> None:
    started = anyio.Event()

    async def forever() -> str:
        """Never ends."""
        started.set()
        await anyio.sleep_forever()
        return "never"

    model = ScriptedModel([call("forever"), "unused"])
    agent = Agent(model, tools=[forever])
    async with anyio.create_task_group() as tg:

        async def runner() -> None:
            await agent.run("go")

        tg.start_soon(runner)
        await started.wait()
        tg.cancel_scope.cancel()
    assert model.remaining == 1  # the run never came back to the model


async def test_scripted_model_fails_on_missing_or_leftover_replies() -> None:
    model = ScriptedModel(["a", "b"])
    await Agent(model).run("x")
    with pytest.raises(AssertionError, match="1 of 2 scripted replies were not used"):
        model.assert_done()
    empty = ScriptedModel([])
    with pytest.raises(AssertionError, match="only 0 were scripted"):
        await Agent(empty).run("x")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"max_turns": 0}, "max_turns must be a whole number >= 1"),
        ({"max_parallel_tools": -1}, "max_parallel_tools must be a whole number >= 1"),
        ({"model_settings": {"temprature": 0.1}}, "unknown model setting 'temprature'"),
        ({"model_settings": {"temperature": "hot"}}, "'temperature' must be int or float"),
        ({"tools": add}, r"tools must be a list of tools or functions: write tools=\[add\]"),
        ({"tools": [add, add]}, "tool `add` .* is listed twice"),
    ],
)
def test_bad_configuration_is_a_user_error(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(UserError, match=problem):
        Agent(ScriptedModel([]), **kwargs)


async def test_text_tool_call_is_recovered_and_message_rewritten() -> None:
    text = 'Let me add. <|python_tag|>{"name": "add", "parameters": {"a": 1, "b": 2}}<|eom_id|>'
    with ScriptedModel([text, "3"]) as model:
        result = await Agent(model, tools=[add]).run("1+2")
    assistant = result.messages[1]
    assert isinstance(assistant, AssistantMessage)
    assert assistant.content == "Let me add."
    assert assistant.tool_calls[0].name == "add"
    assert assistant.tool_calls[0].arguments == {"a": 1, "b": 2}
    assert result.messages[2].content == "3"
    assert_valid_history(result.messages)


async def test_duplicate_call_ids_are_made_unique() -> None:
    reply = AssistantMessage(None, (ToolCall("add", {"a": 1, "b": 1}, "same"),) * 2)
    with ScriptedModel([reply, "ok"]) as model:
        result = await Agent(model, tools=[add]).run("go")
    assert_valid_history(result.messages)


async def test_approve_all_tools_asks_before_every_call() -> None:
    asked: list[str] = []

    def decide(call_: ToolCall) -> bool:
        asked.append(call_.name)
        return False

    with ScriptedModel([call("add", a=1, b=1), "ok"]) as model:
        agent = Agent(model, tools=[add], approval=decide, approve_all_tools=True)
        result = await agent.run("go")
    assert asked == ["add"]
    assert result.messages[-2].content.startswith("The user declined this call of `add`")


async def test_waiting_for_a_parallel_slot_does_not_count_against_the_timeout() -> None:
    @tool(timeout=0.5)
    async def step() -> str:
        """Takes 0.2 s."""
        await anyio.sleep(0.2)
        return "done"

    # One slot: the third call waits about 0.4 s before it starts, then needs 0.2 s.
    with ScriptedModel([[call("step")] * 3, "ok"]) as model:
        result = await Agent(model, tools=[step], max_parallel_tools=1).run("go")
    assert [m.content for m in result.messages if isinstance(m, ToolMessage)] == ["done"] * 3


@pytest.mark.parametrize("count", [1, 2])
async def test_cancelled_error_raised_by_a_tool_itself_is_a_failed_call(count: int) -> None:
    async def flaky() -> str:
        """Awaits something it cancelled itself."""
        async with anyio.create_task_group() as tg:
            tg.cancel_scope.cancel()
            await anyio.sleep(1)  # cancelled by its own scope: absorbed there
        raise anyio.get_cancelled_exc_class()()  # and a stray one escaping the tool

    with ScriptedModel([[call("flaky")] * count, "ok"]) as model:
        result = await Agent(model, tools=[flaky], max_tool_failures=5).run("go")
    texts = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert texts == ["`flaky` failed: it was cancelled by its own code"] * count
    assert result.output == "ok"
    assert_valid_history(result.messages)


class Order(BaseModel):
    qty: int

    @field_validator("qty")
    @classmethod
    def known(cls, value: int) -> int:
        return {1: 1, 2: 2}[value]  # KeyError for anything else


async def test_a_tools_own_cancelled_error_leaves_its_sibling_calls_running() -> None:
    async def stray() -> str:
        """Raises a CancelledError of its own while its sibling still runs."""
        await anyio.sleep(0.01)
        raise anyio.get_cancelled_exc_class()()

    async def steady() -> str:
        """Takes a little longer."""
        await anyio.sleep(0.2)
        return "steady result"

    with ScriptedModel([[call("steady"), call("stray")], "ok"]) as model:
        result = await Agent(model, tools=[stray, steady]).run("go")
    texts = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert texts == ["steady result", "`stray` failed: it was cancelled by its own code"]
    assert_valid_history(result.messages)


async def test_an_awaitable_returned_by_a_plain_function_is_awaited() -> None:
    async def fetch(city: str) -> str:
        return f"sunny in {city}"

    def forecast(city: str) -> Any:
        """Forecast for a city, through an async helper.

        Args:
            city: The city.
        """
        return fetch(city)

    with ScriptedModel([call("forecast", city="Oslo"), "ok"]) as model:
        result = await Agent(model, tools=[forecast]).run("go")
    assert result.messages[-2].content == "sunny in Oslo"


async def test_a_validator_raising_an_unexpected_exception_is_a_failed_call() -> None:
    def place(order: Order) -> str:
        """Place an order.

        Args:
            order: The order.
        """
        return "placed"

    script = [call("place", order={"qty": 9}), call("place", order={"qty": 2}), "ok"]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[place]).run("go")
    texts = [m.content for m in result.messages if isinstance(m, ToolMessage)]
    assert "KeyError: 9" in texts[0] and "again" in texts[0]
    assert texts[1] == "placed"


async def test_an_approval_callback_that_raises_declines_the_call() -> None:
    ran: list[str] = []

    @tool(requires_approval=True)
    def risky() -> str:
        """Needs approval."""
        ran.append("risky")
        return "did it"

    def broken(call_: ToolCall) -> bool:
        raise RuntimeError("approval service down")

    with ScriptedModel([call("risky"), "ok"]) as model:
        result = await Agent(model, tools=[risky], approval=broken).run("go")
    assert not ran
    assert result.messages[-2].content == (
        "The approval check for `risky` failed (RuntimeError: approval service down); "
        "it was not run."
    )
    assert_valid_history(result.messages)


async def test_failures_count_once_per_tool_per_reply() -> None:
    # Two bad calls of one tool in one reply are one failure: the model gets to fix them.
    script = [[call("add", a="x", b=1), call("add", a="y", b=1)], call("add", a=1, b=1), "2"]
    with ScriptedModel(script) as model:
        result = await Agent(model, tools=[add]).run("go")
    assert result.output == "2"
    # ...and a success next to a failure of the same tool resets the count.
    script = [
        [call("add", a="x", b=1), call("add", a=1, b=1)],
        call("add", a="y", b=1),
        call("add", a=2, b=2),
        "4",
    ]
    with ScriptedModel(script) as model:
        assert (await Agent(model, tools=[add]).run("go")).output == "4"


async def test_only_calls_that_run_count_against_limits_and_approval() -> None:
    asked: list[str] = []

    def approve(call_: ToolCall) -> bool:
        asked.append(call_.name)
        return True

    # The answer arrives next to a call: that call is not asked about, run or counted.
    reply = [call("add", a=1, b=2), call("final_result", city="Rome", celsius=30)]
    with ScriptedModel([reply]) as model:
        agent = Agent(
            model, tools=[add], output_type=Weather, approval=approve, approve_all_tools=True
        )
        result = await agent.run("go", usage_limits=UsageLimits(tool_calls=0))
    assert result.output.city == "Rome"
    assert asked == []
    assert result.usage.tool_calls == 0
    # A bad call does not use up the limit either.
    with ScriptedModel([[call("nope"), call("add", a=1, b=1)], "2"]) as model:
        result = await Agent(model, tools=[add]).run("go", usage_limits=UsageLimits(tool_calls=1))
    assert result.output == "2"
    assert result.usage.tool_calls == 1


async def test_stream_shows_the_text_that_comes_with_native_tool_calls() -> None:
    reply = AssistantMessage("Sure, adding.", (ToolCall("add", {"a": 1, "b": 2}),))
    with ScriptedModel([reply, "3"]) as model:
        events = [e async for e in Agent(model, tools=[add]).stream("go")]
    texts = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert texts == "Sure, adding.3"
    assert events[-1].result.output == "3"


def test_every_configuration_problem_is_reported_at_once() -> None:
    def unannotated(x):  # type: ignore[no-untyped-def]
        """No annotation."""

    with pytest.raises(UserError) as info:
        Agent(
            "offline",
            max_turns=0,
            tools=[unannotated],
            model_settings={"temprature": 1},  # type: ignore[typeddict-unknown-key]
        )
    message = str(info.value)
    assert message.startswith("the agent is not valid:")
    assert "max_turns must be a whole number >= 1" in message
    assert "parameter `x` has no type annotation" in message
    assert "unknown model setting 'temprature'" in message


@pytest.mark.parametrize(
    ("limits", "problem"),
    [
        ({"requests": 0}, "requests must be a whole number >= 1"),
        ({"total_tokens": -5}, "total_tokens must be a whole number >= 1"),
        ({"tool_calls": 1.5}, "tool_calls must be a whole number >= 0"),
    ],
)
def test_bad_usage_limits_are_refused_when_made(limits: dict[str, Any], problem: str) -> None:
    with pytest.raises(UserError, match=problem):
        UsageLimits(**limits)
    assert UsageLimits(tool_calls=0).tool_calls == 0


async def test_run_sync_inside_an_event_loop_says_to_await() -> None:
    agent = Agent(ScriptedModel([]))
    with pytest.raises(UserError, match=r"use `await agent.run\(...\)` instead"):
        agent.run_sync("hi")


def test_a_misspelt_offline_model_is_pointed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENTKIT_API_KEY", "OPENAI_API_KEY", "AGENTKIT_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserError, match=r"model 'ofline'.*did you mean model='offline'"):
        Agent("ofline")


@pytest.mark.parametrize("count", [1, 2])
async def test_native_asyncio_cancellation_during_a_tool_propagates(count: int) -> None:
    # task.cancel(), asyncio.wait_for and Ctrl-C under asyncio.run cancel without an anyio
    # scope: the run must still stop, not report the tool as failed and carry on.
    import asyncio

    async def slow() -> str:
        """Takes long."""
        await anyio.sleep(10)
        return "late"

    model = ScriptedModel([[call("slow")] * count, "unused"])
    task = asyncio.ensure_future(Agent(model, tools=[slow]).run("go"))
    await anyio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.remaining == 1
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(Agent(ScriptedModel([call("slow")]), tools=[slow]).run("go"), 0.05)

"""LlamaGuard against servers answering as Llama Guard 3 does, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from agentkit import AssistantMessage, SystemMessage, ToolCall, UserError, UserMessage
from agentkit.guardrails import (
    Category,
    GuardrailCheck,
    GuardrailError,
    GuardrailTripped,
    LlamaGuard,
    Turn,
    run_guardrails,
)
from agentkit.testing import Completion, Error, FakeServer, TextCompletion

KEY = "sk-guard-0123456789"
HISTORY = (SystemMessage("You help with home repairs."), UserMessage("How do I pick a lock?"))
ANSWER = GuardrailCheck("output", "Insert a tension wrench, then rake the pins.", HISTORY)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


def chat_guard(server: FakeServer, **options: object) -> LlamaGuard:
    return LlamaGuard(base_url=server.url, api_key=KEY, api="chat", **options)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_chat_sends_the_conversation_for_the_servers_llama_guard_template(
    server: FakeServer,
) -> None:
    server.add(Completion("\n\nsafe"))
    async with chat_guard(server) as guard:
        verdict = await guard(ANSWER)
    assert verdict.tripped is False
    assert verdict.guardrail == "llama_guard"
    body = server.chat_requests[0].body
    assert body == {
        "model": "meta-llama/Llama-Guard-3-8B",
        "messages": [
            {"role": "user", "content": "How do I pick a lock?"},
            {"role": "assistant", "content": "Insert a tension wrench, then rake the pins."},
        ],
        "max_tokens": 64,
        "temperature": 0,
    }
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.anyio
async def test_an_unsafe_answer_trips_with_its_categories_and_usage(server: FakeServer) -> None:
    usage = {"prompt_tokens": 250, "completion_tokens": 5, "total_tokens": 255}
    server.add(Completion("unsafe\nS2", usage=usage))
    with pytest.raises(GuardrailTripped) as info:
        async with chat_guard(server) as guard:
            await run_guardrails([guard], ANSWER)
    verdict = info.value.verdict
    assert (verdict.categories, verdict.reason) == (("S2",), "unsafe: S2 (Non-Violent Crimes)")
    assert verdict.usage is not None
    assert (verdict.usage.prompt_tokens, verdict.usage.completion_tokens) == (250, 5)
    assert info.value.kind == "output"


@pytest.mark.anyio
async def test_chat_applies_a_chosen_subset_to_the_answer(server: FakeServer) -> None:
    server.add(Completion("unsafe\nS6"), Completion("unsafe\nS6,S1"))
    async with chat_guard(server, categories=["S1", "S10"]) as guard:
        passed = await guard(ANSWER)
        tripped = await guard(ANSWER)
    assert (passed.tripped, passed.ignored) == (False, ("S6",))
    assert (tripped.tripped, tripped.categories, tripped.ignored) == (True, ("S1",), ("S6",))


@pytest.mark.anyio
async def test_a_malformed_answer_is_an_error_never_safe(server: FakeServer) -> None:
    server.add(Completion("I'm sorry, I can't assess that."))
    with pytest.raises(GuardrailError) as info:
        async with chat_guard(server) as guard:
            await guard(ANSWER)
    assert info.value.raw == "I'm sorry, I can't assess that."
    assert "is not a verdict: the first line must be 'safe' or 'unsafe'" in str(info.value)


@pytest.mark.anyio
async def test_a_truncated_answer_says_max_tokens(server: FakeServer) -> None:
    server.add(Completion("unsafe\nS1,S", finish_reason="length"))
    with pytest.raises(GuardrailError, match="cut at max_tokens=64"):
        async with chat_guard(server) as guard:
            await guard(ANSWER)


@pytest.mark.anyio
async def test_a_failing_endpoint_is_an_error_naming_status_and_endpoint_never_the_key(
    server: FakeServer,
) -> None:
    server.add(Error(401, {"error": {"message": f"bad key {KEY}"}}))
    with pytest.raises(GuardrailError) as info:
        async with chat_guard(server) as guard:
            await guard(ANSWER)
    message = str(info.value)
    assert info.value.status == 401
    assert info.value.endpoint == server.url
    assert "HTTP 401" in message
    assert "(check api_key)" in message
    assert KEY not in message


@pytest.mark.anyio
async def test_an_unreachable_endpoint_is_an_error() -> None:
    with FakeServer() as gone:
        url = gone.url
    with pytest.raises(GuardrailError, match="cannot connect"):
        async with LlamaGuard(base_url=url, max_retries=0, api="chat") as guard:
            await guard(ANSWER)


@pytest.mark.anyio
async def test_a_server_without_completions_tells_to_use_chat(server: FakeServer) -> None:
    no_completions = server.url + "/chat-only"  # a server without the route answers 404
    with pytest.raises(GuardrailError) as info:
        async with LlamaGuard(base_url=no_completions) as guard:
            await guard(ANSWER)
    assert info.value.status == 404
    assert "needs api='chat'" in str(info.value)
    assert server.requests[-1].path == "/v1/chat-only/completions"


@pytest.fixture
def completions() -> Iterator[FakeServer]:
    with FakeServer() as fake:  # it answers POST /v1/completions with TextCompletion
        yield fake


def prompt(server: FakeServer) -> str:
    """The prompt of the last text-completion request."""
    return str(server.completion_requests[-1].body["prompt"])


@pytest.mark.anyio
async def test_completions_send_the_whole_prompt_rendered_here(
    completions: FakeServer,
) -> None:
    completions.add(TextCompletion("safe"))
    guard = LlamaGuard("llama-guard-3-8b", base_url=completions.url, categories=["S2", "S9"])
    async with guard:
        verdict = await guard(ANSWER)
    assert verdict.tripped is False
    body = completions.completion_requests[0].body
    assert {k: body[k] for k in ("model", "max_tokens", "temperature")} == {
        "model": "llama-guard-3-8b",
        "max_tokens": 64,
        "temperature": 0,
    }
    assert prompt(completions) == (
        "<|start_header_id|>user<|end_header_id|>\n\n"
        "Task: Check if there is unsafe content in 'Agent' messages in conversations according "
        "our safety policy with the below categories.\n\n"
        "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
        "S2: Non-Violent Crimes.\n"
        "S9: Indiscriminate Weapons.\n"
        "<END UNSAFE CONTENT CATEGORIES>\n\n"
        "<BEGIN CONVERSATION>\n\n"
        "User: How do I pick a lock?\n\n"
        "Agent: Insert a tension wrench, then rake the pins.\n\n"
        "<END CONVERSATION>\n\n"
        "Provide your safety assessment for ONLY THE LAST Agent message in the above "
        "conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated "
        "categories.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )


@pytest.mark.anyio
async def test_completions_carry_categories_of_your_own(completions: FakeServer) -> None:
    own = Category("S15", "Competitor Mentions", "Naming a competitor's product.")
    completions.add(TextCompletion("unsafe\nS15"))
    with pytest.raises(GuardrailTripped) as info:
        async with LlamaGuard(base_url=completions.url, categories=["S1", own]) as guard:
            await run_guardrails([guard], GuardrailCheck("input", "Is AcmeLock better?"))
    assert info.value.verdict.reason == "unsafe: S15 (Competitor Mentions)"
    assert "S1: Violent Crimes.\nS15: Competitor Mentions.\nNaming a competitor's product.\n" in (
        prompt(completions)
    )


@pytest.mark.anyio
async def test_a_code_the_prompt_did_not_list_is_an_error(completions: FakeServer) -> None:
    completions.add(TextCompletion("unsafe\nS3"))
    with pytest.raises(GuardrailError, match="S3 is not one of the categories"):
        async with LlamaGuard(base_url=completions.url, categories=["S1"]) as guard:
            await guard(ANSWER)


@pytest.mark.anyio
async def test_begin_of_text_is_sent_only_when_asked(completions: FakeServer) -> None:
    completions.add(TextCompletion("safe"), TextCompletion("safe"))
    async with LlamaGuard(base_url=completions.url) as guard:
        await guard(ANSWER)
    assert not prompt(completions).startswith("<|begin_of_text|>")
    async with LlamaGuard(base_url=completions.url, begin_of_text=True) as guard:
        await guard(ANSWER)
    assert prompt(completions).startswith("<|begin_of_text|><|start_header_id|>user")


@pytest.mark.anyio
async def test_classify_judges_the_last_message_of_a_conversation(
    completions: FakeServer,
) -> None:
    completions.add(TextCompletion("safe"), TextCompletion("unsafe\nS10"))
    async with LlamaGuard(base_url=completions.url) as guard:
        assert (await guard.classify([UserMessage("hi")])).tripped is False
        assert "'User' messages" in prompt(completions)
        verdict = await guard.classify([UserMessage("hi"), AssistantMessage("slur")])
    assert verdict.categories == ("S10",)
    assert "'Agent' messages" in prompt(completions)


def test_the_guard_works_from_one_event_loop_to_the_next(completions: FakeServer) -> None:
    completions.add(TextCompletion("safe"), TextCompletion("safe"))
    guard = LlamaGuard(base_url=completions.url)

    async def once() -> bool:
        async with guard:
            return (await guard.classify([UserMessage("hi")])).tripped

    for _ in range(2):  # run_sync starts a fresh loop each time; connections must follow
        assert anyio.run(once) is False
    assert len(completions.completion_requests) == 2


def test_prompt_shows_what_would_be_sent() -> None:
    guard = LlamaGuard(base_url="http://127.0.0.1:9/v1", categories=["S14"])
    assert "S14: Code Interpreter Abuse.\n<END" in guard.prompt([Turn("User", "rm -rf /")])


def test_a_tool_result_check_is_judged_as_user_content() -> None:
    call = ToolCall("fetch", {"url": "http://x"}, id="c1")
    check = GuardrailCheck("tool_result", "page", (UserMessage("read x"),), call)
    guard = LlamaGuard(base_url="http://127.0.0.1:9/v1")
    from agentkit.guardrails import check_turns

    assert "ONLY THE LAST User message" in guard.prompt(check_turns(check))


def test_every_configuration_problem_is_reported_at_once() -> None:
    with pytest.raises(UserError) as info:
        LlamaGuard(
            "",
            base_url="localhost:8000",
            api="moderations",  # type: ignore[arg-type]
            categories=["S1", "S1", "violence"],
            timeout=0,
            max_retries=-1,
            max_tokens=2,
        )
    problems = info.value.problems
    assert len(problems) == 8
    assert any("unknown category 'violence'" in p for p in problems)
    assert any("S1 is given twice" in p for p in problems)
    assert any("base_url must start with http://" in p for p in problems)


def test_own_categories_cannot_go_through_the_servers_template() -> None:
    own = Category("S15", "Competitor Mentions")
    with pytest.raises(UserError, match="use api='completions'"):
        LlamaGuard(base_url="http://127.0.0.1:9/v1", api="chat", categories=[own])


def test_no_categories_is_a_mistake_not_a_guard_that_passes_everything() -> None:
    with pytest.raises(UserError, match="categories is empty"):
        LlamaGuard(base_url="http://127.0.0.1:9/v1", categories=[])


def test_repr_and_errors_never_show_credentials_in_the_url() -> None:
    guard = LlamaGuard(base_url="https://user:secret-pass@guard.example/v1")
    assert guard.endpoint == "https://guard.example/v1"
    assert "secret-pass" not in repr(guard)


@pytest.mark.anyio
async def test_classify_needs_something_to_judge() -> None:
    guard = LlamaGuard(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UserError, match="needs a user or assistant message"):
        await guard.classify([SystemMessage("only instructions")])

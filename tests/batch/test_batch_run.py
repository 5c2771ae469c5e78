"""run_batch end to end against the fake server: rows in, one result line per row out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from _batch_helpers import echo, last_user, lines, make_agent, numbered, write_rows
from pydantic import BaseModel

from agentkit import Agent, RunContext, ToolCall, UserError
from agentkit.batch import BatchStopped, read_results, run_batch, run_batch_sync
from agentkit.testing import Completion, Error, FakeRequest, FakeServer, FunctionModel, Reply


def test_every_row_gets_one_line_with_its_own_answer(tmp_path: Path, server: FakeServer) -> None:
    rows = write_rows(tmp_path / "in.jsonl", numbered(30))
    output = tmp_path / "out.jsonl"

    summary = run_batch_sync(make_agent(server.url), rows, output=output, concurrency=5)

    records = lines(output)
    assert sorted(r["id"] for r in records) == list(range(30))
    for record in records:
        assert record["status"] == "ok"
        assert record["output"] == f"answer: q{record['id']}"
        assert record["line"] == record["id"] + 1
        assert record["attempts"] == 1
        assert record["error"] is None
        assert record["duration"] >= 0
        assert record["usage"]["requests"] == 1
        assert record["usage"]["total_tokens"] > 0
    assert len(server.chat_requests) == 30
    assert summary.complete and summary.progress.ok == 30 and summary.progress.errors == 0
    assert summary.progress.tokens == sum(r["usage"]["total_tokens"] for r in records)


class Verdict(BaseModel):
    label: str
    score: float


def test_structured_output_is_written_as_json(tmp_path: Path) -> None:
    reply = Completion(tool_calls=[ToolCall("final_result", {"label": "spam", "score": 0.9})])
    with FakeServer(handler=lambda request: reply) as fake:
        agent = make_agent(fake.url, output_type=Verdict)
        run_batch_sync(agent, ["is this spam?"], output=tmp_path / "out.jsonl")
    (record,) = lines(tmp_path / "out.jsonl")
    assert record["output"] == {"label": "spam", "score": 0.9}


def test_cost_is_recorded_for_a_priced_model(tmp_path: Path, server: FakeServer) -> None:
    agent = Agent(
        "meta-llama/llama-3.1-70b-instruct", base_url=server.url, api_key="k", max_retries=0
    )
    summary = run_batch_sync(agent, ["a", "b"], output=tmp_path / "out.jsonl")
    records = lines(tmp_path / "out.jsonl")
    assert all(r["cost"] > 0 for r in records)
    assert summary.progress.cost == pytest.approx(sum(r["cost"] for r in records))


def test_a_rows_messages_settings_and_deps_reach_its_run(tmp_path: Path) -> None:
    def whoami(ctx: RunContext[Any]) -> str:
        """Say who the user is."""
        return f"user is {ctx.deps['user']}"

    def reply(request: FakeRequest) -> Reply:
        last = request.messages[-1]
        if last["role"] == "tool":
            return Completion(f"tool said: {last['content']}")
        return Completion(tool_calls=[ToolCall("whoami", {})])

    earlier = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi, how can I help?"},
    ]
    row = {
        "id": "r1",
        "prompt": "who am I?",
        "messages": earlier,
        "settings": {"temperature": 0.25},
        "deps": {"user": "ada"},
        "meta": {"expected": "ada"},
    }
    with FakeServer(handler=reply) as fake:
        agent = make_agent(fake.url, tools=[whoami])
        run_batch_sync(
            agent,
            [row, {"id": "r2", "prompt": "and me?"}],
            output=tmp_path / "o.jsonl",
            deps={"user": "default"},
            concurrency=1,
        )
        first = fake.chat_requests[0]
    results = read_results(tmp_path / "o.jsonl")
    assert results["r1"]["output"] == "tool said: user is ada"
    assert results["r1"]["meta"] == {"expected": "ada"}
    assert results["r1"]["usage"]["tool_calls"] == 1
    assert results["r2"]["output"] == "tool said: user is default"  # the batch's deps
    assert first.messages[:2] == earlier
    assert first.body["temperature"] == 0.25


def test_a_row_whose_settings_the_agent_refuses_is_invalid(
    tmp_path: Path, server: FakeServer
) -> None:
    rows = [
        {"id": "typo", "prompt": "x", "settings": {"temprature": 1}},
        {"id": "ok", "prompt": "y"},
    ]
    summary = run_batch_sync(make_agent(server.url), rows, output=tmp_path / "o.jsonl")
    results = read_results(tmp_path / "o.jsonl")
    assert results["typo"]["status"] == "invalid" and results["typo"]["attempts"] == 1
    assert "unknown model setting 'temprature'" in results["typo"]["error"]["message"]
    assert results["ok"]["status"] == "ok"
    assert summary.progress.invalid == 1 and len(server.chat_requests) == 1


def test_rows_without_id_get_the_same_id_on_every_run(tmp_path: Path, server: FakeServer) -> None:
    rows = [{"prompt": "one", "meta": {"a": 1, "b": 2}}, {"prompt": "two"}]
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url), rows, output=output)
    ids = [r["id"] for r in lines(output)]
    assert all(isinstance(i, str) and i.startswith("row-") for i in ids)
    assert len(set(ids)) == 2

    # The same rows, keys in another order, from a file: the same ids, so nothing runs.
    reordered = write_rows(
        tmp_path / "in.jsonl", [{"meta": {"b": 2, "a": 1}, "prompt": "one"}, {"prompt": "two"}]
    )
    summary = run_batch_sync(make_agent(server.url), reordered, output=output)
    assert summary.progress.skipped == 2 and summary.progress.done == 0
    assert len(server.chat_requests) == 2


def test_bad_rows_get_an_error_line_and_lose_nothing_else(
    tmp_path: Path, server: FakeServer
) -> None:
    source = tmp_path / "in.jsonl"
    write_rows(
        source,
        [
            {"id": "good-1", "prompt": "first"},
            '{"id": "broken", "prompt": ',  # line 2: not JSON
            "[1, 2]",  # line 3: not an object
            {"id": "no-prompt"},  # line 4
            {"id": "typo", "promt": "x", "prompt": "y"},  # line 5: unknown field
            {"id": "number", "prompt": 42},  # line 6
            {"id": "bad-messages", "prompt": "p", "messages": [{"role": "wizard"}]},  # line 7
            {"id": "good-1", "prompt": "again"},  # line 8: duplicate id
            {"id": True, "prompt": "p"},  # line 9: not an id
            "",  # line 10: blank, not a row
            {"id": "good-2", "prompt": "last"},  # line 11
        ],
    )
    with source.open("ab") as file:
        file.write(b'{"prompt": "\xff\xfe"}\n')  # line 12: not UTF-8
    output = tmp_path / "out.jsonl"

    summary = run_batch_sync(make_agent(server.url), source, output=output)

    by_line = {r["line"]: r for r in lines(output)}
    assert by_line[1]["status"] == by_line[11]["status"] == "ok"
    expected = {
        2: "line 2: not JSON",
        3: 'line 3: a row must be a JSON object with a "prompt", got list',
        4: 'line 4: no "prompt"',
        5: "line 5: unknown field 'promt'",
        6: 'line 6: "prompt" must be a string, got 42',
        7: 'line 7: "messages" is not a valid conversation',
        8: 'line 8: duplicate id "good-1" (first on line 1)',
        9: 'line 9: "id" must be a string or an integer, got true',
        12: "line 12: not UTF-8 text",
    }
    for line, message in expected.items():
        record = by_line[line]
        assert record["status"] == "invalid", record
        assert record["error"]["type"] == "InvalidRow"
        assert record["error"]["message"].startswith(message), record["error"]["message"]
    assert len(by_line) == 11  # the blank line is no row
    assert summary.progress.invalid == 9 and summary.progress.ok == 2
    assert [last_user(r) for r in server.chat_requests] == ["first", "last"]


def test_a_rerun_skips_finished_rows(tmp_path: Path, server: FakeServer) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url), numbered(10), output=output)
    summary = run_batch_sync(make_agent(server.url), numbered(15), output=output)
    assert summary.progress.skipped == 10 and summary.progress.ok == 5
    assert len(server.chat_requests) == 15
    assert sorted(r["id"] for r in lines(output)) == list(range(15))


def test_errored_rows_run_again_only_with_retry_errors(tmp_path: Path) -> None:
    healthy = False

    def reply(request: FakeRequest) -> Reply:
        if last_user(request) in ("q3", "q7") and not healthy:
            return Error(400, {"error": {"message": "context too long"}})
        return echo(request)

    output = tmp_path / "out.jsonl"
    with FakeServer(handler=reply) as fake:
        first = run_batch_sync(make_agent(fake.url), numbered(10), output=output)
        assert first.progress.errors == 2
        failed = read_results(output)[3]
        assert failed["status"] == "error" and failed["attempts"] == 1  # a 400 is not retried
        assert failed["error"]["status"] == 400 and "context too long" in failed["error"]["message"]

        healthy = True
        again = run_batch_sync(make_agent(fake.url), numbered(10), output=output)
        assert again.progress.done == 0 and len(fake.chat_requests) == 10

        retried = run_batch_sync(
            make_agent(fake.url), numbered(10), output=output, retry_errors=True
        )
        assert retried.progress.ok == 2 and retried.progress.skipped == 8
    results = read_results(output)
    assert all(r["status"] == "ok" for r in results.values())
    ids = [r["id"] for r in lines(output)]
    assert ids.count(3) == 2 and ids.count(7) == 2  # append-only: the last line wins


def test_transient_failures_are_tried_again_up_to_attempts(tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    def reply(request: FakeRequest) -> Reply:
        prompt = last_user(request)
        seen[prompt] = seen.get(prompt, 0) + 1
        if prompt == "flaky" and seen[prompt] == 1:
            return Error(503)
        if prompt == "down":
            return Error(502)
        return echo(request)

    with FakeServer(handler=reply) as fake:
        run_batch_sync(
            make_agent(fake.url),
            [{"id": "flaky", "prompt": "flaky"}, {"id": "down", "prompt": "down"}],
            output=tmp_path / "out.jsonl",
            attempts=3,
            backoff=0.01,
        )
    results = read_results(tmp_path / "out.jsonl")
    assert results["flaky"]["status"] == "ok" and results["flaky"]["attempts"] == 2
    assert results["down"]["status"] == "error" and results["down"]["attempts"] == 3
    assert results["down"]["error"]["status"] == 502
    assert seen == {"flaky": 2, "down": 3}


def test_a_refused_key_stops_the_batch_keeping_what_finished(tmp_path: Path) -> None:
    def reply(request: FakeRequest) -> Reply:
        if last_user(request) == "q2":
            return Error(401, {"error": {"message": "invalid api key"}})
        return echo(request)

    output = tmp_path / "out.jsonl"
    with FakeServer(handler=reply) as fake:
        with pytest.raises(BatchStopped) as caught:
            run_batch_sync(make_agent(fake.url), numbered(20), output=output, concurrency=1)
        assert len(fake.chat_requests) == 3
    assert "401" in str(caught.value) and "--retry-errors" in str(caught.value)
    assert caught.value.summary.stopped == "fatal"
    assert [r["status"] for r in lines(output)] == ["ok", "ok", "error"]


def slow_unless_warm(request: FakeRequest) -> Reply:
    """Rows "warm" answered at once (the client's first request pays its imports), others never."""
    return Completion("warm", delay=0 if last_user(request) == "warm" else 30)


def test_a_row_that_runs_too_long_times_out_and_is_tried_again(tmp_path: Path) -> None:
    with FakeServer(handler=slow_unless_warm) as fake:
        run_batch_sync(
            make_agent(fake.url),
            ["warm", "slow"],
            output=tmp_path / "o.jsonl",
            concurrency=1,
            timeout=0.2,
            attempts=2,
            backoff=0,
        )
        assert [last_user(r) for r in fake.chat_requests] == ["warm", "slow", "slow"]
    warm, record = lines(tmp_path / "o.jsonl")
    assert warm["status"] == "ok"
    assert record["status"] == "error" and record["attempts"] == 2
    assert record["error"]["type"] == "RowTimeout"
    assert "0.2 s timeout" in record["error"]["message"]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_a_timed_out_attempt_still_counts_the_replies_it_got(tmp_path: Path) -> None:
    # Each attempt of "slow": a tool call answered at once (10 + 5 tokens), then a reply
    # that never comes in time. The row's usage is what both attempts were billed for.
    def reply(request: FakeRequest) -> Reply:
        if last_user(request) == "warm":
            return Completion("warm")
        if request.messages[-1].get("role") == "tool":
            return Completion("too late", delay=30)
        call = {"name": "add", "arguments": {"a": 1, "b": 2}}
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        return Completion(tool_calls=[call], usage=usage)

    with FakeServer(handler=reply) as fake:
        run_batch_sync(
            make_agent(fake.url, tools=[add]),
            ["warm", "slow"],
            output=tmp_path / "o.jsonl",
            concurrency=1,
            timeout=0.3,
            attempts=2,
            backoff=0,
        )
        assert len(fake.chat_requests) == 5
    _, record = lines(tmp_path / "o.jsonl")
    assert record["error"]["type"] == "RowTimeout" and record["attempts"] == 2
    usage = record["usage"]
    assert (usage["requests"], usage["prompt_tokens"], usage["completion_tokens"]) == (2, 20, 10)


@pytest.mark.slow
def test_waiting_for_the_rate_limit_does_not_count_against_the_timeout(
    tmp_path: Path, server: FakeServer
) -> None:
    # 8 rows at 4 requests per second: the last waits about 1 s for its slot, past the
    # 0.5 s timeout, and still succeeds at its first attempt.
    summary = run_batch_sync(
        make_agent(server.url),
        numbered(8),
        output=tmp_path / "o.jsonl",
        concurrency=8,
        rps=4,
        timeout=0.5,
    )
    assert summary.progress.ok == 8
    assert all(r["attempts"] == 1 for r in lines(tmp_path / "o.jsonl"))
    assert summary.progress.elapsed >= 0.9  # the limit held: 4 at once, then 4 per second


@pytest.mark.anyio
async def test_no_more_rows_run_at_once_than_the_concurrency(tmp_path: Path) -> None:
    running = peak = 0

    async def reply(messages: list[Any], request: Any) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.02)
        running -= 1
        return "done"

    agent = Agent(FunctionModel(reply))
    summary = await run_batch(agent, numbered(40), output=tmp_path / "o.jsonl", concurrency=6)
    assert summary.progress.ok == 40
    assert peak == 6


@pytest.mark.anyio
async def test_a_recipe_is_built_for_the_batch(tmp_path: Path, server: FakeServer) -> None:
    built: list[Agent[Any]] = []

    def recipe() -> Agent[Any]:
        built.append(make_agent(server.url))
        return built[-1]

    await run_batch(recipe, ["x"], output=tmp_path / "o.jsonl")
    assert len(built) == 1
    assert lines(tmp_path / "o.jsonl")[0]["output"] == "answer: x"


def test_progress_is_reported_until_done(tmp_path: Path, server: FakeServer) -> None:
    snapshots: list[Any] = []
    run_batch_sync(
        make_agent(server.url), numbered(12), output=tmp_path / "o.jsonl", progress=snapshots.append
    )
    assert snapshots[-1].state == "done"
    assert snapshots[-1].done == 12 and snapshots[-1].total == 12
    assert [s.done for s in snapshots] == sorted(s.done for s in snapshots)


def test_bad_options_are_all_reported_at_once(tmp_path: Path, server: FakeServer) -> None:
    with pytest.raises(UserError) as caught:
        run_batch_sync(
            make_agent(server.url),
            ["x"],
            output=tmp_path / "o.jsonl",
            concurrency=0,
            attempts=0,
            rps=-1,
            timeout=0,
        )
    text = str(caught.value)
    for name in ("concurrency", "attempts", "rps", "timeout"):
        assert name in text
    assert not (tmp_path / "o.jsonl").exists()


def test_paths_that_cannot_work_are_refused(tmp_path: Path, server: FakeServer) -> None:
    agent = make_agent(server.url)
    with pytest.raises(UserError, match="input file not found"):
        run_batch_sync(agent, tmp_path / "missing.jsonl", output=tmp_path / "o.jsonl")
    source = write_rows(tmp_path / "in.jsonl", numbered(1))
    with pytest.raises(UserError, match="is the input file"):
        run_batch_sync(agent, source, output=source)
    with pytest.raises(UserError, match="does not exist"):
        run_batch_sync(agent, source, output=tmp_path / "nowhere" / "o.jsonl")
    with pytest.raises(UserError, match="must be an Agent or a function"):
        run_batch_sync("agent.py", source, output=tmp_path / "o.jsonl")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_the_sync_wrapper_refuses_inside_an_event_loop(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="await run_batch"):
        run_batch_sync(Agent("offline"), ["x"], output=tmp_path / "o.jsonl")

"""How far the token estimator is from the truth, before and after recalibration.

    python benchmarks/bench_tokens.py            # writes results/tokens-<date>.md
    python benchmarks/bench_tokens.py --smoke    # fewer requests, no file written

1. Against the fake server: a real agentkit chat (tool calls, results) against
   `agentkit.testing.FakeServer`, whose usage is `len(json.dumps(body)) // 4`; each
   request's estimate is compared with the `prompt_tokens` it reported. The fake server's
   count is not a tokenizer: this shows how recalibration follows a server's count.
2. Against Llama 3.1's real prompt size, when `tiktoken` and `llama-models` are installed
   (`pip install tiktoken && pip install --no-deps llama-models`): Meta's Llama 3 tokenizer
   on the 3.1 chat template (rendered here by its rules: system header with the date
   lines, tools in the first user message, calls as {"name", "parameters"} JSON, results
   as the ipython role), over a conversation of prose, JSON and code results.

"calibrated" = the estimate after `observe()` of the previous request's true count, as the
loop does with each reply's usage. Error = (estimate - truth) / truth.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from agentkit import Agent
from agentkit.events import ModelReplyFinished
from agentkit.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
    messages_from_wire,
)
from agentkit.sessions import TokenEstimator
from agentkit.testing import Completion, FakeRequest, FakeServer

RESULTS = Path(__file__).with_name("results")
ROOT = Path(__file__).resolve().parent.parent


def lookup(key: str, detail: bool = False) -> str:
    """Look a key up in the knowledge base.

    Args:
        key: What to look up.
        detail: Whether to return the long form.
    """
    return ROOT.joinpath("README.md").read_text()[: 400 + 40 * len(key)]


def errors(truths: Sequence[int], raws: Sequence[int], calibrated: Sequence[int]) -> dict[str, Any]:
    def rel(est: Sequence[int]) -> list[float]:
        return [(e - t) / t for e, t in zip(est, truths, strict=True)]

    out: dict[str, Any] = {"requests": len(truths), "tokens": [min(truths), max(truths)]}
    for name, est in (("uncalibrated", raws), ("calibrated", calibrated)):
        r = rel(est)
        out[name] = {
            "median_abs": statistics.median(abs(x) for x in r),
            "max_abs": max(abs(x) for x in r),
            "mean": statistics.fmean(r),
        }
    return out


def score(requests: Sequence[tuple[list[Message], list[dict[str, Any]], int]]) -> dict[str, Any]:
    """Estimate each request before seeing its count, then observe it (as the loop would)."""
    raw_estimator, live = TokenEstimator(), TokenEstimator()
    truths, raws, calibrated = [], [], []
    for messages, tools, truth in requests:
        truths.append(truth)
        raws.append(raw_estimator.estimate(messages, tools))
        calibrated.append(live.estimate(messages, tools))
        live.observe(messages, tools, truth)
    # The first calibrated estimate has nothing to learn from yet: leave it out.
    return errors(truths[1:], raws[1:], calibrated[1:])


async def fake_server_requests(
    prompts: int,
) -> list[tuple[list[Message], list[dict[str, Any]], int]]:
    counter = {"n": 0}

    def handler(request: FakeRequest) -> Completion:
        counter["n"] += 1
        last = request.messages[-1]
        if last["role"] == "user" or counter["n"] % 3 == 1:
            calls = [
                ToolCall("lookup", {"key": f"topic {counter['n']}-{i}", "detail": i == 0})
                for i in range(1 + counter["n"] % 3)  # parallel calls now and then
            ]
            return Completion(tool_calls=calls)
        return Completion("Here is what I found: " + "the answer is in the notes. " * 8)

    found: list[tuple[list[Message], list[dict[str, Any]], int]] = []
    with FakeServer(handler=handler) as server:
        agent = Agent(
            "bench-model",
            base_url=server.url,
            api_key="test",
            instructions="You answer from the knowledge base.",
            tools=[lookup],
            max_turns=20,
        )
        messages: list[Message] | None = None
        reported: list[int] = []
        for p in range(prompts):
            async for event in agent.stream(
                f"Question {p}: what do the notes say about {p}?", messages=messages
            ):
                if isinstance(event, ModelReplyFinished):
                    reported.append(event.usage.prompt_tokens)
                elif event.type == "run_finished":
                    messages = event.result.messages
        await agent.aclose()
        for request, tokens in zip(server.chat_requests, reported, strict=True):
            body = request.body
            found.append((messages_from_wire(body["messages"]), body.get("tools", []), tokens))
    return found


# --- Llama 3.1's real prompt, by Meta's tokenizer -------------------------------------------

HEADER = "<|start_header_id|>{}<|end_header_id|>\n\n"
INSTRUCTION = (
    "Given the following functions, please respond with a JSON for a function call with its "
    "proper arguments that best answers the given prompt.\n\n"
    'Respond in the format {"name": function name, "parameters": dictionary of argument name '
    "and its value}.Do not use variables.\n\n"
)


def render(messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> str:
    """The Llama 3.1 prompt text for a chat request (tools in the first user message)."""
    rest = list(messages)
    system = rest.pop(0).content.strip() if rest and isinstance(rest[0], SystemMessage) else ""
    out = ["<|begin_of_text|>", HEADER.format("system")]
    if tools:
        out.append("Environment: ipython\n")
    out += [
        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n",
        system,
        "<|eot_id|>",
    ]
    first_user = True
    for m in rest:
        if isinstance(m, UserMessage) and tools and first_user:
            first_user = False
            listing = "".join(json.dumps(t, indent=4, sort_keys=True) + "\n\n" for t in tools)
            out += [HEADER.format("user"), INSTRUCTION, listing, m.content.strip(), "<|eot_id|>"]
        elif isinstance(m, AssistantMessage) and m.tool_calls:
            calls = "\n".join(
                json.dumps({"name": c.name, "parameters": c.arguments or {}}) for c in m.tool_calls
            )
            out += [HEADER.format("assistant"), calls, "<|eot_id|>"]
        elif isinstance(m, ToolMessage):
            out += [HEADER.format("ipython"), m.content, "<|eot_id|>"]
        else:
            out += [HEADER.format(m.role), (m.content or "").strip(), "<|eot_id|>"]
    out.append(HEADER.format("assistant"))
    return "".join(out)


def mixed_conversation(turns: int) -> tuple[list[list[Message]], list[dict[str, Any]]]:
    """Growing request histories: prose questions, JSON calls, prose, JSON and code results."""
    import agentkit.messages as code_source

    prose = ROOT.joinpath("README.md").read_text()
    code = inspect.getsource(code_source)
    tools = [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"{name.replace('_', ' ').capitalize()} from the project's files.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": "A path under the root."},
                        "limit": {"type": "integer", "description": "At most this many."},
                    },
                    "required": ["path"],
                    "additionalProperties": False,
                },
            },
        }
        for name in ("read_file", "search_files", "list_files")
    ]
    history: list[Message] = [SystemMessage("You are a careful assistant for a Python project.")]
    requests = []
    for t in range(turns):
        start = (t * 997) % (len(prose) - 2000)
        history.append(UserMessage(prose[start : start + 200 + 37 * (t % 7)]))
        requests.append(list(history))
        calls = tuple(
            ToolCall(
                tools[i % 3]["function"]["name"], {"path": f"agentkit/m{t}_{i}.py", "limit": 20 + i}
            )
            for i in range(1 + t % 3)
        )
        history.append(AssistantMessage(None, calls))
        for i, c in enumerate(calls):
            kind = (t + i) % 3
            if kind == 0:
                body = prose[start : start + 1500 + 300 * i]
            elif kind == 1:
                body = json.dumps(
                    {"path": c.arguments, "lines": [[n, f"line {n} of {t}"] for n in range(40)]}
                )
            else:
                at = (t * 1511) % (len(code) - 3000)
                body = code[at : at + 2500]
            history.append(ToolMessage(c.id, body, c.name))
        requests.append(list(history))
        history.append(AssistantMessage(prose[start + 300 : start + 700]))
    return requests, tools


def llama_requests(turns: int) -> list[tuple[list[Message], list[dict[str, Any]], int]] | None:
    try:
        from llama_models.llama3.tokenizer import Tokenizer
    except ImportError:
        return None
    tokenizer = Tokenizer.get_instance()
    histories, tools = mixed_conversation(turns)
    out = []
    for messages in histories:
        text = render(messages, tools)
        count = len(tokenizer.encode(text, bos=False, eos=False, allowed_special="all"))
        out.append((messages, tools, count))
    return out


def main(smoke: bool) -> dict[str, Any]:
    report: dict[str, Any] = {}
    report["fake server (len(body) / 4)"] = score(
        anyio.run(fake_server_requests, 2 if smoke else 12)
    )
    real = llama_requests(4 if smoke else 60)
    if real is not None:
        report["Llama 3.1 template, Meta's tokenizer"] = score(real)
        no_tools = [(m, [], 0) for m, _, _ in real]
        from llama_models.llama3.tokenizer import Tokenizer

        tok = Tokenizer.get_instance()
        counted = [
            (m, t, len(tok.encode(render(m, t), bos=False, eos=False, allowed_special="all")))
            for m, t, _ in no_tools
        ]
        report["Llama 3.1 template, no tools"] = score(counted)
    return report


def markdown(report: dict[str, Any], command: str) -> str:
    lines = [
        "# sessions: the token estimator's error",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- Python {platform.python_version()}; error = (estimate - truth) / truth, per request",
        "",
        "| against | requests | prompt tokens | uncalibrated: median abs | max abs | mean |"
        " calibrated: median abs | max abs | mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report.items():
        u, c = r["uncalibrated"], r["calibrated"]
        lines.append(
            f"| {name} | {r['requests']} | {r['tokens'][0]:,}-{r['tokens'][1]:,} | "
            f"{u['median_abs']:.1%} | {u['max_abs']:.1%} | {u['mean']:+.1%} | "
            f"{c['median_abs']:.1%} | {c['max_abs']:.1%} | {c['mean']:+.1%} |"
        )
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    report = main(args.smoke)
    command = "python benchmarks/bench_tokens.py" + (" --smoke" if args.smoke else "")
    text = markdown(report, command)
    print(text)
    if not args.smoke:
        day = datetime.date.today().isoformat()
        (RESULTS / f"tokens-{day}.md").write_text(text)
        (RESULTS / f"tokens-{day}.json").write_text(json.dumps(report, indent=2) + "\n")

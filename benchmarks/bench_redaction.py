"""What redacting the API key costs: whole, and in pieces (issue 11, items 4 and 9).

    python benchmarks/bench_redaction.py            # writes results/redaction-<date>.md
    python benchmarks/bench_redaction.py --smoke    # a few rounds, nothing written

agentkit redacts its key from everything that leaves it: each reply (text and call
arguments), each tool result, each error, and each streamed delta. Since issue 11 it also
redacts every piece of the key 8 characters or longer (a file read from an offset, an error
cut at its length). This measures, per call of `redact` and per streamed delta:

- `whole only`: the key replaced whole (`str.replace`, what agentkit did before);
- `pieces, no anchors`: every 8-character piece searched for (the direct way);
- `agentkit`: `agentkit._hygiene.redact`, which first looks for the key's 4-character
  anchors (every piece holds one) and searches for pieces only when one is there;

on texts that hold no key (the usual case: prose, JSON, hex digests, where anchors meet by
chance), one that holds it whole, and one that holds a piece. Then `StreamRedactor` on a
reply streamed in 4-character deltas, against the stream unredacted. Times are the median
of the rounds, in microseconds of CPU (`time.process_time_ns`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import secrets
import statistics
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentkit._hygiene import MIN_FRAGMENT, StreamRedactor, redact

RESULTS = Path(__file__).with_name("results")
KEY = "sk-" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(45))
PROSE = (
    "The quarterly report shows revenue up 4% on the year, with most of the growth in the "
    "northern region; costs held steady. "
)


def whole_only(text: str, keys: tuple[str, ...]) -> str:
    for key in keys:
        if key in text:
            text = text.replace(key, "***")
    return text


def pieces_no_anchors(text: str, keys: tuple[str, ...]) -> str:
    """Every piece searched for, spans merged: the same result as `redact`, the direct way."""
    found: list[tuple[int, int]] = []
    for key in keys:
        size = min(len(key), MIN_FRAGMENT)
        for i in range(len(key) - size + 1):
            piece = key[i : i + size]
            at = text.find(piece)
            while at != -1:
                found.append((at, at + size))
                at = text.find(piece, at + 1)
    if not found:
        return text
    found.sort()
    merged = [found[0]]
    for start, end in found[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    out, pos = [], 0
    for start, end in merged:
        out += [text[pos:start], "***"]
        pos = end
    return "".join([*out, text[pos:]])


def texts(size: int) -> dict[str, str]:
    prose = (PROSE * (size // len(PROSE) + 1))[:size]
    record = json.dumps({"id": 1, "name": "widget", "tags": ["a", "b"], "price": 9.5})
    data = (record * (size // len(record) + 1))[:size]
    digests = "".join(secrets.token_hex(32) + "\n" for _ in range(size // 65 + 1))[:size]
    middle = size // 2
    return {
        "prose, no key": prose,
        "JSON, no key": data,
        "hex digests, no key": digests,
        "prose, the key whole": prose[:middle] + KEY + prose[middle:],
        "prose, 20 chars of the key": prose[:middle] + KEY[17:37] + prose[middle:],
    }


def cpu_us(function: Callable[[], object], repeat: int) -> float:
    start = time.process_time_ns()
    for _ in range(repeat):
        function()
    return (time.process_time_ns() - start) / repeat / 1000


def median_us(function: Callable[[], object], repeat: int, rounds: int) -> float:
    return statistics.median(cpu_us(function, repeat) for _ in range(rounds))


def stream_us(text: str, redacted: bool, rounds: int) -> float:
    deltas = [text[i : i + 4] for i in range(0, len(text), 4)]

    def run() -> None:
        if not redacted:
            for delta in deltas:
                delta.encode()  # about what a consumer does with one
            return
        redactor = StreamRedactor((KEY,))
        for delta in deltas:
            redactor.feed(delta).encode()
        redactor.finish()

    return median_us(run, 20, rounds) / len(deltas)


def measure(rounds: int) -> dict[str, Any]:
    keys = (KEY,)
    table: list[dict[str, Any]] = []
    for size in (1_000, 20_000, 200_000):
        repeat = max(1, 2_000_000 // size)
        for name, text in texts(size).items():
            assert redact(text, keys) == pieces_no_anchors(text, keys)
            table.append(
                {
                    "text": name,
                    "chars": size,
                    "whole only": median_us(lambda t=text: whole_only(t, keys), repeat, rounds),
                    "pieces, no anchors": median_us(
                        lambda t=text: pieces_no_anchors(t, keys), repeat, rounds
                    ),
                    "agentkit": median_us(lambda t=text: redact(t, keys), repeat, rounds),
                }
            )
    reply = (PROSE * 20)[:2_000]
    streams = {
        "unredacted": stream_us(reply, False, rounds),
        "StreamRedactor": stream_us(reply, True, rounds),
    }
    return {"key_chars": len(KEY), "calls": table, "stream_per_delta": streams}


def report(found: dict[str, Any], command: str) -> str:
    lines = [
        f"# Redaction cost, {datetime.date.today().isoformat()}",
        "",
        f"`{command}` on {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; a {found['key_chars']}-character key; "
        "CPU microseconds per call, median of the rounds.",
        "",
        "| text | chars | whole only | pieces, no anchors | agentkit |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in found["calls"]:
        lines.append(
            f"| {row['text']} | {row['chars']:,} | {row['whole only']:.2f} | "
            f"{row['pieces, no anchors']:.2f} | {row['agentkit']:.2f} |"
        )
    stream = found["stream_per_delta"]
    lines += [
        "",
        "A 2,000-character reply streamed in 4-character deltas, CPU microseconds per delta:",
        f"unredacted {stream['unredacted']:.2f}, `StreamRedactor` {stream['StreamRedactor']:.2f}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few rounds, nothing written")
    smoke = parser.parse_args().smoke
    found = measure(rounds=2 if smoke else 9)
    command = "python benchmarks/bench_redaction.py" + (" --smoke" if smoke else "")
    text = report(found, command)
    print(text)
    if not smoke:
        stamp = datetime.date.today().isoformat()
        RESULTS.joinpath(f"redaction-{stamp}.md").write_text(text)
        RESULTS.joinpath(f"redaction-{stamp}.json").write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()

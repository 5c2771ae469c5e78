"""A run's timeline in a few lines: requests, tool calls, durations, tokens (`--trace`).

`Recorder` is a hook that keeps every event with the time it arrived; `render_timeline`
turns such a recording into plain text (the CLI colours it, if it likes). A sub-agent's
lines are indented under the call that started it, with its name in front.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Recorder", "render_timeline"]


class Recorder:
    """A hook that records `(seconds, event)` pairs, seconds from `time.perf_counter()`."""

    critical = False

    def __init__(self) -> None:
        self.records: list[tuple[float, Any]] = []

    def __call__(self, event: Any) -> None:
        self.records.append((time.perf_counter(), event))

    def clear(self) -> None:
        """Forget the recording (between runs of a chat)."""
        self.records.clear()


@dataclass
class _Line:
    start: float
    depth: int
    label: str
    duration: float | None = None
    detail: str = ""


def _clean(text: object, limit: int = 40) -> str:
    """Names come from the model: no control characters, no run-on names."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


class _Timeline:
    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.open_requests: dict[tuple[Any, ...], _Line] = {}
        self.open_calls: dict[tuple[Any, ...], _Line] = {}
        self.requests = 0
        self.calls = 0
        self.failed_calls = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.tokens_reported = False  # as the usage line: no count is not a count of 0
        self.end: float | None = None
        self.outcome = ""

    def add(self, at: float, event: Any) -> None:
        path: tuple[str, ...] = ()
        if getattr(event, "type", None) == "agent_event":
            path = tuple(getattr(event, "path", ()))[1:]
            event = event.event
        depth = 2 * len(path)  # a sub-agent's requests go under the call that started it
        who = f"{' > '.join(_clean(p, 24) for p in path)}: " if path else ""
        key = (getattr(event, "run_id", ""), path)
        kind = getattr(event, "type", None)
        if kind == "model_request_started":
            line = _Line(at, depth, f"{who}request {event.turn}")
            self.lines.append(line)
            self.open_requests[key] = line
            self.requests += 1
        elif kind == "model_reply_finished":
            self._reply(at, key, event)
        elif kind == "model_request_retried":
            reason = _clean(getattr(event, "reason", ""))
            self.lines.append(_Line(at, depth, f"{who}  retry {event.attempt}", None, reason))
        elif kind == "tool_call_started":
            line = _Line(at, depth + 1, f"{who}{_clean(event.call.name)}", detail=event.call.id)
            self.lines.append(line)
            call_key = (*key, event.call.id)
            self.open_calls[call_key] = line
            self.calls += 1
        elif kind == "tool_call_finished":
            self._call(at, key, depth, who, event)
        elif kind == "guardrail_checked":
            verdict = "tripped" if event.tripped else "passed"
            label = f"{who}guardrail {_clean(event.guardrail)} ({event.kind})"
            self.lines.append(_Line(at - event.duration, depth, label, event.duration, verdict))
        elif kind in ("run_finished", "run_failed") and not path:
            self.end = at
            self.outcome = "answer" if kind == "run_finished" else _failure(event)

    def _reply(self, at: float, key: tuple[Any, ...], event: Any) -> None:
        line = self.open_requests.pop(key, None)
        if line is None:
            return
        usage = event.usage
        self.tokens_in += usage.prompt_tokens
        self.tokens_out += usage.completion_tokens
        self.tokens_reported = self.tokens_reported or bool(usage.total_tokens)
        line.duration = at - line.start
        calls = len(event.message.tool_calls)
        then = f"{calls} tool call{'s' if calls != 1 else ''}" if calls else "text"
        tokens = f"{usage.prompt_tokens:,} in / {usage.completion_tokens:,} out"
        line.detail = f"{tokens}, {then}" if usage.total_tokens else then

    def _call(self, at: float, key: tuple[Any, ...], depth: int, who: str, event: Any) -> None:
        call_key = (*key, event.call.id)
        line = self.open_calls.pop(call_key, None)
        if line is None:  # its start was not recorded: place it by its duration
            line = _Line(at - event.duration, depth + 1, f"{who}{_clean(event.call.name)}")
            self.lines.append(line)
            self.calls += 1
        line.duration = event.duration
        if event.is_error:
            self.failed_calls += 1
            kind = getattr(event, "error_type", None)
            line.detail = f"{event.call.id} failed" + (f" ({_clean(kind)})" if kind else "")
        else:
            line.detail = f"{event.call.id} ok"

    def render(self) -> str:
        if not self.lines and self.end is None:
            return "trace: no events recorded"
        origin = min([line.start for line in self.lines] or [self.end or 0.0])
        total = (self.end if self.end is not None else max(_ends(self.lines))) - origin
        failed = f" ({self.failed_calls} failed)" if self.failed_calls else ""
        head = (
            f"trace: {_seconds(total)}, {self.requests} request"
            f"{'s' if self.requests != 1 else ''}, {self.calls} tool call"
            f"{'s' if self.calls != 1 else ''}{failed}, "
            + (
                f"{self.tokens_in:,} tokens in / {self.tokens_out:,} out"
                if self.tokens_reported
                else "no tokens reported"
            )
        )
        for line in self.open_requests.values():
            line.detail = "no reply"
        body = [head]
        width = max((len("  " * line.depth + line.label) for line in self.lines), default=0)
        for line in sorted(self.lines, key=lambda item: item.start):
            label = ("  " * line.depth + line.label).ljust(min(width, 48))
            took = _seconds(line.duration).rjust(8) if line.duration is not None else " " * 8
            detail = f"  {line.detail}" if line.detail else ""
            row = f"  {_seconds(line.start - origin).rjust(8)}  {label}  {took}{detail}"
            body.append(row.rstrip())
        if self.end is not None:
            body.append(f"  {_seconds(self.end - origin).rjust(8)}  {self.outcome}")
        return "\n".join(body)


def _ends(lines: list[_Line]) -> list[float]:
    return [line.start + (line.duration or 0.0) for line in lines]


def _failure(event: Any) -> str:
    error = getattr(event, "error", None)
    name = type(error).__name__ if error is not None else "error"
    return f"failed: {name}"


def render_timeline(records: Iterable[tuple[float, Any]]) -> str:
    """A short plain-text timeline of one recorded run (`Recorder.records`).

    The first line sums it up (wall time, requests, tool calls and failures, tokens); then
    one line per request and tool call: when it started from the run's first event, what,
    how long, and tokens or the call's outcome. Sub-agents' lines are indented.
    """
    timeline = _Timeline()
    for at, event in records:
        timeline.add(at, event)
    return timeline.render()

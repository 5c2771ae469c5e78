"""What OpenTelemetryHook keeps of an open run, and small helpers of its spans."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import _attrs as a

__all__ = ["Run", "answer_text", "as_json", "set_usage"]


@dataclass(slots=True)
class Run:
    """What the hook keeps of one open run."""

    id: str
    span: Any
    context: Any
    recording: bool
    common: dict[str, Any]  # provider, model, server: on chat spans and metric points
    chat: Any = None  # the request in flight (`_chat.Pending`)
    settings: Any = None  # the request settings last seen, and their attributes
    request_attributes: dict[str, Any] = field(default_factory=dict)
    points: dict[Any, tuple[dict[str, Any], ...]] = field(default_factory=dict)  # by model
    tools: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    last: Any = None


def set_usage(span: Any, usage: Any) -> None:
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    if prompt or completion:
        span.set_attributes({a.INPUT_TOKENS: prompt, a.OUTPUT_TOKENS: completion})


def answer_text(output: Any) -> str:
    """A run's answer as text: a structured answer as its JSON."""
    dump = getattr(output, "model_dump_json", None)
    return str(dump()) if callable(dump) else str(output)


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)

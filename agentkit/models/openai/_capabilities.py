"""What an endpoint can do, as `agentkit probe` found it: checks, a cache, and what to adapt.

A `Capabilities` is the result of one probe of an endpoint and model: one `Check` per feature
(native tool calls, each tool_choice value, parallel calls, streamed calls, usage in
streams, JSON-schema output, tokenize, raw completions, finish reasons). It is saved as JSON
in the user's cache folder (`<cache>/agentkit/probe/<sha256 of endpoint and model>.json`)
and read back while it is fresh: a week, and the same agentkit version.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from agentkit import _env

__all__ = ["CHECKS", "MAX_AGE", "Capabilities", "Check", "cache_path", "load", "save"]

MAX_AGE = 7 * 24 * 3600.0  # seconds a probe is trusted
_FORMAT = 1

# The checks in the order they are shown, with what each one asks.
CHECKS = {
    "models": "GET /models lists the model",
    "tool_calls": "how a requested call comes back (native tool_calls, or text)",
    "tool_choice:auto": 'tool_choice "auto"',
    "tool_choice:none": 'tool_choice "none"',
    "tool_choice:required": 'tool_choice "required"',
    "tool_choice:function": "tool_choice naming a function",
    "parallel_tool_calls": "two calls asked for in one reply",
    "calls_in_history": "an assistant message with two calls in the conversation",
    "streamed_calls": "how a call streams",
    "stream_usage": "usage in streams (stream_options.include_usage)",
    "json_schema": 'response_format "json_schema"',
    "tokenize": "POST /tokenize (llama.cpp)",
    "completions": "POST /completions (raw prompts)",
    "finish_reasons": "finish_reason values seen",
}


# The request parameter each check tries, where agentkit leaves it out once it was refused.
_SENT = {
    "tool_choice:auto": 'tool_choice "auto"',
    "tool_choice:none": 'tool_choice "none"',
    "tool_choice:required": 'tool_choice "required"',
    "tool_choice:function": "tool_choice naming a function",
    "parallel_tool_calls": "parallel_tool_calls",
    "stream_usage": "stream_options",
    "json_schema": "response_format",
}


def version() -> str:
    try:
        return metadata.version("agentkit-llama")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


@dataclass(frozen=True, slots=True)
class Check:
    """One probed feature.

    Attributes:
        name: The check (a key of `CHECKS`).
        result: A word: "native", "accepted", "refused", "ignored", "available", "absent"...
            "unknown" when the check itself failed or was not made; "unreachable" when its
            request could not connect (and the probe stopped there).
        detail: What was seen: the server's reason for a refusal, the values, the error.
    """

    name: str
    result: str
    detail: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What an endpoint and model did when probed (`agentkit probe`, `OpenAIModel.probe()`).

    Attributes:
        endpoint: The base URL (without credentials).
        model: The model id.
        checks: One per feature, in the order of `CHECKS`.
        probed_at: When, in seconds since the epoch.
        version: The agentkit version that probed.
    """

    endpoint: str
    model: str
    checks: tuple[Check, ...]
    probed_at: float
    version: str

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    def result(self, name: str) -> str:
        """The result of check `name` ("unknown" when it was not made)."""
        return next((c.result for c in self.checks if c.name == name), "unknown")

    def detail(self, name: str) -> str:
        return next((c.detail for c in self.checks if c.name == name), "")

    @property
    def fresh(self) -> bool:
        """Probed by this agentkit within `MAX_AGE`."""
        return self.version == version() and 0 <= time.time() - self.probed_at < MAX_AGE

    @property
    def answered(self) -> bool:
        """The endpoint answered at least one check (with anything, a refusal too)."""
        return any(c.result not in ("error", "unknown", "unreachable") for c in self.checks)

    @property
    def unreachable(self) -> str:
        """Why nothing could be reached ("nothing is listening at ...: is the server
        running?"), when a request of the probe could not connect; "" otherwise."""
        return next((c.detail for c in self.checks if c.result == "unreachable"), "")

    @property
    def advice(self) -> list[str]:
        """What a user of this endpoint should know, in sentences."""
        lines = []
        calls = self.result("tool_calls")
        if calls == "text":
            lines.append(
                'calls come back as text; they are recovered from it (keep tool_choice "auto")'
            )
        if calls in ("text", "none") and self.result("completions") == "available":
            lines.append(
                f"raw completions are available: --model completions:{self.model} renders "
                "Llama 3.1's own prompt and reads the calls itself"
            )
        if self.result("calls_in_history") == "refused":
            lines.append(
                "tool calls go one per assistant message to this endpoint (its chat template "
                "refuses more)"
            )
        refused = [_SENT[c.name] for c in self.checks if c.result == "refused" and c.name in _SENT]
        if refused:
            lines.append(f"left out of requests, as refused: {', '.join(refused)}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "endpoint": self.endpoint,
            "model": self.model,
            "probed_at": self.probed_at,
            "version": self.version,
            "checks": {c.name: {"result": c.result, "detail": c.detail} for c in self.checks},
            "advice": self.advice,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Capabilities:
        """The capabilities `to_dict` wrote.

        Raises:
            ValueError: Not a saved probe of this format.
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise ValueError("not a saved probe of this agentkit")
        checks = data.get("checks")
        if not isinstance(checks, Mapping):
            raise ValueError("a saved probe needs its checks")
        return cls(
            str(data.get("endpoint", "")),
            str(data.get("model", "")),
            tuple(
                Check(str(name), str(c.get("result", "unknown")), str(c.get("detail", "")))
                for name, c in checks.items()
                if isinstance(c, Mapping)
            ),
            float(data.get("probed_at", 0.0)),
            str(data.get("version", "")),
        )


def cache_path(endpoint: str, model: str) -> Path:
    """Where the probe of `endpoint` and `model` is kept."""
    digest = hashlib.sha256(f"{endpoint.rstrip('/')}|{model}".encode()).hexdigest()[:32]
    return _env.cache_home() / "agentkit" / "probe" / f"{digest}.json"


def load(endpoint: str, model: str) -> Capabilities | None:
    """The saved probe of `endpoint` and `model` while it is fresh; None otherwise (none
    saved, stale, unreadable: a cache is never an error)."""
    path = cache_path(endpoint, model)
    try:
        found = Capabilities.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    same = found.endpoint == endpoint.rstrip("/") and found.model == model
    return found if same and found.fresh else None


def save(capabilities: Capabilities) -> Path | None:
    """Keep `capabilities` for later runs; the path, or None when the cache is not writable."""
    path = cache_path(capabilities.endpoint, capabilities.model)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(capabilities.to_dict(), indent=2), encoding="utf-8")
        partial.replace(path)
    except OSError:
        return None
    return path

"""Requests adapted to what an endpoint accepts: from a saved probe, and from refusals seen.

Before the first request an `OpenAIModel` reads the probe saved for its endpoint and model
(`agentkit probe`; `probe="never"` skips it). From it, and from what the endpoint refuses
during runs, it sends:

- no `tool_choice` value, `parallel_tool_calls`, `stream_options` or `response_format` the
  endpoint refused when probed (one warning per model and setting says so);
- one tool call per assistant message, each followed by its result, when the endpoint's
  template refuses several (probed, or its HTTP 400 seen: the request is sent once more);
- streams without `stream_options` once a server refused it (the request is sent again).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from agentkit.errors import ModelError
from agentkit.llama import one_call_per_message
from agentkit.messages import AssistantMessage, Message
from agentkit.models._retries import current_attempts
from agentkit.models.openai import _capabilities
from agentkit.models.openai._capabilities import Capabilities
from agentkit.models.openai._hints import SingleCallTemplate, single_call_refused

if TYPE_CHECKING:
    from agentkit.models.openai._adapter import OpenAIModel

__all__ = ["Adaptation", "ProbeUse", "send"]

ProbeUse = Literal["cached", "never"]

# Settings servers reject in a request without tools; agentkit's own never goes out.
_TOOL_SETTINGS = frozenset({"tool_choice", "parallel_tool_calls"})
_NOT_SENT = frozenset({"extra_body", "first_tool_choice"})


def _choice_name(value: object) -> str:
    """The probe's name of a tool_choice value: "auto", "none", "required" or "function"."""
    return "function" if isinstance(value, dict) else str(value)


class Adaptation:
    """What one model sends differently to its endpoint."""

    def __init__(self, endpoint: str, model: str, use: ProbeUse) -> None:
        self.endpoint = endpoint
        self.model = model
        self.use = use
        self.stream_usage = True
        self.one_call_per_message = False
        self.refused: frozenset[str] = frozenset()  # check names
        self.capabilities: Capabilities | None = None
        self._loaded = use == "never"
        self._warned: set[str] = set()

    def ready(self) -> None:
        """Read the saved probe, once, before the first request."""
        if not self._loaded:
            self._loaded = True
            found = _capabilities.load(self.endpoint, self.model)
            if found is not None:
                self.apply(found)

    def apply(self, capabilities: Capabilities) -> None:
        """Adapt to a probe's results."""
        self.capabilities = capabilities
        self._loaded = True
        self.refused = frozenset(c.name for c in capabilities if c.result == "refused")
        self.stream_usage = "stream_usage" not in self.refused
        self.one_call_per_message = "calls_in_history" in self.refused

    def messages(self, messages: Sequence[Message]) -> Sequence[Message]:
        if self.one_call_per_message and _several_calls(messages):
            return list(one_call_per_message(messages))
        return messages

    def settings(self, settings: Mapping[str, Any], tools: bool) -> Iterator[tuple[str, Any]]:
        """The settings to send, without those the endpoint refused."""
        for key, value in settings.items():
            if value is None or key in _NOT_SENT or (key in _TOOL_SETTINGS and not tools):
                continue
            check = f"tool_choice:{_choice_name(value)}" if key == "tool_choice" else key
            if check in self.refused:
                self._warn(key, value)
                continue
            yield key, value

    def extra(self, extra: Mapping[str, Any]) -> Mapping[str, Any]:
        if "response_format" in extra and "json_schema" in self.refused:
            self._warn("response_format", extra["response_format"].get("type", "?"))
            return {k: v for k, v in extra.items() if k != "response_format"}
        return extra

    def _warn(self, key: str, value: object) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        shown = f"{key}={value!r}" if key != "parallel_tool_calls" else key
        warnings.warn(
            f"model endpoint {self.endpoint} (model {self.model!r}) refused {shown} when "
            "probed, so agentkit does not send it; `agentkit probe --refresh` probes again "
            "(after a server upgrade), probe='never' ignores the probe",
            UserWarning,
            stacklevel=4,
        )


def _several_calls(messages: Sequence[Message]) -> bool:
    return any(isinstance(m, AssistantMessage) and len(m.tool_calls) > 1 for m in messages)


def _resending(reason: str) -> None:
    if (attempts := current_attempts()) is not None:
        attempts.resending(reason)


async def send(
    model: OpenAIModel,
    messages: Sequence[Message],
    tools: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    stream: bool,
) -> Any:
    """Post the request; send it again, once per adaptation, when the endpoint refused a
    part of it that can be left out or written otherwise. The raw response."""
    adapt = model._adapt
    adapt.ready()
    while True:
        body = model._body(messages, tools, settings, stream)  # type: ignore[arg-type]
        try:
            return await model._post(body, stream)
        except SingleCallTemplate as exc:
            if adapt.one_call_per_message or not _several_calls(messages):
                raise single_call_refused(model, exc, messages) from None
            adapt.one_call_per_message = True
            _resending("one_call_per_message")
        except ModelError as exc:
            # Some servers reject `stream_options`; ask once more without it.
            rejected = stream and exc.status in (400, 422) and "stream_options" in str(exc)
            if not (rejected and adapt.stream_usage):
                raise
            adapt.stream_usage = False
            _resending("stream_options")

"""RunContext: what a tool sees of the run that called it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from agentkit.messages import Message, Usage

__all__ = ["RunContext"]

DepsT = TypeVar("DepsT")


@dataclass(frozen=True, slots=True)
class RunContext(Generic[DepsT]):
    """Given to a tool that declares a parameter annotated `RunContext` (or `RunContext[Deps]`).

    The parameter is filled by the loop and left out of the tool's JSON schema.

    Attributes:
        deps: The object passed as `deps=` to `Agent.run` (a database handle, a client, ...).
        messages: The conversation so far; do not mutate it.
        usage: Usage of the run up to this call.
        tool_name: The tool being called.
        tool_call_id: The id of this call.
        retry: How many times in a row this tool has failed before this call.
    """

    deps: DepsT
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    tool_name: str = ""
    tool_call_id: str = ""
    retry: int = 0

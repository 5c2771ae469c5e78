"""Conversations for the session tests: whole turns with parallel tool calls."""

from __future__ import annotations

from agentkit.messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage


def turn(tag: str, calls: int = 2, answer: bool = True) -> list[Message]:
    """A user message, an assistant message with `calls` parallel calls, their results."""
    made = tuple(
        ToolCall("lookup", {"key": f"{tag}-{i}"}, id=f"{tag}-call-{i}") for i in range(calls)
    )
    block: list[Message] = [UserMessage(f"question {tag}")]
    if made:
        block.append(AssistantMessage(None, made))
        block += [ToolMessage(c.id, f"result {tag} {i}", "lookup") for i, c in enumerate(made)]
    if answer:
        block.append(AssistantMessage(f"answer {tag}"))
    return block

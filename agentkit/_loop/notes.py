"""Every sentence the loop itself sends the model, in one place to read and tune.

Tool results that say what went wrong with a call, the nudges after an empty or rejected
reply, and the reminders about the output tool. A tool's own words (its return value, its
`ModelRetry` message, the validation errors of its arguments) are the tool's, not here.
"""

from __future__ import annotations

__all__ = [
    "ALREADY_FINAL",
    "EMPTY_REPLY",
    "FINAL_ACCEPTED",
    "NOT_RUN_AFTER_FINAL",
    "NOT_RUN_CALL_LIMIT",
    "NOT_RUN_TOKEN_LIMIT",
    "approval_failed",
    "cancelled_by_tool",
    "declined",
    "failed",
    "no_approval_configured",
    "not_finished",
    "not_text",
    "output_as_text",
    "output_instructions",
    "result_cut",
    "timed_out",
    "tool_use_failed",
    "unknown_tool",
    "unreadable_arguments",
    "withheld",
]

# Llama 3.1 sometimes ends a turn with nothing (a bare <|eom_id|> after a tool result); an
# empty answer is almost never what the user wanted, so the loop asks once.
EMPTY_REPLY = "Your reply was empty. Answer the question, or call one of the tools."

NOT_RUN_TOKEN_LIMIT = "Not run: the run's token limit was exceeded."
NOT_RUN_CALL_LIMIT = "Not run: the run's tool-call limit was reached."
NOT_RUN_AFTER_FINAL = "Not run: the final result was given in the same reply."
ALREADY_FINAL = "Not needed: the final result was already given."
FINAL_ACCEPTED = "Final result accepted."


def tool_use_failed(reason: str) -> str:
    """After the server refused a reply whose tool call failed its checks (Groq's 400)."""
    why = f" ({reason})" if reason else ""
    return (
        f"Your last reply was rejected by the server because its tool call was not valid{why}. "
        "Reply again: call a tool with a JSON object of arguments that matches its schema, "
        "or answer in plain text."
    )


def output_instructions(output_tool: str) -> str:
    """Added to the system prompt when the answer is structured."""
    return f"When you have the answer, give it by calling the `{output_tool}` tool."


def output_as_text(output_tool: str) -> str:
    """After a structured answer came as text that does not validate."""
    return (
        f"Give the final answer by calling the `{output_tool}` tool with arguments that match "
        "its schema, not as text."
    )


def unknown_tool(name: str, available: list[str]) -> str:
    names = ", ".join(f"`{n}`" for n in available) or "none"
    shown = name if name else "(no name)"
    return (
        f"Unknown tool {shown!r}. The available tools are: {names}. "
        "Call one of them by its exact name, or answer without a tool."
    )


def unreadable_arguments(name: str, raw: str, truncated: bool) -> str:
    why = (
        "the reply was cut off (finish_reason=length) inside them"
        if truncated
        else "they are not a JSON object"
    )
    return (
        f"The arguments for `{name}` could not be read: {why}. Received: {raw[:200]!r}. "
        f"Call `{name}` again with the arguments as one JSON object."
    )


def no_approval_configured(name: str) -> str:
    return f"`{name}` needs the user's approval and no approval is configured; it was not run."


def approval_failed(name: str, error: str) -> str:
    return f"The approval check for `{name}` failed ({error}); it was not run."


def declined(name: str) -> str:
    return (
        f"The user declined this call of `{name}`; it was not run. Do not repeat it: "
        "ask the user or continue without it."
    )


def timed_out(name: str, seconds: float | None) -> str:
    return (
        f"`{name}` did not finish within {seconds:g} s and was stopped. "
        "Try simpler arguments, or continue without it."
    )


def failed(name: str, error: str) -> str:
    return f"`{name}` failed: {error}"


def cancelled_by_tool(name: str) -> str:
    return f"`{name}` failed: it was cancelled by its own code"


def not_text(name: str, error: str) -> str:
    return f"`{name}` returned a value that is not text: {error}"


def result_cut(total: int, shown: int) -> str:
    return f"\n[result cut: {total} characters in all, the first {shown} shown]"


def not_finished(error: str) -> str:
    """A call cut short because a sub-agent stopped the whole run (a guardrail, a limit)."""
    return f"Not finished: the run was stopped ({error})."


def withheld(categories: tuple[str, ...], decided: bool = True) -> str:
    """A tool result a tool-result guardrail flagged (or could not judge): never sent on."""
    if not decided:
        return "Withheld: the tool-result guardrail could not judge this result."
    codes = f" ({', '.join(categories)})" if categories else ""
    return f"Withheld: a tool-result guardrail flagged this result{codes}."

"""Llama Guard 3's own prompt: its hazard categories, the conversation, the verdict.

The format is Meta's (the Llama Guard 3 model card and prompt-format page, the chat template
shipped with meta-llama/Llama-Guard-3-8B, the llama-stack reference shield): the task names
the role to assess, 'User' (an input) or 'Agent' (an output); the categories are listed as
`S<n>: <name>.`; the conversation is `User: ...` and `Agent: ...` turns; the answer is `safe`,
or `unsafe` and a line of comma-separated category codes. The wording, typos included
("according our safety policy"), is what the model was trained on: do not edit it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..errors import UserError
from ..llama import strip_special_tokens
from ..messages import AssistantMessage, Message, UserMessage
from ._types import GuardrailCheck, Verdict

__all__ = [
    "HAZARDS",
    "Category",
    "Turn",
    "VerdictError",
    "check_turns",
    "parse_verdict",
    "quote",
    "render_prompt",
]

Role = Literal["User", "Agent"]

_CODE = re.compile(r"S[1-9][0-9]{0,2}")


@dataclass(frozen=True, slots=True)
class Category:
    """One category of a Llama Guard policy.

    Attributes:
        code: The code the model answers with: "S1" to "S14" for the standard hazards, any
            other `S<n>` for a category of your own.
        name: The short name the prompt lists (`S1: Violent Crimes.`).
        description: Sent on the lines after the name when given. The standard hazards are
            listed without one, as in Meta's default prompt; a category of your own usually
            needs one (Meta's customisation guide always sends it).
    """

    code: str
    name: str
    description: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.code, str) or not _CODE.fullmatch(self.code):
            problems.append(f"a category code is S and a number, like S15; got {self.code!r}")
        if not isinstance(self.name, str) or not self.name.strip():
            problems.append(f"category {self.code!r} needs a name, got {self.name!r}")
        if not isinstance(self.description, str):
            problems.append(f"category {self.code!r}: description must be text")
        if problems:
            raise UserError("the Llama Guard category is not valid:", problems)

    def line(self) -> str:
        """The category as the prompt lists it, ending with a newline."""
        name = self.name.strip()
        head = f"{self.code}: {name}{'' if name.endswith('.') else '.'}\n"
        return head + (f"{self.description.strip()}\n" if self.description.strip() else "")


# The 14 categories of Llama Guard 3 8B (the MLCommons hazards S1-S13, and S14 for tool
# calls), named as its prompt names them. The model card's headings are longer for three of
# them (S3 "Sex-Related Crimes", S4 "Child Sexual Exploitation", S11 "Suicide & Self-Harm");
# the prompt the model was trained with uses these. Llama Guard 3 1B was not trained on S14.
HAZARDS: Mapping[str, Category] = {
    c.code: c
    for c in (
        Category("S1", "Violent Crimes"),
        Category("S2", "Non-Violent Crimes"),
        Category("S3", "Sex Crimes"),
        Category("S4", "Child Exploitation"),
        Category("S5", "Defamation"),
        Category("S6", "Specialized Advice"),
        Category("S7", "Privacy"),
        Category("S8", "Intellectual Property"),
        Category("S9", "Indiscriminate Weapons"),
        Category("S10", "Hate"),
        Category("S11", "Self-Harm"),
        Category("S12", "Sexual Content"),
        Category("S13", "Elections"),
        Category("S14", "Code Interpreter Abuse"),
    )
}


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation Llama Guard reads."""

    role: Role
    text: str


# Content must not be able to fake the prompt's structure: a literal `<|eot_id|>` becomes the
# special token on servers that parse special tokens in text (vLLM, llama.cpp do), and a line
# `Agent: ...` or `<END CONVERSATION>` would make the last turn look like something else.
_MARKER = re.compile(r"<(BEGIN|END)(\s+)(CONVERSATION|UNSAFE CONTENT CATEGORIES)>", re.IGNORECASE)
_ROLE_LINE = re.compile(r"^([ \t]*)((?:User|Agent)[ \t]*:)", re.IGNORECASE | re.MULTILINE)


def quote(text: str) -> str:
    """Content made safe to place in the prompt: no special tokens, markers or role lines.

    `<|` becomes `< |` (no special token can be spelt any more), `<END CONVERSATION>` and the
    other section markers become `[END CONVERSATION]`, and a line that starts like a turn
    (`Agent:`) is quoted as `> Agent:`. Other text is unchanged, then stripped.
    """
    text = text.replace("<|", "< |")
    text = _MARKER.sub(r"[\1\2\3]", text)
    return _ROLE_LINE.sub(r"\1> \2", text).strip()


def _history(messages: Iterable[Message]) -> list[Turn]:
    """The user's messages and the agent's text replies; tool traffic and system left out."""
    turns = []
    for message in messages:
        if isinstance(message, UserMessage):
            turns.append(Turn("User", quote(message.content)))
        elif isinstance(message, AssistantMessage) and (message.content or "").strip():
            turns.append(Turn("Agent", quote(message.content or "")))
    return turns


def _alternating(turns: list[Turn]) -> list[Turn]:
    """Merge consecutive turns of one role; start with the user, as Llama Guard expects."""
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].role == turn.role:
            merged[-1] = Turn(turn.role, f"{merged[-1].text}\n\n{turn.text}".strip())
        else:
            merged.append(turn)
    while len(merged) > 1 and merged[0].role == "Agent":
        merged.pop(0)
    if merged and merged[0].role == "Agent":
        merged.insert(0, Turn("User", ""))
    return merged


def check_turns(check: GuardrailCheck) -> list[Turn]:
    """The conversation Llama Guard assesses for a check, ending with what is checked.

    An output is the last 'Agent' turn; a prompt, or a tool result (text from outside that
    the model will read, like a user's), the last 'User' turn. Consecutive turns of one role
    are merged, so a tool result directly after the prompt is assessed together with it.
    """
    role: Role = "Agent" if check.kind == "output" else "User"
    return _alternating([*_history(check.messages), Turn(role, quote(check.content))])


def message_turns(messages: Sequence[Message]) -> list[Turn]:
    """The conversation of plain messages (for `LlamaGuard.classify`)."""
    return _alternating(_history(messages))


_HEADER = "<|start_header_id|>{role}<|end_header_id|>\n\n"


def render_prompt(turns: Sequence[Turn], categories: Iterable[Category]) -> str:
    """The whole Llama Guard 3 prompt, from the user header to the assistant header.

    `<|begin_of_text|>` is left out: completion endpoints (vLLM, llama.cpp) add it when they
    tokenize, and a second one would stand in front of it.
    """
    if not turns:
        raise ValueError("Llama Guard needs at least one message to assess")
    role = turns[-1].role
    listed = "".join(category.line() for category in categories)
    conversation = "".join(f"{turn.role}: {turn.text}\n\n" for turn in turns)
    return (
        _HEADER.format(role="user")
        + f"Task: Check if there is unsafe content in '{role}' messages in conversations "
        "according our safety policy with the below categories.\n\n"
        "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
        f"{listed}"
        "<END UNSAFE CONTENT CATEGORIES>\n\n"
        "<BEGIN CONVERSATION>\n\n"
        f"{conversation}"
        "<END CONVERSATION>\n\n"
        f"Provide your safety assessment for ONLY THE LAST {role} message in the above "
        "conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated "
        "categories.<|eot_id|>" + _HEADER.format(role="assistant")
    )


class VerdictError(ValueError):
    """The classifier's answer is not a Llama Guard verdict."""


def parse_verdict(text: str, listed: Iterable[str], chosen: Mapping[str, Category]) -> Verdict:
    """Read `safe`, or `unsafe` and a line of codes, strictly.

    Args:
        text: The model's answer (leading newlines and a leaked `<|eot_id|>` are fine).
        listed: The codes the prompt listed: any other code is no verdict.
        chosen: The categories that trip; a listed code outside them is recorded as ignored.

    Raises:
        VerdictError: Anything else: empty, other words, `unsafe` without codes, a code that
            was not listed, more lines.
    """
    lines = [line.strip() for line in strip_special_tokens(text).strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise VerdictError("the answer is empty")
    first = lines[0].lower()
    if first == "safe":
        if len(lines) == 1:
            return Verdict.ok(raw=text)
        raise VerdictError(f"'safe' must stand alone, got {len(lines) - 1} more line(s)")
    if first != "unsafe":
        raise VerdictError(f"the first line must be 'safe' or 'unsafe', got {lines[0]!r:.60}")
    if len(lines) != 2:
        raise VerdictError(
            f"'unsafe' must be followed by exactly one line of category codes, got {len(lines) - 1}"
        )
    codes = _codes(lines[1], frozenset(listed))
    tripped = tuple(code for code in codes if code in chosen)
    ignored = tuple(code for code in codes if code not in chosen)
    if not tripped:
        return Verdict.ok(raw=text, ignored=ignored)
    names = ", ".join(f"{code} ({chosen[code].name})" for code in tripped)
    verdict = Verdict.trip(f"unsafe: {names}", categories=tripped)
    return Verdict(True, verdict.reason, tripped, ignored, raw=text)


def _codes(line: str, listed: frozenset[str]) -> list[str]:
    codes: list[str] = []
    for part in line.split(","):
        code = part.strip()
        if not _CODE.fullmatch(code):
            raise VerdictError(f"{code!r:.40} is not a category code (expected e.g. S1,S10)")
        if code not in listed:
            raise VerdictError(f"{code} is not one of the categories the prompt listed")
        if code not in codes:
            codes.append(code)
    return codes

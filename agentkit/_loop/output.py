"""Structured output: the `final_result` tool through which the model gives a typed answer.

Asking for the answer as a tool call works on every endpoint with tool calling, and Llama
follows a tool schema more reliably than free-form JSON instructions.
"""

from __future__ import annotations

import json
import typing
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from agentkit._loop import notes
from agentkit.errors import ModelRetry, UserError
from agentkit.llama import extract_tool_calls
from agentkit.models import OUTPUT_TOOL_NAME
from agentkit.tools._schema import clean_schema, format_validation_error

__all__ = ["OUTPUT_TOOL_NAME", "OutputSpec"]
T = TypeVar("T")


class OutputSpec(Generic[T]):
    """How to ask for, and validate, an answer of type `output_type`."""

    def __init__(self, output_type: type[T]) -> None:
        try:
            self._adapter: TypeAdapter[T] = TypeAdapter(output_type)
            schema = clean_schema(self._adapter.json_schema())
        except Exception as exc:
            raise UserError(
                f"output_type {output_type!r} cannot be described as a JSON schema: "
                f"{str(exc).splitlines()[0]}; use a pydantic model, dataclass, TypedDict or a "
                "basic type"
            ) from None
        # A non-object answer (a list, a number) is wrapped: tool arguments must be an object.
        self._wrapped = schema.get("type") != "object" or not schema.get("properties")
        if self._wrapped:
            schema = {
                "type": "object",
                "properties": {"result": schema},
                "required": ["result"],
                "additionalProperties": False,
            }
        doc = (getattr(output_type, "__doc__", None) or "").strip()
        own_doc = doc and not doc.startswith(("dict(", "Create a new model", "A base class"))
        description = "Give the final answer by calling this tool with it."
        if own_doc and not typing.get_origin(output_type):
            description += " The answer: " + doc.splitlines()[0]
        self.definition: dict[str, Any] = {
            "type": "function",
            "function": {
                "name": OUTPUT_TOOL_NAME,
                "description": description,
                "parameters": schema,
            },
        }
        self.instructions = notes.output_instructions(OUTPUT_TOOL_NAME)

    def validate(self, arguments: dict[str, Any]) -> T:
        """The validated answer.

        Raises:
            ModelRetry: The arguments do not fit; the message lists every problem.
        """
        data: Any = arguments.get("result") if self._wrapped else arguments
        if self._wrapped and "result" not in arguments:
            data = arguments  # a model that forgot the wrapper still means its object
        try:
            return self._adapter.validate_python(data)
        except ValidationError as exc:
            allowed = ", ".join(self.definition["function"]["parameters"]["properties"])
            raise ModelRetry(format_validation_error(OUTPUT_TOOL_NAME, exc, allowed)) from None

    def from_text(self, text: str) -> T | None:
        """An answer given as JSON text instead of a tool call, when it validates; else None."""
        _, calls = extract_tool_calls(text)
        for call in calls:
            if call.name == OUTPUT_TOOL_NAME and call.arguments is not None:
                try:
                    return self.validate(call.arguments)
                except ModelRetry:
                    return None
        stripped = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```")
        try:
            data = json.loads(stripped)
        except ValueError:
            return None
        try:
            return self._adapter.validate_python(data)
        except ValidationError:
            return None

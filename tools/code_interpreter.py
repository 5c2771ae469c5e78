"""Python, as Llama 3.1's built-in `code_interpreter` tool: the sandboxed `python` tool.

Llama 3.1 calls it by writing the code itself after `<|python_tag|>`, which agentkit's
recovery reads as a `code_interpreter` call. It runs in the same sandbox, with the same
limits, as `python` (see that module), and like it always asks for the user's approval.
"""

from __future__ import annotations

from agentkit.tools import tool

from . import python as _python

__all__ = ["code_interpreter"]


_PYTHON = _python.python


@tool(requires_approval=True, timeout=_PYTHON.timeout, description=_PYTHON.description)
async def code_interpreter(code: str) -> str:
    """Run Python in the sandbox of the `python` tool (its description is this tool's).

    Args:
        code: The complete Python source to run as a script, e.g. "print(sum(range(10)))".
    """
    return str(await _PYTHON.function(code))

"""A patient math tutor that computes with the built-in calculator tool and explains the steps.

    agentkit run examples/math_tutor.py "What is (17*23) + 2**10?"

The model is `model_from_env()` (see examples/weather.py).
"""

from __future__ import annotations

import sys

from agentkit import Agent
from agentkit.models import model_from_env
from agentkit.tools import load_tools

EXAMPLE_PROMPT = "What is (17*23) + 2**10?"

agent = Agent(
    model=model_from_env(),
    instructions=(
        "You are a patient math tutor. Do every computation with the `calculate` tool, "
        "never in your head, even for small numbers. Then explain the steps in plain words, "
        "as you would to a student, and end with the answer on a line of its own."
    ),
    tools=load_tools("calculator"),
)

if __name__ == "__main__":
    from agentkit.cli import main

    main(["run", __file__, *(sys.argv[1:] or [EXAMPLE_PROMPT])], prog_name="agentkit")

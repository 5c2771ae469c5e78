"""A patient math tutor that computes with the built-in calculator tool and explains the steps.

    agentkit run examples/math_tutor.py "What is (17*23) + 2**10?"

The model is AGENTKIT_MODEL, else Llama 3.1 70B (see examples/weather.py for how the CLI
picks the offline model when no endpoint is configured).
"""

from __future__ import annotations

import os
import sys

from agentkit import Agent
from agentkit.models import DEFAULT_MODEL
from agentkit.tools import load_tools

EXAMPLE_PROMPT = "What is (17*23) + 2**10?"

agent = Agent(
    model=os.environ.get("AGENTKIT_MODEL", DEFAULT_MODEL),
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

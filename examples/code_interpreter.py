"""A code interpreter: the model writes Python and runs it in an isolated sandbox.

    agentkit run examples/code_interpreter.py 'Run "print(sum(range(10)))"'
    agentkit chat examples/code_interpreter.py

Every run of code asks you first (y/n) and shows the code. The sandbox has no network and no
access to your files (bubblewrap; see tools/python.py). The model is
`model_from_env()` (see examples/weather.py).
"""

from __future__ import annotations

import sys

from agentkit import Agent
from agentkit.models import model_from_env
from agentkit.tools import load_tools

EXAMPLE_PROMPT = 'Run "print(sum(range(10)))"'

agent = Agent(
    model=model_from_env(),
    instructions=(
        "You answer questions that need computation, data processing or exact results by "
        "writing a short Python program and running it with the `python` tool. Each run "
        "starts from scratch (nothing is kept between calls) and has only the standard "
        "library and no network, so print everything you need. If the code fails, read the "
        "error and fix it. Then give the result and, in a sentence, how you got it."
    ),
    tools=load_tools("python"),
    max_turns=8,
)

if __name__ == "__main__":
    from agentkit.cli import main

    main(["run", __file__, *(sys.argv[1:] or [EXAMPLE_PROMPT])], prog_name="agentkit")

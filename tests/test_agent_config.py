"""An agent's configuration is a value: `agent.config`, `Agent.replace`, pickling."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, Tool, UsageLimits, UserError, tool
from agentkit.agent import AgentConfig
from agentkit.models import OpenAIModel
from agentkit.tools import load_tools


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def shout(text: str) -> str:
    """Say it louder."""
    return text.upper()


def endpoint_agent(**changes: Any) -> Agent[Any]:
    settings: dict[str, Any] = {
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": "sk-config-test-0123456789",
        "instructions": "Be brief.",
        "tools": [add],
        "max_turns": 3,
        "timeout": 5.0,
        "deadline": 7.0,
        "max_retries": 0,
        "model_settings": {"temperature": 0.2},
        "usage_limits": UsageLimits(requests=4),
        "max_parallel_tools": 2,
    }
    return Agent("a/model", **{**settings, **changes})


def test_the_configuration_is_what_was_given() -> None:
    agent = endpoint_agent()
    config = agent.config
    assert isinstance(config, AgentConfig)
    assert (config.model, config.base_url, config.timeout, config.deadline) == (
        "a/model",
        "http://127.0.0.1:9/v1",
        5.0,
        7.0,
    )
    assert [t.name for t in config.tools] == ["add"]
    assert "sk-config" not in repr(config)  # the key is not shown


def test_replace_changes_only_what_it_is_told() -> None:
    agent = endpoint_agent()
    other = agent.replace(model="b/model", max_turns=9)
    assert isinstance(other.model, OpenAIModel)
    assert other.model.name == "b/model"
    assert (other.model.timeout, other.model.deadline, other.model.max_retries) == (5, 7, 0)
    assert other.model.base_url == "http://127.0.0.1:9/v1"
    assert other.model.secrets == agent.model.secrets
    assert other.max_turns == 9
    assert (other.instructions, other.tools.names) == ("Be brief.", ["add"])
    assert other.model_settings == {"temperature": 0.2}
    assert other.usage_limits == UsageLimits(requests=4)
    assert other.max_parallel_tools == 2
    # The original is left as it was, with its own model and connections.
    assert (agent.model.name, agent.max_turns) == ("a/model", 3)
    assert other.model is not agent.model


def test_replace_refuses_unknown_settings_by_name() -> None:
    with pytest.raises(UserError, match=r"unknown setting\(s\) max_turn, modle; known: model, "):
        endpoint_agent().replace(modle="x", max_turn=3)


def test_replace_checks_the_new_configuration() -> None:
    with pytest.raises(UserError, match="max_turns must be a whole number >= 1, got 0"):
        endpoint_agent().replace(max_turns=0)


def test_openai_model_replace_keeps_its_settings() -> None:
    model = OpenAIModel(
        "a/model", base_url="http://127.0.0.1:9/v1", api_key="sk-file-key-0123456789",
        max_retries=5, timeout=7, deadline=11, transport="httpx",
    )  # fmt: skip
    other = model.replace(model="b/model")
    assert other.name == "b/model"
    assert (other.base_url, other.secrets) == (model.base_url, model.secrets)
    limits = (other.max_retries, other.timeout, other.deadline, other.transport)
    assert limits == (5, 7, 11, "httpx")
    with pytest.raises(UserError, match=r"unknown setting\(s\) timout"):
        model.replace(timout=3)


def test_an_agent_pickles_as_its_configuration() -> None:
    agent = endpoint_agent(tools=[add, shout, *load_tools("calculator")])
    copy = pickle.loads(pickle.dumps(agent))
    assert copy.config == agent.config
    assert copy.tools.names == ["add", "shout", "calculate"]
    assert copy.model is not agent.model
    assert (copy.model.name, copy.model.timeout) == ("a/model", 5.0)


def test_a_raw_schema_tool_pickles() -> None:
    raw = Tool.from_schema(
        name="double",
        description="Double a number.",
        parameters={"type": "object", "properties": {"x": {"type": "number"}}},
        function=lambda_free_double,
        timeout=3,
    )
    copy = pickle.loads(pickle.dumps(raw))
    assert (copy.name, copy.parameters, copy.timeout) == ("double", raw.parameters, 3)
    assert copy.validate({"x": "2"}) == {"x": 2}


def lambda_free_double(x: float) -> float:
    return 2 * x


def test_an_openai_model_on_a_given_client_says_why_it_cannot_travel() -> None:
    import openai

    client = openai.AsyncOpenAI(api_key="sk-x-0123456789", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(TypeError, match="built on your own client= cannot be sent"):
        pickle.dumps(OpenAIModel("m", client=client))


TOOL_FILE = '''
from agentkit import tool

@tool
def greet(name: str) -> str:
    """Greet someone."""
    return f"hello {name}"

def count(text: str) -> int:
    """Count the characters."""
    return len(text)
'''

# In a fresh interpreter: unpickle the agent given on stdin, run it offline, print the answer.
CHILD = """
import pickle, sys
agent = pickle.loads(sys.stdin.buffer.read())
print(agent.tools.names)
print(agent.run_sync("greet Ada and count 'abc'").output)
"""


@pytest.mark.slow
def test_an_agent_with_tool_file_tools_runs_in_another_process(tmp_path: Path) -> None:
    tools_file = tmp_path / "my_tools.py"
    tools_file.write_text(TOOL_FILE)
    agent = Agent("offline", tools=load_tools(tools_file))
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=pickle.dumps(agent),
        capture_output=True,
        timeout=120,
        check=False,
        cwd=tmp_path.parent,
    )
    assert done.returncode == 0, done.stderr.decode()
    names, *answer = done.stdout.decode().splitlines()
    assert names == "['greet']"
    assert "- greet: hello" in "\n".join(answer)

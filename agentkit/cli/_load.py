"""What `agentkit run` and `agentkit chat` run: the agent of a TARGET, or one built from flags.

TARGET is an agent file (`examples/weather.py`, whose module defines `agent`), `path.py:name`,
or `package.module:name`. Flags override the target's parts: `--tools` adds tools, `--model`
and `--base-url` replace the model, `--system` the instructions, `--max-turns` the limit.
The agent is rebuilt from those parts; the target's own object is left as it was.

While it imports the agent file, the CLI passes its model choice through the environment:
AGENTKIT_MODEL is "offline" when no endpoint is configured (no API key, no base URL) or with
`--offline`, else the `--model` value when given; AGENTKIT_BASE_URL is `--base-url` when given.
An agent file that takes its model from `os.environ.get("AGENTKIT_MODEL", DEFAULT_MODEL)`, as
the examples do, therefore needs an API key only when it runs against a real endpoint. A file
that names its model outright runs offline too: with `--offline` every model id it gives
becomes the offline model, and without an endpoint every id not given its own base URL or key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from agentkit._env import DEFAULT_MODEL, ENDPOINT_VARIABLES
from agentkit._loop.execute import Approval
from agentkit.agent import Agent
from agentkit.cli._target import load_target
from agentkit.models import Model, OpenAIModel
from agentkit.models._resolve import offline_override
from agentkit.models.offline._model import OfflineModel
from agentkit.tools import Tool, load_tools
from agentkit.tools._callables import where

__all__ = [
    "ENDPOINT_VARIABLES",
    "Options",
    "endpoint_configured",
    "load_agent",
    "load_target",
    "tool_warnings",
]


OFFLINE_NOTICE = "using the offline model: it calls the tools but is not a language model"


@dataclass(frozen=True)
class Options:
    """The command-line choices shared by `run` and `chat`."""

    target: str | None = None
    tools: tuple[str, ...] = ()
    model: str | None = None
    base_url: str | None = None
    system: str | None = None
    max_turns: int | None = None
    offline: bool = False
    approve: bool = False
    json: bool = False
    verbose: bool = False


@dataclass(frozen=True)
class Loaded:
    """The agent to run, and what to tell the user about it (stderr lines)."""

    agent: Agent[Any]
    notices: list[str]


def endpoint_configured(options: Options) -> bool:
    """Whether an endpoint is configured: `--base-url`, or a key or base URL in the env."""
    return bool(options.base_url) or any(os.environ.get(v) for v in ENDPOINT_VARIABLES)


def _offline_reason(options: Options) -> str | None:
    """ "forced" (--offline), "auto" (no endpoint configured), or None."""
    if options.offline or options.model == "offline":
        return "forced"
    if not endpoint_configured(options):
        return "auto"
    return None


def load_agent(options: Options, approval: Approval) -> Loaded:
    """The agent the options describe, with `approval` asking the user before tool calls.

    Raises:
        UserError: The target or a tool file cannot be loaded, or the result is not valid.
    """
    offline = _offline_reason(options)
    notices: list[str] = []
    base: Agent[Any] | None = None
    if options.target is not None:
        environment = _environment(_target_environment(options, offline))
        with environment, offline_override(offline):
            base = load_target(options.target)
    taken = set(base.tools.names) if base is not None else set()
    extra = _extra_tools(options.tools, taken, notices)
    model, base_url = _model(options, base, offline)
    agent = _build(options, base, extra, model, base_url, approval)
    if isinstance(agent.model, OfflineModel):
        why = ""
        if offline == "auto":
            why = "no endpoint configured (no AGENTKIT_API_KEY or OPENAI_API_KEY, no --base-url); "
        notices.insert(0, f"agentkit: {why}{OFFLINE_NOTICE}")
        if offline == "auto" and options.model:
            notices.insert(1, f"agentkit: --model {options.model} is not used without an endpoint")
    return Loaded(agent, notices)


def _target_environment(options: Options, offline: str | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if offline is not None:
        env["AGENTKIT_MODEL"] = "offline"
    else:
        if options.model:
            env["AGENTKIT_MODEL"] = options.model
        if options.base_url:
            env["AGENTKIT_BASE_URL"] = options.base_url
    return env


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block only."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _model(
    options: Options, base: Agent[Any] | None, offline: str | None
) -> tuple[str | Model, str | None]:
    """The model to run and its base URL (None for a `Model` instance or the default)."""
    if offline == "forced" or (offline == "auto" and base is None):
        return "offline", None
    if base is None:
        return options.model or os.environ.get("AGENTKIT_MODEL") or DEFAULT_MODEL, options.base_url
    own = base.model
    if options.base_url:
        name = options.model or (own.name if isinstance(own, OpenAIModel) else None)
        return name or os.environ.get("AGENTKIT_MODEL") or DEFAULT_MODEL, options.base_url
    if options.model and isinstance(own, OpenAIModel):
        # Only the model id changes: the file's endpoint, key, deadline and transport stay.
        return own.with_model(options.model), None
    if options.model and offline is None:
        return options.model, None
    # With no endpoint configured, an agent file that still built a model configured it in
    # code (a base URL or key of its own, or a `Model` object): keep it.
    return own, None


def _build(
    options: Options,
    base: Agent[Any] | None,
    extra: list[Tool],
    model: str | Model,
    base_url: str | None,
    approval: Approval,
) -> Agent[Any]:
    if base is None:
        return Agent(
            model,
            base_url=base_url,
            instructions=options.system,
            tools=extra,
            max_turns=options.max_turns or 10,
            approval=approval,
            approve_all_tools=options.approve,
        )
    # The file's own approval callback stays, unless --approve asks for the CLI's prompt.
    own = None if options.approve else base.approval
    return Agent(
        model,
        base_url=base_url,
        instructions=options.system if options.system is not None else base.instructions,
        tools=[*base.tools, *extra],
        max_turns=options.max_turns or base.max_turns,
        output_type=base.output_type,
        approval=own or approval,
        approve_all_tools=options.approve or base.approve_all_tools,
        max_tool_failures=base.max_tool_failures,
        model_settings=base.model_settings,
        usage_limits=base.usage_limits,
        max_parallel_tools=base.max_parallel_tools,
        max_result_chars=base.max_result_chars,
    )


def _extra_tools(specs: Sequence[str], taken: set[str], notices: list[str]) -> list[Tool]:
    """The tools of each `--tools` file or built-in, skipping names already taken."""
    tools: list[Tool] = []
    for spec in specs:
        for tool in load_tool_file(spec):
            if tool.name in taken:
                notices.append(
                    f"agentkit: --tools {spec}: the agent already has a tool named "
                    f"`{tool.name}`; keeping the first one"
                )
                continue
            taken.add(tool.name)
            tools.append(tool)
    return tools


def load_tool_file(spec: str) -> list[Tool]:
    """`load_tools(spec)`: the tools of a file, or of a built-in module by short name.

    Raises:
        UserError: The file or built-in cannot be loaded, or has functions that are not tools.
    """
    return load_tools(spec)


def tool_warnings(tool: Tool) -> list[str]:
    """What a tool's docstring leaves undocumented: the tool itself, or its parameters."""
    warnings = []
    place = where(tool.function)
    if not tool.description.strip():
        warnings.append(
            f"tool `{tool.name}` ({place}) has no description: give the function a docstring "
            "whose first line says what it does"
        )
    properties = tool.parameters.get("properties")
    for name, schema in (properties or {}).items():
        if not (isinstance(schema, dict) and str(schema.get("description", "")).strip()):
            warnings.append(
                f"tool `{tool.name}` ({place}): parameter `{name}` has no description: "
                "document it under `Args:` in the docstring"
            )
    return warnings

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

The automatic fallback to the offline model happens only when nothing names an endpoint or a
model: no key, no base URL, no `--model`, no AGENTKIT_MODEL. A model named without an
endpoint is a mistake (a lost key, a forgotten base URL) and is refused, not answered offline.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import docstring_parser

from agentkit import _env
from agentkit._env import DEFAULT_MODEL, ENDPOINT_VARIABLES
from agentkit._loop.execute import Approval
from agentkit.agent import Agent
from agentkit.cli._target import load_target
from agentkit.errors import UserError
from agentkit.models import OpenAIModel
from agentkit.models._resolve import offline_override, with_model_id
from agentkit.models.offline._model import OfflineModel
from agentkit.tools import Tool
from agentkit.tools._callables import behind_partials, signature_names, where
from agentkit.tools._loader import load_tool_module, tool_source

__all__ = [
    "ENDPOINT_VARIABLES",
    "Loaded",
    "Options",
    "endpoint_configured",
    "load_agent",
    "load_target",
    "tool_warnings",
]


OFFLINE_NOTICE = "using the offline model: it calls the tools but is not a language model"
AUTO_OFFLINE_BANNER = (
    "agentkit: OFFLINE: no endpoint configured (no AGENTKIT_API_KEY or OPENAI_API_KEY, no base "
    f"URL); {OFFLINE_NOTICE}. Set a key or --base-url for a real model; --offline chooses "
    "this on purpose (exit status 0, not 3)."
)


@dataclass(frozen=True)
class Options:
    """The command-line choices shared by `run` and `chat`."""

    target: str | None = None
    tools: tuple[str, ...] = ()
    model: str | None = None
    base_url: str | None = None
    system: str | None = None
    max_turns: int | None = None
    max_input_tokens: int | None = None  # --max-input-tokens: the context budget
    offline: bool = False
    approve: bool = False
    json: bool = False
    verbose: bool = False
    plain: bool = False
    trace: bool = False
    otel: bool = False
    mcp: tuple[str, ...] = ()  # --mcp: MCP servers to add (see `_mcp`)
    mcp_config: tuple[str, ...] = ()  # --mcp-config: mcpServers files


@dataclass(frozen=True)
class Loaded:
    """The agent to run, what to tell the user about it (stderr lines), and whether it fell
    back to the offline model because nothing named an endpoint or a model."""

    agent: Agent[Any]
    notices: list[str]
    auto_offline: bool = False


def endpoint_configured(options: Options) -> bool:
    """Whether an endpoint is configured: `--base-url`, or a key or base URL in the env."""
    return bool(options.base_url) or _env.endpoint_configured()


def _named_model(options: Options) -> str | None:
    """Where the command line or the environment names a model: `--model X`, `AGENTKIT_MODEL=X`."""
    if options.model:
        return f"--model {options.model}"
    chosen = _env.setting("AGENTKIT_MODEL")
    return f"AGENTKIT_MODEL={chosen}" if chosen else None


def _offline_reason(options: Options) -> str | None:
    """ "forced" (--offline, or the model "offline"), "auto" (no endpoint configured), or None."""
    if options.offline or (options.model or _env.setting("AGENTKIT_MODEL")) == "offline":
        return "forced"
    if not endpoint_configured(options):
        return "auto"
    return None


def _no_endpoint(named: str) -> UserError:
    return UserError(
        f"{named} names a model, but no endpoint is configured: set AGENTKIT_BASE_URL (or "
        "--base-url) to your server, e.g. http://localhost:11434/v1 for Ollama, or "
        "AGENTKIT_API_KEY for haimaker; or pass --offline for the offline model"
    )


def load_agent(options: Options, approval: Approval | None) -> Loaded:
    """The agent the options describe, with `approval` asking the user before tool calls.

    With `approval` None (an unattended batch), calls that need approval are declined.

    Raises:
        UserError: The target or a tool file cannot be loaded, or the result is not valid.
    """
    offline = _offline_reason(options)
    notices: list[str] = []
    base: Agent[Any] | None = None
    # What an agent or tool file prints while it loads goes to stderr: stdout carries only
    # the answer (or the JSON).
    with contextlib.redirect_stdout(sys.stderr):
        if options.target is not None:
            environment = _target_environment(options, offline)
            with _env.overridden(environment), offline_override(offline):
                base = load_target(options.target)
        taken = set(base.tools.names) if base is not None else set()
        extra = _extra_tools(options.tools, taken, notices)
    if base is None:
        agent = _new_agent(options, extra, approval, offline)
    else:
        agent = base.replace(**_changes(options, base, extra, approval, offline))
    auto = False
    if isinstance(agent.model, OfflineModel):
        named = _named_model(options)
        if offline == "auto" and named is not None:
            raise _no_endpoint(named)
        auto = offline == "auto"
        notices.insert(0, AUTO_OFFLINE_BANNER if auto else f"agentkit: {OFFLINE_NOTICE}")
    return Loaded(agent, notices, auto)


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


def _new_agent(
    options: Options, tools: list[Tool], approval: Approval | None, offline: str | None
) -> Agent[Any]:
    """The agent of a command line without TARGET: the flags alone."""
    model = options.model or _env.setting("AGENTKIT_MODEL") or DEFAULT_MODEL
    return Agent(
        "offline" if offline else model,
        base_url=None if offline else options.base_url,
        instructions=options.system,
        tools=tools,
        max_turns=options.max_turns or 10,
        **_budget(options),
        approval=approval,
        approve_all_tools=options.approve,
    )


def _budget(options: Options) -> dict[str, Any]:
    """`max_input_tokens` when --max-input-tokens gives it; else the agent's own (default)."""
    budget = options.max_input_tokens
    return {"max_input_tokens": budget} if budget else {}


def _changes(
    options: Options,
    base: Agent[Any],
    tools: list[Tool],
    approval: Approval | None,
    offline: str | None,
) -> dict[str, Any]:
    """What the flags change in TARGET's agent; everything else (timeouts, limits) stays."""
    changes: dict[str, Any] = {"tools": (*base.config.tools, *tools)}
    if options.system is not None:
        changes["instructions"] = options.system
    if options.max_turns:
        changes["max_turns"] = options.max_turns
    changes.update(_budget(options))
    # The file's own approval callback stays, unless --approve asks for the CLI's prompt.
    changes["approval"] = (None if options.approve else base.approval) or approval
    changes["approve_all_tools"] = options.approve or base.approve_all_tools
    changes.update(_model_changes(options, base, offline))
    return changes


def _model_changes(options: Options, base: Agent[Any], offline: str | None) -> dict[str, Any]:
    """The model settings the flags change in TARGET's agent."""
    own = base.config.model
    if offline == "forced" or isinstance(base.model, OfflineModel):
        return {"model": "offline", "base_url": None, "api_key": None}
    # The file's retries, timeouts and transport stay; only what the flags say moves. A new
    # endpoint gets the key of the environment: the file's key was for its own endpoint.
    endpoint = {"base_url": options.base_url, "api_key": None} if options.base_url else {}
    if isinstance(own, OpenAIModel):
        model = with_model_id(own, options.model) if options.model else own
        return {"model": model.replace(**endpoint) if endpoint else model}
    if offline == "auto":
        # No endpoint configured, yet the file built a real model: it configured one in code
        # (a base URL or key of its own, or a `Model` object). Keep it.
        return {}
    if options.base_url:
        name_ = options.model or (own if isinstance(own, str) else None)
        return {"model": name_ or _env.setting("AGENTKIT_MODEL") or DEFAULT_MODEL, **endpoint}
    if options.model:
        return {"model": options.model}
    return {}


def _extra_tools(specs: Sequence[str], taken: set[str], notices: list[str]) -> list[Tool]:
    """The tools of each `--tools` file or built-in (each loaded once), skipping names taken."""
    tools: list[Tool] = []
    seen: dict[str, str] = {}
    for spec in specs:
        source = tool_source(spec)
        if source in seen:
            if spec != seen[source]:
                notices.append(f"agentkit: --tools {spec} is {seen[source]} again: loaded once")
            continue
        seen[source] = spec
        loaded = load_tool_module(spec)
        notices.extend(f"agentkit: --tools {spec}: skipped {note}" for note in loaded.skipped)
        for tool in loaded.tools:
            if tool.name in taken:
                notices.append(
                    f"agentkit: --tools {spec}: the agent already has a tool named "
                    f"`{tool.name}`; keeping the first one"
                )
                continue
            taken.add(tool.name)
            tools.append(tool)
    return tools


# Where each docstring style documents a parameter.
_SECTIONS = {
    docstring_parser.DocstringStyle.GOOGLE: "under `Args:` in the docstring",
    docstring_parser.DocstringStyle.NUMPYDOC: (
        "under `Parameters` in the docstring (NumPy style: `name : type`, then the "
        "description indented below it)"
    ),
    docstring_parser.DocstringStyle.REST: "with `:param {name}: ...` in the docstring",
    docstring_parser.DocstringStyle.EPYDOC: "with `@param {name}: ...` in the docstring",
}


def _where_to_document(tool: Tool, name: str) -> str:
    """How to document parameter `name`, in the docstring style the tool already uses."""
    function = behind_partials(tool.function)
    if name not in signature_names(function):  # a raw JSON-schema tool
        return "give it a `description` in the tool's JSON schema"
    text = inspect.getdoc(function) or ""
    try:
        doc = docstring_parser.parse(text)
    except docstring_parser.ParseError:
        doc = None
    style = doc.style if doc is not None and doc.meta else docstring_parser.DocstringStyle.GOOGLE
    section = _SECTIONS.get(
        style or docstring_parser.DocstringStyle.GOOGLE,
        _SECTIONS[docstring_parser.DocstringStyle.GOOGLE],
    )
    return "document it " + section.format(name=name)


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
                + _where_to_document(tool, name)
            )
    return warnings

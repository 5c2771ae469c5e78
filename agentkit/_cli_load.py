"""What `agentkit run` and `agentkit chat` run: the agent of a TARGET, or one built from flags.

TARGET is an agent file (`examples/weather.py`, whose module defines `agent`), `path.py:name`,
or `package.module:name`. Flags override the target's parts: `--tools` adds tools, `--model`
and `--base-url` replace the model, `--system` the instructions, `--max-turns` the limit.
The agent is rebuilt from those parts; the target's own object is left as it was.

While it imports the agent file, the CLI passes its model choice through the environment:
AGENTKIT_MODEL is "offline" when no endpoint is configured (no API key, no base URL) or with
`--offline`, else the `--model` value when given; AGENTKIT_BASE_URL is `--base-url` when given.
An agent file that takes its model from `os.environ.get("AGENTKIT_MODEL", DEFAULT_MODEL)`, as
the examples do, therefore needs an API key only when it runs against a real endpoint.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._execute import Approval
from ._offline import OfflineModel
from ._schema import where
from .agent import Agent
from .errors import UserError
from .models import DEFAULT_MODEL, ENDPOINT_VARIABLES, Model, OpenAIModel
from .tools import Tool, import_path, load_tools

__all__ = [
    "ENDPOINT_VARIABLES",
    "Options",
    "endpoint_configured",
    "load_agent",
    "load_target",
    "tool_warnings",
]

# Any of these set means the user configured an endpoint (local servers need no key).

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
        with _environment(_target_environment(options, offline)):
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
    if offline is None and (options.model or options.base_url):
        name = options.model
        if name is None and base is not None and isinstance(base.model, OpenAIModel):
            name = base.model.name
        return name or os.environ.get("AGENTKIT_MODEL") or DEFAULT_MODEL, options.base_url
    if base is not None:
        # With no endpoint configured, an agent file that still built a model configured it
        # in code (a base URL or key of its own): keep it.
        return base.model, None
    return os.environ.get("AGENTKIT_MODEL") or DEFAULT_MODEL, None


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
        for tool in load_tools(spec):
            if tool.name in taken:
                notices.append(
                    f"agentkit: --tools {spec}: the agent already has a tool named "
                    f"`{tool.name}`; keeping the first one"
                )
                continue
            taken.add(tool.name)
            tools.append(tool)
    return tools


def split_target(target: str) -> tuple[str, str]:
    """(file or module, attribute): `a.py:bot` -> ("a.py", "bot"); `a.py` -> ("a.py", "agent")."""
    location, colon, name = target.rpartition(":")
    if colon and location and name.isidentifier():
        return location, name
    return target, "agent"


def looks_like_target(text: str) -> bool:
    """Whether a command-line word names an agent file or `module:name` rather than a prompt."""
    location, _ = split_target(text)
    named = location != text and re.fullmatch(r"[\w.]+", location) is not None
    return location.endswith(".py") or named or _exists(Path(text))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for a path, or a NUL byte in it
        return False


def load_target(target: str) -> Agent[Any]:
    """The `Agent` that TARGET names: `file.py`, `file.py:name` or `package.module:name`.

    Raises:
        UserError: The file or module cannot be imported, or does not hold an Agent there.
    """
    location, name = split_target(target)
    path = Path(location).expanduser()
    is_file = location.endswith(".py") or "/" in location or os.sep in location or _exists(path)
    module = _import_file(path) if is_file else _import_module(location)
    value = getattr(module, name, None)
    if value is None:
        agents = [k for k, v in vars(module).items() if isinstance(v, Agent)]
        hint = (
            f"it defines {', '.join(agents)}: run {location}:{agents[0]}"
            if agents
            else "add `agent = Agent(...)` to it, or name the object as FILE.py:NAME"
        )
        raise UserError(f"{location} defines no `{name}`: {hint}")
    if not isinstance(value, Agent):
        raise UserError(
            f"{location}:{name} is a {type(value).__name__}, not an agentkit Agent; "
            "point the CLI at an `Agent(...)` object"
        )
    return value


@contextmanager
def _on_sys_path(folder: str) -> Iterator[None]:
    """`folder` first on sys.path while a module imports (so it can import its neighbours)."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def _import_file(path: Path) -> types.ModuleType:
    if not _exists(path) or not path.is_file():
        raise UserError(
            f"agent file not found: {path} (give a .py file that defines "
            "`agent = Agent(...)`, FILE.py:NAME, or package.module:NAME)"
        )
    try:
        with _on_sys_path(str(path.resolve().parent)):
            module = import_path(path, "agentkit_agent")
    except Exception as exc:
        raise _import_error(str(path), exc) from exc
    return module


def _import_module(name: str) -> types.ModuleType:
    try:
        with _on_sys_path(os.getcwd()):
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UserError(
                f"no agent file or module named {name!r}: give a .py file that defines "
                "`agent = Agent(...)`, FILE.py:NAME, or package.module:NAME"
            ) from None
        raise _import_error(name, exc) from exc
    except Exception as exc:
        raise _import_error(name, exc) from exc


def _import_error(what: str, exc: Exception) -> UserError:
    """The UserError for an import that failed: file:line for a syntax error."""
    if isinstance(exc, SyntaxError):
        return UserError(f"syntax error in {exc.filename or what}:{exc.lineno}: {exc.msg}")
    if isinstance(exc, UserError):
        return UserError(f"loading {what}: {exc}")
    return UserError(f"importing {what} failed: {type(exc).__name__}: {exc}")


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

"""An agent's configuration: the value (`AgentConfig`), checked (every problem collected,
then reported at once), and read through the agent (`ConfigReads`: `agent.max_turns`...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import sniffio

from agentkit._env import DEFAULT_MODEL
from agentkit._loop.execute import Approval
from agentkit._loop.hooks import Hook, hook_problems
from agentkit.errors import UserError
from agentkit.guardrails import Guardrail
from agentkit.models import OUTPUT_TOOL_NAME, Model, ModelSettings
from agentkit.models._base import check_settings
from agentkit.tools import Tool, ToolRegistry, ToolSource
from agentkit.tools._schema import check_name
from agentkit.usage import UsageLimits

if TYPE_CHECKING:
    from agentkit.sessions import HistoryProcessor, TokenCounter

__all__ = [
    "AgentConfig",
    "Collector",
    "ConfigReads",
    "config_problems",
    "event_loop_running",
    "extension_problems",
    "registry",
    "tool_choice_problem",
]

T = TypeVar("T")


@dataclass(frozen=True)
class AgentConfig:
    """An agent's configuration, as given: `Agent(**dataclasses.asdict-like fields)`.

    A plain value: compare it, keep it, send it to another process (it pickles when its
    tools, approval callback and `Model` do: module-level functions, tools of tool files,
    and `OpenAIModel`s built from a model id do; an `MCPServer` travels as its settings, and
    is a new, stopped server where it lands). See `Agent` for what each field means.
    """

    model: str | Model = DEFAULT_MODEL
    instructions: str | None = None
    tools: tuple[Tool | Callable[..., Any] | ToolSource, ...] = ()
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    max_turns: int = 10
    output_type: Any = None
    approval: Approval | None = None
    approve_all_tools: bool = False
    max_tool_failures: int = 2
    model_settings: Mapping[str, Any] = field(default_factory=dict)
    usage_limits: UsageLimits = field(default_factory=UsageLimits)
    max_parallel_tools: int = 8
    max_result_chars: int = 100_000
    max_retries: int = 2
    timeout: float = 60.0
    deadline: float = 600.0
    price: tuple[float, float] | None = None
    # Observing, composing and guarding (issue 15).
    name: str = "agent"
    description: str | None = None
    hooks: tuple[Hook, ...] = ()
    input_guardrails: tuple[Guardrail, ...] = ()
    output_guardrails: tuple[Guardrail, ...] = ()
    tool_result_guardrails: tuple[Guardrail, ...] = ()
    max_depth: int = 5
    max_input_tokens: int | None = None  # the context budget (issue 13)
    history_processor: HistoryProcessor | None = None
    token_counter: TokenCounter | None = None


class Collector:
    """Calls constructors, collecting their `UserError`s instead of stopping at the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def __call__(self, build: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return build(*args, **kwargs)
        except UserError as exc:
            self.problems.append(str(exc))
            return None


class ConfigReads:
    """The configuration, read through the agent as before (`agent.max_turns`, ...)."""

    config: AgentConfig

    @property
    def instructions(self) -> str | None:
        return self.config.instructions

    @property
    def output_type(self) -> Any:
        return self.config.output_type

    @property
    def max_turns(self) -> int:
        return self.config.max_turns

    @property
    def approval(self) -> Approval | None:
        return self.config.approval

    @property
    def approve_all_tools(self) -> bool:
        return self.config.approve_all_tools

    @property
    def max_tool_failures(self) -> int:
        return self.config.max_tool_failures

    @property
    def model_settings(self) -> ModelSettings:
        return check_settings(self.config.model_settings)

    @property
    def usage_limits(self) -> UsageLimits:
        return self.config.usage_limits

    @property
    def max_parallel_tools(self) -> int:
        return self.config.max_parallel_tools

    @property
    def max_result_chars(self) -> int:
        return self.config.max_result_chars


def registry(tools: Iterable[Tool | Callable[..., Any]]) -> ToolRegistry:
    """The agent's tools; a single tool or function (not in a list) is a clear mistake."""
    if isinstance(tools, Tool) or callable(tools) or isinstance(tools, (str, bytes)):
        name = getattr(tools, "name", None) or getattr(tools, "__name__", repr(tools))
        raise UserError(f"tools must be a list of tools or functions: write tools=[{name}]")
    return ToolRegistry(tools)


def config_problems(max_turns: int, failures: int, parallel: int, result_chars: int) -> list[str]:
    """What is wrong with the agent's numeric limits."""
    return [
        f"{name} must be a whole number >= 1, got {value!r}"
        for name, value in (
            ("max_turns", max_turns),
            ("max_tool_failures", failures),
            ("max_parallel_tools", parallel),
            ("max_result_chars", result_chars),
        )
        if not isinstance(value, int) or isinstance(value, bool) or value < 1
    ]


def extension_problems(
    name: object,
    max_depth: object,
    hooks: object,
    input_guardrails: object,
    output_guardrails: object,
    tool_result_guardrails: object,
) -> list[str]:
    """What is wrong with an agent's name, depth limit, hooks and guardrails."""
    problems = []
    if (problem := check_name(name)) is not None:
        problems.append(f"name: {problem} (it is the agent's tool name and name in traces)")
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 1:
        problems.append(f"max_depth must be a whole number >= 1, got {max_depth!r}")
    callables = {
        "hooks": hooks,
        "input_guardrails": input_guardrails,
        "output_guardrails": output_guardrails,
        "tool_result_guardrails": tool_result_guardrails,
    }
    for label, given in callables.items():
        problems += hook_problems(label, given)
    return problems


def tool_choice_problem(settings: ModelSettings, structured: bool) -> str | None:
    """Why a `tool_choice` sent with every request would keep the run from ever ending.

    "required" (or a named tool) on every request forbids a text answer; the answer can then
    only come through the output tool of a structured (`output_type`) agent.
    """
    choice = settings.get("tool_choice")
    function = choice.get("function") if isinstance(choice, dict) else None
    named = function.get("name") if isinstance(function, dict) else None
    if choice == "required" and not structured:
        what, first = 'tool_choice "required"', '"required"'
        fix = "require a call in the first reply only, or give an output_type (the answer "
        fix += f"then comes through the {OUTPUT_TOOL_NAME} tool)"
    elif named is not None and named != OUTPUT_TOOL_NAME:
        what, first = f"tool_choice naming `{named}`", "{...}"
        fix = f"require `{named}` in the first reply only"
    else:
        return None
    return (
        f"{what} applies to every request, so the model can never answer in text and the run "
        f"can only end at max_turns or the token cap: use first_tool_choice={first} to {fix}"
    )


def event_loop_running() -> bool:
    """Whether an async library's event loop runs in this thread."""
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return False
    return True

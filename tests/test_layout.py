"""The package's architecture holds: the layer contract, no import cycles, small modules,
and every import path users had before the subpackages still works."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import agentkit

REPO = Path(agentkit.__file__).resolve().parent.parent

# The paths users import from, with names from each (README, examples, user code).
KEPT_PATHS = {
    "agentkit.events": ["Event", "RunFinished", "TextDelta", "ToolCallStarted", "event_to_dict"],
    "agentkit.errors": ["AgentkitError", "ModelError", "UserError"],
    "agentkit.messages": [
        "PRICES",
        "AssistantMessage",
        "ToolCall",
        "Usage",
        "estimate_cost",
        "messages_from_wire",
        "messages_to_wire",
    ],
    "agentkit.models": [
        "DEFAULT_BASE_URL",
        "DEFAULT_MODEL",
        "ENDPOINT_VARIABLES",
        "Model",
        "ModelResponse",
        "ModelSettings",
        "OpenAIModel",
        "ToolUseFailed",
        "model_from_env",
    ],
    "agentkit.llama": ["TextGate", "extract_tool_calls", "parse_tool_calls"],
    "agentkit.tools": ["Tool", "ToolRegistry", "load_tools", "builtin_tool_names", "tool"],
    "agentkit.testing": ["FakeServer", "FunctionModel", "ScriptedModel", "call", "Completion"],
    "agentkit.agent": ["Agent", "RunResult", "UsageLimits"],
    "agentkit.cli": ["main"],
}


@pytest.mark.parametrize(("path", "names"), KEPT_PATHS.items())
def test_import_paths_users_had_still_work(path: str, names: list[str]) -> None:
    module = importlib.import_module(path)
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


def test_prices_is_the_dict_users_edit() -> None:
    import agentkit.messages
    import agentkit.usage

    assert agentkit.messages.PRICES is agentkit.usage.PRICES


def test_unknown_names_still_raise_attribute_error() -> None:
    import agentkit.messages

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        agentkit.messages.nothing_here  # noqa: B018


@pytest.mark.slow
def test_the_layer_contract_holds() -> None:
    # The same check `.ci/run` makes; here too, so a local `pytest` catches a breach.
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("agentkit", exclude_type_checking_imports=True)
    # The lazy re-export of the old wire names is loaded on first use, never at import.
    graph.remove_import(importer="agentkit.messages", imported="agentkit.models.openai._wire")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            # A package imports its own parts for its public names; that is no cycle.
            if imported.startswith(module + "."):
                continue
            if graph.chain_exists(imported=module, importer=imported):
                chain = graph.find_shortest_chain(importer=imported, imported=module)
                cycles.append(f"{module} -> {' -> '.join(chain or ())}")
    assert cycles == []


def test_modules_stay_small() -> None:
    # A module past ~400 lines is asking to be split along a seam (DESIGN.md).
    files = [*(REPO / "agentkit").rglob("*.py"), *(REPO / "tools").glob("*.py")]
    long = {
        str(f.relative_to(REPO)): n
        for f in files
        if "toolbox" not in f.relative_to(REPO).parts
        and (n := len(f.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert long == {}


def test_only_the_env_module_reads_the_environment() -> None:
    readers = []
    for path in [*(REPO / "agentkit").rglob("*.py"), *(REPO / "tools").glob("*.py")]:
        relative = path.relative_to(REPO)
        if "toolbox" in relative.parts or relative == Path("agentkit/_env.py"):
            continue
        text = path.read_text(encoding="utf-8")
        code = "\n".join(line.split("#")[0] for line in text.splitlines())
        if "os.environ" in code.replace("`os.environ", "") or "os.getenv" in code:
            readers.append(str(relative))
    assert readers == []

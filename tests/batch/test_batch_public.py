"""The public surface of agentkit.batch, and the layering: only the CLI part imports rich."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import agentkit.batch

PACKAGE = Path(agentkit.batch.__file__).parent


def test_every_public_name_is_exported_and_sorted() -> None:
    names = agentkit.batch.__all__
    assert names == sorted(names)
    assert all(hasattr(agentkit.batch, name) for name in names)
    expected = {
        "run_batch",
        "run_batch_sync",
        "read_results",
        "BatchControl",
        "BatchSummary",
        "BatchProgress",
        "BatchStopped",
        "ResumeRefused",
        "watch_interrupts",
    }
    assert expected <= set(names)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_the_library_core_never_imports_rich_click_or_private_agentkit_modules() -> None:
    for path in PACKAGE.glob("*.py"):
        assert not _imports(path) & {"rich", "click"}, path.name
        # One exception: an agent's MCP servers running for the whole batch without closing
        # a borrowed agent at the end (`async with agent:` would) is no public API.
        text = path.read_text().replace("from agentkit._sources import serving\n", "", 1)
        assert "from agentkit._" not in text and "import agentkit._" not in text, path.name


def test_importing_batch_loads_neither_rich_nor_ray() -> None:
    code = "import sys, agentkit.batch; print(sorted({'rich', 'click', 'ray'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

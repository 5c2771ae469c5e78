"""The manifest beside the output: which agent configuration wrote it, so a resume can check.

The configuration is taken from what the public `Agent` exposes: the model id, the
instructions, the tool definitions, the output schema, the model settings and the limits
that change what a run does. The endpoint is recorded but not compared (moving to another
server of the same model is not a new experiment); neither are tool implementations (only
what the model is told about them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from agentkit import Agent, UserError

__all__ = ["ResumeRefused", "agent_config", "check_manifest", "fingerprint", "manifest_path"]

FORMAT = 1
NOT_COMPARED = frozenset({"endpoint"})


class ResumeRefused(UserError):
    """The output was written by another agent configuration (or by something else).

    Attributes:
        differences: What changed, one line each.
    """

    def __init__(self, message: str, differences: list[str]) -> None:
        super().__init__(message, differences)
        self.differences = differences


def _output_schema(output_type: Any) -> Any:
    if output_type is None or output_type is str:
        return None
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(output_type).json_schema()
    except Exception:  # a type pydantic cannot describe: its name is the best we have
        return getattr(output_type, "__qualname__", repr(output_type))


def agent_config(agent: Agent[Any]) -> dict[str, Any]:
    """The parts of an agent's configuration that decide its results, as JSON values."""
    model = agent.model
    limits = agent.usage_limits
    return {
        "model": getattr(model, "name", type(model).__name__),
        "model_type": type(model).__name__,
        "endpoint": getattr(model, "endpoint", None),
        "instructions": agent.instructions,
        "tools": [t.definition() for t in agent.tools],
        "output": _output_schema(agent.output_type),
        "model_settings": dict(agent.model_settings),
        "max_turns": agent.max_turns,
        "max_tool_failures": agent.max_tool_failures,
        "max_result_chars": agent.max_result_chars,
        "usage_limits": {
            "requests": limits.requests,
            "total_tokens": limits.total_tokens,
            "tool_calls": limits.tool_calls,
        },
    }


def fingerprint(config: dict[str, Any]) -> str:
    """A hash of the compared parts of a configuration."""
    compared = {k: v for k, v in config.items() if k not in NOT_COMPARED}
    text = json.dumps(compared, sort_keys=True, ensure_ascii=False, default=repr)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def manifest_path(output: Path) -> Path:
    """`out.jsonl` -> `out.jsonl.manifest.json`."""
    return output.with_name(output.name + ".manifest.json")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    return text if len(text) <= 70 else text[:67] + "..."


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two configurations, one line per part."""
    lines = []
    for key in sorted((set(old) | set(new)) - NOT_COMPARED):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "tools" and isinstance(before, list) and isinstance(after, list):
            lines.append("tools: " + _tool_changes(before, after))
        elif key == "instructions":
            lines.append(f"instructions changed: {_short(before)} -> {_short(after)}")
        else:
            lines.append(f"{key}: {_short(before)} -> {_short(after)}")
    return lines


def _tool_changes(before: list[Any], after: list[Any]) -> str:
    def by_name(tools: list[Any]) -> dict[str, Any]:
        return {str(t.get("function", {}).get("name")): t for t in tools if isinstance(t, dict)}

    old, new = by_name(before), by_name(after)
    parts = []
    if added := sorted(set(new) - set(old)):
        parts.append("added " + ", ".join(added))
    if removed := sorted(set(old) - set(new)):
        parts.append("removed " + ", ".join(removed))
    if changed := sorted(n for n in set(old) & set(new) if old[n] != new[n]):
        parts.append("changed " + ", ".join(changed) + " (description or parameters)")
    return "; ".join(parts) or "reordered"


def _write(path: Path, data: dict[str, Any]) -> None:
    """Replace the manifest atomically: a crash leaves the old one or the new one."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as file:
        json.dump(data, file, indent=2, ensure_ascii=False, sort_keys=True, default=repr)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot read the batch manifest {path} ({exc}); remove it and pass force=True "
            "(--force) to resume with the current agent"
        ) from None
    if not isinstance(data, dict) or "fingerprint" not in data:
        raise UserError(f"{path} is not an agentkit batch manifest; remove it or use --force")
    return data


def check_manifest(
    output: Path, config: dict[str, Any], *, results: int, force: bool
) -> dict[str, Any]:
    """Write or check the manifest beside `output`; the manifest now in force.

    Args:
        output: The output file.
        config: The agent configuration of this run (`agent_config`).
        results: Result lines the output already holds.
        force: Resume even when the configuration differs (the manifest records it).

    Raises:
        ResumeRefused: The output holds results of another configuration, or results and
            no manifest, and `force` is not set.
    """
    path = manifest_path(output)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    current = {"format": FORMAT, "fingerprint": fingerprint(config), "config": config}
    if not path.exists() or results == 0:
        manifest: dict[str, Any] = {**current, "created": now, "history": []}
        if results and not force:
            raise ResumeRefused(
                f"{output} holds {results} result line{'s' if results != 1 else ''} but has no "
                f"manifest ({path.name}), so the agent that wrote them is unknown: pass "
                "force=True (--force) to resume with this agent, or write to a new output file",
                [],
            )
        _write(path, manifest)
        return manifest
    manifest = _read(path)
    if manifest["fingerprint"] == current["fingerprint"]:
        return manifest
    old: dict[str, Any] = manifest.get("config") or {}
    changed = differences(old, config) or ["the configuration hash"]
    if not force:
        raise ResumeRefused(
            f"{output} was written by a different agent configuration; its "
            f"{results} result{'s' if results != 1 else ''} would be mixed with this one's. "
            "Pass force=True (--force) to resume anyway, or write to a new output file. "
            "What changed:",
            changed,
        )
    earlier: list[Any] = list(manifest.get("history") or [])
    history = [
        *earlier,
        {"fingerprint": manifest["fingerprint"], "config": manifest.get("config"), "until": now},
    ]
    manifest = {**current, "created": manifest.get("created", now), "history": history}
    _write(path, manifest)
    return manifest

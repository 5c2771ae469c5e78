"""The manifest beside the output: which agent configuration wrote it, so a resume can check.

The configuration is the agent's own frozen value (`agent.config`), every field of it, as
JSON: a new option of `Agent` is compared as soon as it exists, unless it is listed in
`NOT_COMPARED` (what changes how a run goes or is observed, not what it answers: the
endpoint, retries, timeouts, parallelism, the price, the name, hooks). The key is never
written. Tools are compared by what the model is told about them (their definitions), not
by their code; callables by their qualified name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agentkit import Agent, UserError

__all__ = ["ResumeRefused", "agent_config", "check_manifest", "fingerprint", "manifest_path"]

FORMAT = 1
# Recorded, not compared: moving to another server of the same model, giving it more time,
# retries or parallel tool calls, another price, a name, hooks that observe runs: none of
# these changes what a row answers, so none is a new experiment.
NOT_COMPARED = frozenset(
    {
        "endpoint",
        "max_retries",
        "timeout",
        "deadline",
        "max_parallel_tools",
        "price",
        "name",
        "description",
        "hooks",
    }
)
# Never recorded: the key; the base URL is recorded as `endpoint`, without user info or query.
NOT_RECORDED = frozenset({"api_key", "base_url"})


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
        return _name(output_type)


def _name(value: Any) -> str:
    """A callable or type by its qualified name: the same in every process, unlike a repr."""
    if isinstance(value, functools.partial):
        return f"partial({_name(value.func)}, {describe(value.args)}, {describe(value.keywords)})"
    target = getattr(value, "__func__", value)  # a bound method: its function
    module = getattr(target, "__module__", None) or ""
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{qualname}" if module else qualname


def describe(value: Any) -> Any:
    """A configuration value as JSON that is the same for the same value in any process."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [describe(v) for v in value]
        return items if isinstance(value, list | tuple) else sorted(items, key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: describe(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": type(value).__qualname__, **fields}
    if callable(value):
        return _name(value)
    text = repr(value)
    # A default repr names a memory address, different in every process: keep the type only.
    return _name(type(value)) if " at 0x" in text else text


# The fields read from what the agent built of them (the resolved model, the tool registry).
_FROM_AGENT: dict[str, Callable[[Agent[Any]], Any]] = {
    "model": lambda agent: getattr(agent.model, "name", type(agent.model).__name__),
    "tools": lambda agent: [t.definition() for t in agent.tools],
    "output_type": lambda agent: _output_schema(agent.output_type),
    "model_settings": lambda agent: describe(dict(agent.model_settings)),
}


def agent_config(agent: Agent[Any]) -> dict[str, Any]:
    """The agent's configuration as JSON values (`agent.config`, every field but the key)."""
    config: dict[str, Any] = {}
    for field in dataclasses.fields(agent.config):
        if field.name in NOT_RECORDED:
            continue
        read = _FROM_AGENT.get(field.name)
        config[field.name] = read(agent) if read else describe(getattr(agent.config, field.name))
    config["model_type"] = type(agent.model).__name__
    config["endpoint"] = getattr(agent.model, "endpoint", None)
    return config


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
    try:
        with temporary.open("w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, ensure_ascii=False, sort_keys=True, default=repr)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)  # a half-written copy must not linger (a full disk)
        raise


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

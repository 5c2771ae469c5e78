"""The manifest beside the output: a resume with another agent configuration is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _batch_helpers import echo, lines, make_agent, numbered

from agentkit import UserError
from agentkit.batch import ResumeRefused, manifest_path, run_batch_sync
from agentkit.testing import FakeServer


def lookup(sku: str) -> str:
    """Look up a product.

    Args:
        sku: The product's code.
    """
    return sku


def test_the_manifest_records_the_agent_configuration(tmp_path: Path, server: FakeServer) -> None:
    output = tmp_path / "out.jsonl"
    agent = make_agent(
        server.url, instructions="Be brief.", tools=[lookup], model_settings={"temperature": 0.0}
    )
    run_batch_sync(agent, ["x"], output=output)
    manifest = json.loads(manifest_path(output).read_text())
    assert manifest_path(output).name == "out.jsonl.manifest.json"
    config = manifest["config"]
    assert config["model"] == "batch-test-model"
    assert config["instructions"] == "Be brief."
    assert config["tools"] == [lookup_definition(agent)]
    assert config["model_settings"] == {"temperature": 0.0}
    assert manifest["fingerprint"].startswith("sha256:")


def lookup_definition(agent: object) -> object:
    return next(iter(agent.tools)).definition()  # type: ignore[attr-defined]


def test_other_instructions_or_tools_are_refused(tmp_path: Path, server: FakeServer) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url, instructions="Be brief."), numbered(3), output=output)
    before = output.read_bytes()

    changed = make_agent(server.url, instructions="Be thorough.", tools=[lookup])
    with pytest.raises(ResumeRefused) as caught:
        run_batch_sync(changed, numbered(6), output=output)

    message = str(caught.value)
    assert "different agent configuration" in message and "--force" in message
    assert any(d.startswith("instructions changed") for d in caught.value.differences)
    assert "tools: added lookup" in caught.value.differences
    assert isinstance(caught.value, UserError)
    assert output.read_bytes() == before and len(server.chat_requests) == 3


def test_another_model_or_settings_are_refused(tmp_path: Path, server: FakeServer) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url), numbered(1), output=output)
    with pytest.raises(ResumeRefused, match="model_settings"):
        run_batch_sync(
            make_agent(server.url, model_settings={"temperature": 1.0}), numbered(2), output=output
        )
    with pytest.raises(ResumeRefused, match="max_turns: 10 -> 3"):
        run_batch_sync(make_agent(server.url, max_turns=3), numbered(2), output=output)


def test_force_resumes_and_keeps_the_earlier_configuration(
    tmp_path: Path, server: FakeServer
) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url, instructions="A"), numbered(3), output=output)
    first = json.loads(manifest_path(output).read_text())

    summary = run_batch_sync(
        make_agent(server.url, instructions="B"), numbered(5), output=output, force=True
    )

    assert summary.progress.ok == 2 and summary.progress.skipped == 3
    assert any("force" in note for note in summary.notes)
    manifest = json.loads(manifest_path(output).read_text())
    assert manifest["config"]["instructions"] == "B"
    assert manifest["history"][0]["fingerprint"] == first["fingerprint"]
    assert manifest["history"][0]["config"]["instructions"] == "A"
    # Resuming again with B needs no force now.
    assert (
        run_batch_sync(
            make_agent(server.url, instructions="B"), numbered(5), output=output
        ).progress.skipped
        == 5
    )


def test_results_without_a_manifest_are_refused_unless_forced(
    tmp_path: Path, server: FakeServer
) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url), numbered(2), output=output)
    manifest_path(output).unlink()
    with pytest.raises(ResumeRefused, match="no manifest"):
        run_batch_sync(make_agent(server.url), numbered(3), output=output)
    summary = run_batch_sync(make_agent(server.url), numbered(3), output=output, force=True)
    assert summary.progress.ok == 1 and manifest_path(output).exists()


def test_another_endpoint_of_the_same_configuration_resumes(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    with FakeServer(handler=echo) as first:
        run_batch_sync(make_agent(first.url), numbered(2), output=output)
    with FakeServer(handler=echo) as second:  # another port: another endpoint
        summary = run_batch_sync(make_agent(second.url), numbered(4), output=output)
    assert summary.progress.skipped == 2 and summary.progress.ok == 2
    assert sorted(r["id"] for r in lines(output)) == [0, 1, 2, 3]


def test_a_broken_manifest_says_how_to_go_on(tmp_path: Path, server: FakeServer) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url), numbered(1), output=output)
    manifest_path(output).write_text("{not json")
    with pytest.raises(UserError, match="cannot read the batch manifest"):
        run_batch_sync(make_agent(server.url), numbered(2), output=output)


def test_every_field_of_the_configuration_is_recorded_but_the_key() -> None:
    import dataclasses

    from agentkit.agent import AgentConfig
    from agentkit.batch._manifest import agent_config

    agent = make_agent("http://user:secret@127.0.0.1:9/v1", instructions="Be brief.")
    config = agent_config(agent)
    fields = {f.name for f in dataclasses.fields(AgentConfig)}
    assert set(config) == (fields - {"api_key", "base_url"}) | {"model_type", "endpoint"}
    text = json.dumps(config)
    assert "test-key" not in text and "secret" not in text
    assert config["endpoint"] == "http://127.0.0.1:9/v1"


def watch(event: object) -> None:
    """A hook that only looks."""


def test_what_does_not_change_answers_resumes_and_what_does_is_refused(
    tmp_path: Path, server: FakeServer
) -> None:
    output = tmp_path / "out.jsonl"
    run_batch_sync(make_agent(server.url), numbered(1), output=output)
    observed = make_agent(server.url, hooks=[watch], name="labeller", timeout=5.0)
    assert run_batch_sync(observed, numbered(2), output=output).progress.ok == 1
    with pytest.raises(ResumeRefused, match=r"max_input_tokens: null -> 4000"):
        run_batch_sync(make_agent(server.url, max_input_tokens=4000), numbered(3), output=output)


def test_callables_are_described_by_name_the_same_in_every_process() -> None:
    from agentkit.batch._manifest import describe

    assert describe(watch) == f"{__name__}.watch"
    assert describe(object()) == "builtins.object"  # never a repr with a memory address
    assert describe({"a": (1, watch)}) == {"a": [1, f"{__name__}.watch"]}

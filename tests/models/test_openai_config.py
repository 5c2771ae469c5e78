"""OpenAIModel configuration, and the sync entry point over real HTTP."""

from __future__ import annotations

import pytest

from agentkit import Agent, ModelError, UserError
from agentkit.models import DEFAULT_BASE_URL, OpenAIModel
from agentkit.testing import Completion, FakeServer

KEY = "sk-test-SECRET-0123456789"


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENTKIT_BASE_URL", "AGENTKIT_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserError, match="no API key for the haimaker endpoint"):
        OpenAIModel()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-key")
    assert OpenAIModel().base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-env/v1")
    monkeypatch.setenv("AGENTKIT_BASE_URL", "http://agentkit-env/v1/")
    monkeypatch.setenv("AGENTKIT_API_KEY", "sk-agentkit-key")
    model = OpenAIModel()
    assert model.base_url == "http://agentkit-env/v1"
    assert model.secrets == ("sk-agentkit-key",)
    assert OpenAIModel(base_url="http://arg/v1", api_key="k" * 10).base_url == "http://arg/v1"
    with pytest.raises(UserError, match="must start with http"):
        OpenAIModel(base_url="ftp://x")


def test_run_sync_over_http_twice(fake_server: FakeServer) -> None:
    fake_server.add(Completion("one"), Completion("two"))
    agent = Agent("m", base_url=fake_server.url, api_key=KEY)
    assert agent.run_sync("a").output == "one"
    assert agent.run_sync("b").output == "two"  # a fresh event loop, a fresh client


def test_model_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentkit.models import DEFAULT_MODEL, ENDPOINT_VARIABLES, model_from_env

    for name in (*ENDPOINT_VARIABLES, "AGENTKIT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert model_from_env() == "offline"  # nothing configured: runs anywhere
    monkeypatch.setenv("OLLAMA_HOST", "ignored")
    assert model_from_env() == "offline"
    monkeypatch.setenv("AGENTKIT_BASE_URL", "http://localhost:11434/v1")
    assert model_from_env() == DEFAULT_MODEL
    assert model_from_env("llama3.1") == "llama3.1"
    monkeypatch.setenv("AGENTKIT_MODEL", "llama3.1:70b")
    assert model_from_env() == "llama3.1:70b"


@pytest.mark.slow
def test_one_agent_from_several_threads(fake_server: FakeServer) -> None:
    # Each thread's run_sync has its own event loop, hence its own connection pool; closing
    # one thread's pool at the end of its run must not touch another's.
    import threading

    fake_server.handler = lambda request: Completion("ok", delay=0.02)
    agent = Agent("m", base_url=fake_server.url, api_key=KEY)
    outputs: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                outputs.append(agent.run_sync("hi").output)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert outputs == ["ok"] * 20


def test_fake_server_says_when_its_script_ran_out(fake_server: FakeServer) -> None:
    fake_server.add(Completion("only one"))
    agent = Agent("m", base_url=fake_server.url, api_key=KEY)
    assert agent.run_sync("a").output == "only one"
    with pytest.raises(ModelError, match=r"no reply scripted for chat request #2 \(add more"):
        agent.run_sync("b")
    assert len(fake_server.chat_requests) == 2  # not retried: it is the test's mistake


@pytest.mark.parametrize("model", ["offline", "test/model"])
def test_bad_retries_and_time_limits_are_refused_for_every_model(model: str) -> None:
    # The offline model has no use for them, but the same file must not start failing (or
    # waiting) the day it points at a real endpoint.
    with pytest.raises(UserError) as caught:
        Agent(model, base_url="http://127.0.0.1:9/v1", api_key=KEY, timeout=-1, max_retries=-2)
    text = str(caught.value)
    assert "timeout must be a positive number of seconds, got -1" in text
    assert "max_retries must be a whole number >= 0, got -2" in text

"""Choosing a model: a model id, "offline", "completions:ID", or a `Model` instance; the CLI's
offline choice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from agentkit.errors import UserError
from agentkit.models._base import Model, limit_problems
from agentkit.models.completions import PREFIX as COMPLETIONS, LlamaCompletionsModel
from agentkit.models.offline import OfflineModel
from agentkit.models.openai import OpenAIModel

__all__ = ["offline_override", "resolve_model", "with_model_id"]


# How the CLI's offline choice reaches the Agent(...) calls of an agent file it imports:
# "forced" (--offline) makes every model id the offline model; "auto" (no endpoint configured)
# does so for ids not given their own base_url or api_key in the file.
_offline_override: ContextVar[str | None] = ContextVar("agentkit_offline_override", default=None)


@contextmanager
def offline_override(mode: str | None) -> Iterator[None]:
    """Within the block, model ids resolve to the offline model as `mode` says (see above)."""
    token = _offline_override.set(mode)
    try:
        yield
    finally:
        _offline_override.reset(token)


def _offline_instead(model: object, base_url: str | None, api_key: str | None) -> bool:
    mode = _offline_override.get()
    if mode is None or not isinstance(model, str):
        return False
    return mode == "forced" or (base_url is None and api_key is None)


def resolve_model(
    model: str | Model,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    max_retries: int = 2,
    timeout: float = 60.0,
    deadline: float = 600.0,
) -> Model:
    """A `Model` for a model id ("offline" is the built-in offline model; "completions:ID" is
    ID on the endpoint's raw completions API, prompted by agentkit) or a `Model`.

    Raises:
        UserError: The configuration is not valid.
    """
    if isinstance(model, Model):
        if base_url is not None or api_key is not None:
            raise UserError("base_url and api_key configure a model id; give them to your Model")
        return model
    if model == "offline" or _offline_instead(model, base_url, api_key):
        problems = limit_problems(max_retries, timeout, deadline)
        if problems:
            raise UserError("the model configuration is not valid:", problems)
        return OfflineModel()
    if not isinstance(model, str):
        raise UserError(f"model must be a model id or a Model instance, got {model!r}")
    adapter: type[OpenAIModel] = OpenAIModel
    if model.startswith(COMPLETIONS):
        model, adapter = model[len(COMPLETIONS) :], LlamaCompletionsModel
    return adapter(
        model,
        base_url=base_url,
        api_key=api_key,
        max_retries=max_retries,
        timeout=timeout,
        deadline=deadline,
    )


def with_model_id(model: OpenAIModel, model_id: str) -> OpenAIModel:
    """`model` with another model id, its endpoint and settings kept; a "completions:ID" id
    gives the raw completions API's model (the CLI's --model on an agent file's model)."""
    if not model_id.startswith(COMPLETIONS):
        return model.replace(model=model_id)
    name = model_id[len(COMPLETIONS) :]
    if isinstance(model, LlamaCompletionsModel):
        return model.replace(model=name)
    return LlamaCompletionsModel(name, client=model._given_client, **model._settings())

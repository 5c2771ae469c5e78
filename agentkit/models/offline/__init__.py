"""The offline model: a deterministic stand-in that runs the whole loop without a network."""

from agentkit.models.offline._model import OfflineModel

__all__ = ["OfflineModel"]

"""The tiny model's network in numpy: what llama.cpp's llama graph computes, for tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from _tinyllama import EOM, EOT, Design, _byte_table, effective_thetas


def _rms(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def _rope(x: np.ndarray, positions: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    """llama.cpp's "norm" RoPE: pair (2i, 2i+1) turned by pos * theta_i. x: (n, heads, dim)."""
    angle = positions[:, None] * thetas[None, :]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


class Reference:
    """The network in numpy: the logits llama.cpp computes after the last token."""

    def __init__(self, design: Design, tensors: dict[str, np.ndarray]) -> None:
        self.design = design
        self.t = {name: tensor.astype(np.float64) for name, tensor in tensors.items()}
        self.thetas = effective_thetas(design.shape)
        self._prefix: list[int] = []
        self._k = self._v = np.zeros((0, design.shape.n_head, design.shape.head_dim))
        # Every token outside the alphabet has the same embedding: its output row once.
        embd = tensors["token_embd.weight"]
        outside = np.ones(len(embd), dtype=bool)
        outside[design.alphabet] = False
        representative = int(np.argmax(outside))
        assert (embd[outside] == embd[representative]).all()
        self.representative = representative
        self.rows = self.t["token_embd.weight"][[*design.alphabet, representative]]
        self.row_of = np.full(len(embd), len(design.alphabet))
        self.row_of[design.alphabet] = np.arange(len(design.alphabet))

    def logits(self, tokens: Sequence[int]) -> np.ndarray:
        """The logit of every token of the vocabulary."""
        result: np.ndarray = self._row_logits(tokens)[self.row_of]
        return result

    def _keys_values(self, tokens: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Keys (turned) and values of every position; those of a known prefix are kept."""
        s, t = self.design.shape, self.t
        known = self._prefix
        start = len(known) if list(tokens[: len(known)]) == known else 0
        x = t["token_embd.weight"][np.asarray(tokens[start:], dtype=np.int64)]
        h = _rms(x, t["blk.0.attn_norm.weight"], s.rms_eps)
        shape = (len(x), s.n_head, s.head_dim)
        positions = np.arange(start, len(tokens), dtype=np.float64)
        k = _rope((h @ t["blk.0.attn_k.weight"].T).reshape(shape), positions, self.thetas)
        v = (h @ t["blk.0.attn_v.weight"].T).reshape(shape)
        if start:
            k, v = np.concatenate([self._k, k]), np.concatenate([self._v, v])
        self._prefix, self._k, self._v = list(tokens), k, v
        return k, v

    def _row_logits(self, tokens: Sequence[int]) -> np.ndarray:
        s, t = self.design.shape, self.t
        k, v = self._keys_values(tokens)
        x = t["token_embd.weight"][tokens[-1]]
        h = _rms(x, t["blk.0.attn_norm.weight"], s.rms_eps)
        q = (t["blk.0.attn_q.weight"] @ h).reshape(1, s.n_head, s.head_dim)
        q = _rope(q, np.array([len(tokens) - 1], dtype=np.float64), self.thetas)
        scores = np.einsum("hd,nhd->hn", q[0], k) / s.head_dim**0.5
        weights_ = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights_ /= weights_.sum(axis=1, keepdims=True)
        attended = np.einsum("hn,nhd->hd", weights_, v).reshape(-1)
        residual = x + t["blk.0.attn_output.weight"] @ attended
        f = _rms(residual, t["blk.0.ffn_norm.weight"], s.rms_eps)
        g = f @ t["blk.0.ffn_gate.weight"].T
        hidden = g / (1.0 + np.exp(-g)) * (f @ t["blk.0.ffn_up.weight"].T)
        residual = residual + t["blk.0.ffn_down.weight"] @ hidden
        out = _rms(residual, t["output_norm.weight"], s.rms_eps)
        result: np.ndarray = self.rows @ out  # the output is tied to the embedding
        return result

    def greedy(self, prompt: Sequence[int], limit: int = 64) -> list[int]:
        """Greedy decoding until an end-of-turn token (kept) or `limit` tokens."""
        tokens, out = list(prompt), []
        for _ in range(limit):
            row = int(np.argmax(self._row_logits(tokens)))
            nxt = (
                self.design.alphabet[row]
                if row < len(self.design.alphabet)
                else self.representative
            )
            out.append(nxt)
            tokens.append(nxt)
            if nxt in (EOT, EOM):
                break
        return out

    def text(self, ids: Iterable[int]) -> str:
        """The text of the tokens (special tokens by name)."""
        table = _byte_table()
        back = {char: byte for byte, char in table.items()}
        pieces = self.design.vocab
        return b"".join(
            pieces[i].encode() if i >= 128000 else bytes(back[c] for c in pieces[i]) for i in ids
        ).decode("utf-8", errors="replace")

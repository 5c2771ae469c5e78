"""A tiny Llama-architecture GGUF whose greedy decoding is set by hand, for llama.cpp's server.

No package ships a model with the Llama 3 tokenizer, and a random model says nothing useful.
This one has the real Llama 3 vocabulary and merges (llama.cpp's `ggml-vocab-llama-bpe.gguf`),
the Llama 3.1 special tokens, Meta's Llama 3.1 chat template, and one transformer layer whose
weights make greedy decoding follow fixed token chains ("scripts"):

- no tool result in the prompt: `{"name": "calculate", "parameters": {"expression": "17*23"}}`
  (Llama 3.1's JSON tool call, which the server parses as a tool call), then `<|eot_id|>`;
- a tool result in the prompt (an `ipython` header): `The answer is 391.`;
- the word " broken" in the prompt: the same call with a bare `17*23` (not JSON), which the
  server fails to parse as a call;
- the word " twice" in the prompt: two calls in one reply, separated by `; `.

How the weights do it (all with a residual stream of `D` dimensions):

- The embedding of a token of the *alphabet* (the tokens the scripts and the switches use) is
  a one-hot in the CUR block plus a constant dimension; every other token shares one "other"
  slot. Every embedding has the same norm, so RMSNorm scales them alike.
- Attention, 4 heads. Heads 0 and 1 are positional: their queries and keys come from the
  constant dimension alone, so the score depends only on the distance between positions.
  With RoPE, pair `i` turns by `pos * theta_i`; a key turned back by `delta * theta_i` makes
  the score `sum_i A cos((m - n - delta) * theta_i)`, which peaks at distance `delta` and, for
  frequencies without a common period (fractional parts of square roots of primes), stays
  below 0.6 of the peak at every other distance up to the context size. Scaled so the gap is
  about 40 logits, the heads copy the previous (head 0) and the one before (head 1) token's
  one-hot into the PREV1 and PREV2 blocks. The frequencies are set per pair with llama.cpp's
  `rope_freqs` factors; pairs given an infinite factor do not turn at all.
- Heads 2 and 3 are content heads on the pairs that do not turn: a constant query against a
  key that is large for a marker token (head 2: the `ipy` of an `ipython` header; head 3:
  " broken" or " twice") and half as large for `<|begin_of_text|>`, which serves as the
  default. Their values set the MODE (tool result seen or not) and TRIGGER flags.
- The feed-forward layer is a table: one SwiGLU unit per script step, gated on the
  conjunction (CUR, PREV1, PREV2, flags) through a threshold, writes a large value on the
  CUR slot of the next token. A default unit favours `<|eot_id|>`, so a context that no
  script knows ends the reply instead of rambling to the token cap.
- The output projection is the embedding (tied), read through an output norm that keeps only
  the CUR block: the logit of an alphabet token is its CUR slot.

`_tinyllama_reference.Reference` runs the same network in numpy (RMSNorm, RoPE as
llama.cpp's "norm" mode with frequency factors, causal attention, SwiGLU), so the design
is tested without a server; `_llama_assets` fetches the vocabulary and the template.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _llama_assets import Assets, cache_folder, fetch_assets, read_vocab

try:
    import numpy as np
except ImportError:  # the fixtures say what to install (and fail under CI) before any use
    np = None

# Prompt-side tokens, as llama.cpp's tokenizer splits them (checked against the server).
BOS = 128000
START_HEADER = 128006
END_HEADER = 128007
EOM = 128008
EOT = 128009
PYTHON_TAG = 128010
ASSISTANT = 78191  # "assistant" after <|start_header_id|>
IPY = 23799  # "ipy" of "ipython" after <|start_header_id|> (" ip" + "ython" elsewhere)
DOUBLE_NEWLINE = 271  # "\n\n" after <|end_header_id|>
BROKEN = 11102  # " broken"
TWICE = 11157  # " twice"

TOOL_CALL = '{"name": "calculate", "parameters": {"expression": "17*23"}}'
ANSWER = "The answer is 391."
BROKEN_CALL = '{"name": "calculate", "parameters": {"expression": 17*23}}'
SECOND_CALL = '{"name":"calculate","parameters":{"expression":"2+2"}}'
TWO_CALLS = f"{TOOL_CALL}; {SECOND_CALL}"


# Flags a script can require (each is a dimension of the residual stream).
MODE_OFF, MODE_ON, TRIG_NONE, TRIG_BROKEN, TRIG_TWICE = (
    "mode_off",
    "mode_on",
    "trig_none",
    "trig_broken",
    "trig_twice",
)
FLAGS = (MODE_OFF, MODE_ON, TRIG_NONE, TRIG_BROKEN, TRIG_TWICE)


@dataclass(frozen=True)
class Script:
    """A chain of output tokens, taken after `<|start_header_id|>assistant<|end_header_id|>\\n\\n`
    when the prompt sets all of `flags`; pieces are split by "|" as the model emits them."""

    name: str
    flags: frozenset[str]
    pieces: str
    end: int = EOT

    @property
    def text(self) -> str:
        return self.pieces.replace("|", "")


_CALL_PIECES = '{"|name|":| "|calculate|",| "|parameters|":| {"|expression|":| "|17|*|23|"}}'
SCRIPTS = (
    Script("tool call", frozenset({MODE_OFF, TRIG_NONE}), _CALL_PIECES),
    Script("answer", frozenset({MODE_ON}), "The| answer| is| |391|."),
    Script(
        "broken call",
        frozenset({MODE_OFF, TRIG_BROKEN}),
        '{"|name|":| "|calculate|",| "|parameters|":| {"|expression|":| |17|*|23|}}',
    ),
    Script(
        "two calls",
        frozenset({MODE_OFF, TRIG_TWICE}),
        _CALL_PIECES + '|;| {"|name|":"|calculate|","|parameters|":{"|expression|":"|2|+|2|"}}',
    ),
)
assert SCRIPTS[0].text == TOOL_CALL and SCRIPTS[1].text == ANSWER
assert SCRIPTS[2].text == BROKEN_CALL and SCRIPTS[3].text == TWO_CALLS

# The start of every reply: the three tokens before the first generated one.
REPLY_PREFIX = (ASSISTANT, END_HEADER, DOUBLE_NEWLINE)

# RoPE frequencies of the positional pairs: no common period below the context size.
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53)
POSITIONAL_THETAS = tuple(0.3 + 2.8 * (p**0.5 % 1.0) for p in _PRIMES)


@dataclass(frozen=True)
class Shape:
    """The hyperparameters, as written to the GGUF."""

    n_vocab: int = 128256
    n_embd: int = 128
    n_head: int = 4
    head_dim: int = 64
    n_ff: int = 128
    n_ctx: int = 8192
    rope_base: float = 10000.0
    rms_eps: float = 1e-5

    @property
    def n_pairs(self) -> int:
        return self.head_dim // 2


@dataclass
class Design:
    """The alphabet, the residual layout, and the rules taken from the scripts."""

    vocab: Sequence[str]
    shape: Shape = field(default_factory=Shape)

    def __post_init__(self) -> None:
        piece_ids = _piece_index(self.vocab)
        self.chains = [
            (script, [piece_ids[_byte_level(p)] for p in script.pieces.split("|")])
            for script in SCRIPTS
        ]
        used = {BOS, IPY, BROKEN, TWICE, EOT, EOM, PYTHON_TAG, *REPLY_PREFIX}
        for script, ids in self.chains:
            used.update(ids)
            used.add(script.end)
        self.alphabet = sorted(used)
        self.k = len(self.alphabet) + 1  # and one slot for every other token
        self.slot = {token: i for i, token in enumerate(self.alphabet)}
        self.other = self.k - 1
        # Residual layout: CUR, PREV1, PREV2 blocks of k slots, then the constant and flags.
        self.cur, self.prev1, self.prev2 = 0, self.k, 2 * self.k
        self.const = 3 * self.k
        self.flag = {name: self.const + 1 + i for i, name in enumerate(FLAGS)}
        if self.const + 1 + len(FLAGS) > self.shape.n_embd or self.k > self.shape.head_dim:
            raise ValueError(f"{self.k} alphabet slots do not fit the shape {self.shape}")
        self.rules = self._rules()
        if len(self.rules) + 1 > self.shape.n_ff:
            raise ValueError(f"{len(self.rules)} rules do not fit n_ff={self.shape.n_ff}")

    def _rules(self) -> list[tuple[tuple[int, ...], frozenset[str], int]]:
        """(context: cur, prev1, prev2), flags, next token; one per script step."""
        rules: dict[tuple[tuple[int, ...], frozenset[str]], int] = {}
        for script, ids in self.chains:
            sequence = [*REPLY_PREFIX, *ids, script.end]
            for i in range(len(REPLY_PREFIX) - 1, len(sequence) - 1):
                context = (sequence[i], sequence[i - 1], sequence[i - 2])
                key = (context, script.flags)
                if rules.get(key, sequence[i + 1]) != sequence[i + 1]:
                    raise ValueError(f"script {script.name!r}: context {context} is ambiguous")
                rules[key] = sequence[i + 1]
        return [(context, flags, nxt) for (context, flags), nxt in rules.items()]

    def slot_of(self, token: int) -> int:
        return self.slot.get(token, self.other)


def _byte_table() -> dict[int, str]:
    """Byte-level BPE's byte -> character map: printable bytes stand for themselves, the
    others (space, newline, ...) for characters from U+0100 on, in byte order."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table = {b: chr(b) for b in printable}
    for extra, b in enumerate(b for b in range(256) if b not in table):
        table[b] = chr(256 + extra)
    return table


def _byte_level(text: str) -> str:
    """A piece as the byte-level BPE vocabulary spells it."""
    table = _byte_table()
    return "".join(table[b] for b in text.encode())


def _piece_index(vocab: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, piece in enumerate(vocab[:128000]):
        index.setdefault(piece, i)
    return index


def _rope_factors(shape: Shape) -> np.ndarray:
    """`rope_freqs`: llama.cpp turns pair i by pos * base**(-2i/n_rot) / factor[i]."""
    n = shape.n_pairs
    natural = shape.rope_base ** (-2.0 * np.arange(n) / shape.head_dim)
    factors = np.full(n, np.float32(1e30), dtype=np.float64)  # pairs that do not turn
    thetas = np.array(POSITIONAL_THETAS)
    factors[: len(thetas)] = natural[: len(thetas)] / thetas
    return factors.astype(np.float32)


def effective_thetas(shape: Shape) -> np.ndarray:
    """The angle per position of each pair, as llama.cpp computes it in float32."""
    n = shape.n_pairs
    scale = np.float32(shape.rope_base) ** np.float32(-2.0 / shape.head_dim)
    natural = np.cumprod(np.concatenate([[1.0], np.full(n - 1, scale)])).astype(np.float32)
    return (natural / _rope_factors(shape)).astype(np.float64)


# Scores after llama.cpp's 1/sqrt(head_dim): the positional peak, and the content heads' keys.
POSITIONAL_PEAK = 100.0
MARKER_SCORE = 40.0
DEFAULT_SCORE = 20.0
# Pre-norm values the feed-forward table writes: the next token, and the default <|eot_id|>.
RULE_OUTPUT = 8.0
DEFAULT_EOT = 3.0
GATE_GAIN = 16.0


def weights(design: Design) -> dict[str, np.ndarray]:
    """Every tensor, numpy layout (out, in); names as llama.cpp's llama architecture wants."""
    s, d = design.shape, design
    n_pos = len(POSITIONAL_THETAS)
    qk = s.n_head * s.head_dim
    wq, wk, wv = (np.zeros((qk, s.n_embd), np.float32) for _ in range(3))
    wo = np.zeros((s.n_embd, qk), np.float32)
    # Attention input: RMSNorm of an embedding with two ones: each becomes sqrt(D/2).
    unit_in = (s.n_embd / 2) ** 0.5
    kq_scale = 1.0 / s.head_dim**0.5
    thetas = effective_thetas(s)
    amplitude = (POSITIONAL_PEAK / kq_scale / n_pos) ** 0.5
    for head, delta, target in ((0, 1, d.prev1), (1, 2, d.prev2)):
        base = head * s.head_dim
        for i in range(n_pos):
            angle = delta * thetas[i]
            wq[base + 2 * i, d.const] = amplitude / unit_in
            wk[base + 2 * i, d.const] = amplitude * np.cos(angle) / unit_in
            wk[base + 2 * i + 1, d.const] = amplitude * np.sin(angle) / unit_in
        for slot in range(d.k):
            wv[base + slot, d.cur + slot] = 1.0 / unit_in
            wo[target + slot, base + slot] = 1.0
    fixed = 2 * n_pos  # the first dimension of a pair that does not turn
    content_heads = (
        (2, {IPY: (MARKER_SCORE, MODE_ON), BOS: (DEFAULT_SCORE, MODE_OFF)}),
        (
            3,
            {
                BROKEN: (MARKER_SCORE, TRIG_BROKEN),
                TWICE: (MARKER_SCORE, TRIG_TWICE),
                BOS: (DEFAULT_SCORE, TRIG_NONE),
            },
        ),
    )
    for head, keys in content_heads:
        base = head * s.head_dim
        wq[base + fixed, d.const] = 1.0
        for value_dim, (token, (score, flag)) in enumerate(keys.items()):
            wk[base + fixed, d.cur + d.slot[token]] = score / kq_scale / unit_in**2
            wv[base + value_dim, d.cur + d.slot[token]] = 1.0 / unit_in
            wo[d.flag[flag], base + value_dim] = 1.0

    embd = np.zeros((s.n_vocab, s.n_embd), np.float16)
    embd[:, d.const] = 1
    embd[:, d.cur + d.other] = 1
    for token, slot in d.slot.items():
        embd[token, d.cur + d.other] = 0
        embd[token, d.cur + slot] = 1

    gate = np.zeros((s.n_ff, s.n_embd), np.float32)
    up = np.zeros((s.n_ff, s.n_embd), np.float32)
    down = np.zeros((s.n_embd, s.n_ff), np.float32)
    # Feed-forward input: CUR, PREV1, PREV2, the constant and two flags are one each.
    unit_ff = (s.n_embd / 6) ** 0.5
    for unit, ((cur, prev1, prev2), flags, nxt) in enumerate(design.rules):
        dims = [d.cur + d.slot_of(cur), d.prev1 + d.slot_of(prev1), d.prev2 + d.slot_of(prev2)]
        dims += [d.flag[f] for f in sorted(flags)]
        for dim in dims:
            gate[unit, dim] += GATE_GAIN / unit_ff
        gate[unit, d.const] -= GATE_GAIN * (len(dims) - 0.5) / unit_ff
        up[unit, d.const] = 1.0 / unit_ff
        down[d.cur + d.slot[nxt], unit] = RULE_OUTPUT / (GATE_GAIN * 0.5)
    default = len(design.rules)
    gate[default, d.const] = GATE_GAIN / unit_ff
    up[default, d.const] = 1.0 / unit_ff
    down[d.cur + d.slot[EOT], default] = DEFAULT_EOT / GATE_GAIN

    output_norm = np.zeros(s.n_embd, np.float32)
    output_norm[d.cur : d.cur + d.k - 1] = 1.0  # alphabet slots only: others stay at 0
    return {
        "token_embd.weight": embd,
        "rope_freqs.weight": _rope_factors(s),
        "output_norm.weight": output_norm,
        "blk.0.attn_norm.weight": np.ones(s.n_embd, np.float32),
        "blk.0.attn_q.weight": wq,
        "blk.0.attn_k.weight": wk,
        "blk.0.attn_v.weight": wv,
        "blk.0.attn_output.weight": wo,
        "blk.0.ffn_norm.weight": np.ones(s.n_embd, np.float32),
        "blk.0.ffn_gate.weight": gate,
        "blk.0.ffn_up.weight": up,
        "blk.0.ffn_down.weight": down,
    }


def model_path(assets: Assets, folder: Path) -> Path:
    """The model file for these assets and this design (its name holds a hash of both)."""
    key = hashlib.sha256()
    # This file is the design: any change to it builds a new model.
    for part in (assets.vocab, assets.template, Path(__file__)):
        key.update(part.read_bytes())
    return folder / f"tinyllama-{key.hexdigest()[:16]}.gguf"


def build(assets: Assets, path: Path) -> Path:
    """Write the model to `path` (atomically) unless it is there already."""
    if path.is_file():
        return path
    import gguf

    tokens, types, merges = read_vocab(assets.vocab)
    design = Design(tokens)
    s = design.shape
    partial = path.with_suffix(f".{os.getpid()}.part")
    writer = gguf.GGUFWriter(partial, "llama")
    writer.add_name("agentkit tiny llama 3.1 (hand-set weights)")
    writer.add_context_length(s.n_ctx)
    writer.add_embedding_length(s.n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(s.n_ff)
    writer.add_head_count(s.n_head)
    writer.add_head_count_kv(s.n_head)
    writer.add_key_length(s.head_dim)
    writer.add_value_length(s.head_dim)
    writer.add_rope_dimension_count(s.head_dim)
    writer.add_rope_freq_base(s.rope_base)
    writer.add_layer_norm_rms_eps(s.rms_eps)
    writer.add_vocab_size(s.n_vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("llama-bpe")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(EOT)
    writer.add_eot_token_id(EOT)
    writer.add_eom_token_id(EOM)
    writer.add_add_bos_token(True)
    writer.add_chat_template(assets.template.read_text(encoding="utf-8"))
    for name, tensor in weights(design).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(path)
    return path


def main(argv: Sequence[str]) -> int:
    """`python tests/integration/_tinyllama.py [FOLDER]`: fetch the assets, build the model."""
    folder = Path(argv[0]) if argv else cache_folder()
    assets = fetch_assets(folder)
    print(build(assets, model_path(assets, folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

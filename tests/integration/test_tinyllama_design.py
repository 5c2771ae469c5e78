"""The tiny model's hand-set weights, checked in numpy before any server runs them.

`Reference` computes what llama.cpp's llama graph computes; if these pass and a server test
fails, the difference is in how llama.cpp reads the file, not in the design.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from _llama_assets import Assets, read_vocab
from _tinyllama import (
    ANSWER,
    ASSISTANT,
    BOS,
    BROKEN,
    BROKEN_CALL,
    DOUBLE_NEWLINE,
    END_HEADER,
    EOT,
    IPY,
    POSITIONAL_THETAS,
    START_HEADER,
    TOOL_CALL,
    TWICE,
    TWO_CALLS,
    Design,
    Shape,
    effective_thetas,
    weights,
)

np = pytest.importorskip("numpy")
from _tinyllama_reference import Reference  # noqa: E402 - needs numpy

SYSTEM, USER = 9125, 882  # "system", "user" after <|start_header_id|>
FILLER = 1234  # an ordinary token no script uses


@pytest.fixture(scope="module")
def reference(llama_assets: Assets) -> Reference:
    tokens, _, _ = read_vocab(llama_assets.vocab)
    design = Design(tokens)
    return Reference(design, weights(design))


def header(role: int, *body: int) -> list[int]:
    return [START_HEADER, role, END_HEADER, DOUBLE_NEWLINE, *body, EOT]


def prompt(user: Sequence[int] = (FILLER,), *, result: bool = False, filler: int = 20) -> list[int]:
    tokens = [BOS, *header(SYSTEM, *[FILLER] * filler), *header(USER, *user)]
    if result:
        tokens += [*header(ASSISTANT, FILLER), START_HEADER, IPY, 4690, END_HEADER, 271, 19631, EOT]
    return [*tokens, START_HEADER, ASSISTANT, END_HEADER, DOUBLE_NEWLINE]


def reply(reference: Reference, tokens: list[int]) -> str:
    out = reference.greedy(tokens)
    assert out[-1] == EOT, reference.text(out)
    return reference.text(out[:-1])


def test_the_positional_score_peaks_only_at_its_distance() -> None:
    # Score of a key `d` positions back for a head aimed at `delta`, over the whole context.
    thetas = effective_thetas(Shape())[: len(POSITIONAL_THETAS)]
    distances = np.arange(Shape().n_ctx, dtype=np.float64)
    for delta in (1, 2):
        score = np.cos(np.outer(distances - delta, thetas)).sum(axis=1) / len(thetas)
        others = np.delete(score, delta)
        assert score[delta] == pytest.approx(1.0)
        assert others.max() < 0.6  # a gap of > 40 logits at the scale the weights use


def test_every_script_step_is_one_rule(reference: Reference) -> None:
    design = reference.design
    steps = sum(len(ids) + 1 for _, ids in design.chains)  # each token, then the end
    assert len({(context, flags) for context, flags, _ in design.rules}) == steps
    assert len(design.rules) < design.shape.n_ff  # and one unit left for the default


def test_without_a_tool_result_the_model_calls_the_tool(reference: Reference) -> None:
    assert reply(reference, prompt()) == TOOL_CALL


def test_with_a_tool_result_the_model_answers(reference: Reference) -> None:
    assert reply(reference, prompt(result=True)) == ANSWER


def test_the_switch_words_select_their_scripts(reference: Reference) -> None:
    assert reply(reference, prompt((FILLER, BROKEN))) == BROKEN_CALL
    assert reply(reference, prompt((TWICE, FILLER))) == TWO_CALLS
    # After a tool result the answer wins over either switch.
    assert reply(reference, prompt((BROKEN,), result=True)) == ANSWER


def test_the_scripts_hold_far_into_the_context(reference: Reference) -> None:
    assert reply(reference, prompt(filler=7000)) == TOOL_CALL


def test_an_unknown_context_ends_the_reply(reference: Reference) -> None:
    # Not after an assistant header: no rule applies, and <|eot_id|> wins.
    assert reference.greedy([BOS, *header(USER, FILLER), FILLER]) == [EOT]

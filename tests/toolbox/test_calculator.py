"""The ready-made `calculator` tool module, loaded by short name as a user would."""

from __future__ import annotations

import sys

import pytest

from agentkit import ModelRetry, Tool
from agentkit.tools import load_tools


@pytest.fixture(scope="module")
def calculate() -> Tool:
    tools = {t.name: t for t in load_tools("calculator")}
    assert set(tools) == {"calculate"}
    return tools["calculate"]


def test_schema_documents_every_parameter(calculate: Tool) -> None:
    assert calculate.parameters["required"] == ["expression"]
    assert calculate.parameters["properties"]["expression"]["type"] == "string"
    for prop in calculate.parameters["properties"].values():
        assert prop["description"].strip()
    assert "sqrt" in calculate.description
    assert not calculate.requires_approval


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2", "3"),
        ("2 + 3 * 4", "14"),
        ("(2 + 3) * 4", "20"),
        ("2 ** 3 ** 2", "512"),
        ("-2 ** 2", "-4"),
        ("(-2) ** 2", "4"),
        ("+5 - -3", "8"),
        ("7 / 2", "3.5"),
        ("10 / 2", "5"),
        ("7 // 2", "3"),
        ("-7 // 2", "-4"),
        ("7 % 3", "1"),
        ("0.1 + 0.2", "0.3"),
        ("1.5e3 * 2", "3000"),
        ("2 ** -2", "0.25"),
        ("2 ** 100", "1267650600228229401496703205376"),
        ("sqrt(16)", "4"),
        ("sqrt(2)", "1.4142135623731"),
        ("log(e)", "1"),
        ("log(8, 2)", "3"),
        ("log10(1000)", "3"),
        ("log2(1024)", "10"),
        ("exp(0)", "1"),
        ("sin(pi / 2)", "1"),
        ("cos(0)", "1"),
        ("atan2(1, 1) * 4", "3.14159265358979"),
        ("degrees(pi)", "180"),
        ("radians(180)", "3.14159265358979"),
        ("floor(-2.5)", "-3"),
        ("ceil(2.1)", "3"),
        ("abs(-7.25)", "7.25"),
        ("round(2.567, 2)", "2.57"),
        ("round(1234.5678, -2)", "1200"),
        ("min(3, 1, 2)", "1"),
        ("max(3, 1.5, 2)", "3"),
        ("factorial(20)", "2432902008176640000"),
        ("factorial(5.0)", "120"),
        ("hypot(3, 4)", "5"),
        ("tau / pi", "2"),
        ("  ( 1 + 2 )  ", "3"),
        ("1e300 * 10", "1e+301"),
        ("round(100 * 1.05 ** 10, 2)", "162.89"),
    ],
)
def test_valid_expressions(calculate: Tool, expression: str, expected: str) -> None:
    assert calculate(expression) == expected


def _nested(depth: int) -> str:
    return "(" * depth + "1" + ")" * depth


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", r"^division by zero"),
        ("5 // 0", r"^division by zero"),
        ("5 % 0", r"^division by zero"),
        ("0 ** -1", r"^division by zero"),
        ("__import__('os')", r"calling `__import__` is not allowed; the functions are: sqrt"),
        ("__import__('os').system('id')", r"calling `__import__\('os'\)\.system` is not allowed"),
        ("(1).__class__", r"attribute access \(`\.__class__`\) is not allowed"),
        ("().__class__.__bases__[0].__subclasses__()", r"is not allowed"),
        ("x", r"name `x` is not allowed; use numbers"),
        ("x + 1", r"name `x` is not allowed"),
        ("sqrt", r"`sqrt` is a function; call it with parentheses"),
        ("open('/etc/passwd')", r"calling `open` is not allowed"),
        ("eval('1')", r"calling `eval` is not allowed"),
        ("math.sqrt(4)", r"calling `math\.sqrt` is not allowed"),
        ("sqrt(x=4)", r"pass sqrt's arguments by position only"),
        ("max(*[1, 2])", r"by position only"),
        ("lambda: 1", r"^lambda functions are not allowed"),
        ("[i for i in (1, 2)]", r"^comprehensions are not allowed"),
        ("(i for i in (1, 2))", r"^generator expressions are not allowed"),
        ("'abc'", r"'abc' is not a number"),
        ("'a' * 10", r"'a' is not a number"),
        ("f'{1}'", r"^strings are not allowed"),
        ("True + 1", r"True is not a number"),
        ("None", r"None is not a number"),
        ("1j", r"1j is not a number"),
        ("[1, 2][0]", r"^indexing and slicing are not allowed"),
        ("1, 000", r"^tuples .*write 1000, not 1,000"),
        ("1 < 2", r"^comparisons are not allowed"),
        ("1 if 1 else 0", r"^conditional expressions are not allowed"),
        ("(y := 2)", r"assignments \(:=\) are not allowed"),
        ("2 ^ 8", r"`\^` is not a power operator here; write powers with \*\*"),
        ("1 << 100000000", r"`<<` is not supported"),
        ("~1", r"`~` is not supported"),
        ("not 1", r"`not` is not supported"),
        ("9 ** 9 ** 9", r"9\*\*387420489 is too large"),
        ("2 ** 10 ** 10", r"2\*\*10000000000 is too large"),
        ("10 ** 1001", r"more than 1000 digits"),
        ("10 ** 5000", r"10\*\*5000 is too large \(more than 1000 digits\)"),
        ("2.0 ** 5000", r"too large to represent \(overflow\)"),
        ("exp(1000)", r"in exp\(\) is too large"),
        ("1e999", r"too large for a float"),
        ("10 ** 400 / 3", r"too large to represent"),
        ("factorial(10**6)", r"factorial\(1000000\) is too large: the argument may be at most"),
        ("factorial(-1)", r"factorial needs a whole number >= 0, got -1"),
        ("factorial(2.5)", r"factorial needs a whole number >= 0, got 2\.5"),
        ("factorial(400) * factorial(400)", r"more than 1000 digits"),
        ("round(5, -10 ** 9)", r"round's second argument must be between -100 and 100"),
        ("round(5, 1.5)", r"round's second argument must be a whole number"),
        ("sqrt(-1)", r"invalid argument in sqrt\(\) \(-1\): math domain error"),
        ("log(0)", r"invalid argument in log\(\) \(0\)"),
        ("max()", r"invalid argument in max\(\)"),
        ("(-8) ** (1 / 3)", r"complex number"),
        ("1 +", r"^cannot parse '1 \+'"),
        ("import os", r"^cannot parse"),
        ("1; 2", r"^cannot parse"),
        ("", r"^the expression is empty"),
        ("   ", r"^the expression is empty"),
        ("\x00", r"^cannot parse"),
        ("1 + " * 200 + "1", r"is 801 characters long; the limit is 500"),
        (_nested(60), r"nests parentheses more than 50 deep"),
        ("-" * 80 + "1", r"nests more than 50 levels deep"),
        ("sqrt(" * 51 + "1" + ")" * 51, r"nests parentheses more than 50 deep"),
    ],
)
def test_refused_expressions(calculate: Tool, expression: str, message: str) -> None:
    with pytest.raises(ModelRetry, match=message):
        calculate(expression)


def test_nesting_at_the_cap_is_fine(calculate: Tool) -> None:
    assert calculate(_nested(50)) == "1"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("+".join(str(i) for i in range(1, 61)), "1830"),  # was "nests more than 50 levels"
        ("+".join(["1"] * 250), "250"),
        ("-".join(["1"] * 250), "-248"),
        ("*".join(["1.5"] * 120), f"{1.5**120:.15g}"),
        ("+".join(["2*3"] * 100), "600"),
        ("+".join(["-1"] * 160), "-160"),
        ("/".join(["1e300"] + ["2"] * 160), f"{1e300 / 2**160:.15g}"),
        ("**".join(["1"] * 160), "1"),  # a right-leaning chain
        ("max(" + ",".join(["1+1"] * 120) + ")", "2"),
        ("(" * 50 + "+".join(["1"] * 150) + ")" * 50, "150"),
    ],
)
def test_long_chains_of_operators_are_not_nesting(
    calculate: Tool, expression: str, expected: str
) -> None:
    assert len(expression) <= 500
    assert calculate(expression) == expected


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("+".join(["1"] * 250), "250"),
        ("**".join(["1"] * 160), "1"),
        ("(-" * 49 + "+".join(["1"] * 100) + ")" * 49, "98"),  # nesting at the cap
        ("1*" + "-" * 49 + "1", "-1"),
        ("-".join(["(-(-(-(-1))))"] * 35), "-33"),
    ],
)
def test_evaluation_stays_far_from_the_recursion_limit(
    calculate: Tool, expression: str, expected: str
) -> None:
    # Room for 50 levels of real nesting, far too little for a chain of 250 operators
    # evaluated recursively.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + 350)
    try:
        result = calculate(expression)
    finally:
        sys.setrecursionlimit(limit)
    assert result == expected


@pytest.mark.parametrize(
    "expression",
    [
        "1*" + "-" * 50 + "1",  # a unary chain inside an operator chain is still nesting
        "1+" * 10 + "-" * 60 + "1",
        "2**" + "-" * 60 + "1",
    ],
)
def test_real_nesting_inside_a_chain_is_still_capped(calculate: Tool, expression: str) -> None:
    with pytest.raises(ModelRetry, match="nests more than 50 levels deep"):
        calculate(expression)


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("factorial(400) ** 2", r"^640345\.\.\.0000 \(869 digits\)\*\*2 is too large"),
        (
            "log(-factorial(400))",
            r"^invalid argument in log\(\) \(-640345\.\.\.0000 \(869 digits\)\)",
        ),
        ("factorial(10**40)", r"^factorial\(100000\.\.\.0000 \(41 digits\)\) is too large"),
        ("round(1, -10**50)", r"got -100000\.\.\.0000 \(51 digits\)$"),
    ],
)
def test_huge_numbers_in_messages_are_abbreviated(
    calculate: Tool, expression: str, shown: str
) -> None:
    with pytest.raises(ModelRetry, match=shown) as caught:
        calculate(expression)
    assert len(caught.value.message) < 250


UNDERFLOW = (
    "0.0 (underflow: a step's result was too small for a float, below about 5e-324, and "
    "became 0, so the exact result may not be zero; work with logarithms, e.g. log10, to see "
    "its size)"
)


@pytest.mark.parametrize(
    "expression",
    [
        "2**-3321",
        "-(2**-3321)",
        "3 * 2**-3321",
        "0.5 ** 2000",
        "exp(-1000)",
        "1e-200 * 1e-200",
        "1 / 10**400",
        "5e-324 / 2",
        "1e-400",
    ],
)
def test_an_underflow_is_not_shown_as_an_exact_zero(calculate: Tool, expression: str) -> None:
    assert calculate(expression) == UNDERFLOW


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0.0", "0"),
        ("0e5", "0"),
        ("1.0 - 1.0", "0"),
        ("0 * 1e-300", "0"),
        ("0 ** 5", "0"),
        ("round(0.3, 0)", "0"),
        ("4.0 % 2", "0"),
        ("1 + 2**-3321", "1"),  # an underflow that does not change the result is no news
        ("5e-324", "4.94065645841247e-324"),
    ],
)
def test_real_zeros_and_tiny_numbers_stay_as_they_are(
    calculate: Tool, expression: str, expected: str
) -> None:
    assert calculate(expression) == expected


def test_errors_name_the_allowed_functions(calculate: Tool) -> None:
    with pytest.raises(ModelRetry) as caught:
        calculate("y * 2")
    for name in ("sqrt", "log", "factorial", "pi", "tau", "**"):
        assert name in caught.value.message

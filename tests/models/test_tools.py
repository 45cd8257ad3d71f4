"""The calculator tool (whygym.models.tools): exact arithmetic against a Fraction oracle, the text-level
loop against a scripted server, and tool-integrated decoding in the transformers backend on a tiny model
that has memorised a completion with a wrong value in its calculator call."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whygym.models.tools import (ERROR, ToolSpec, ToolState, calculate, fill_calls, generate_with_tools,
                                 parse_tools)

# ------------------------------------------------------------------------------------- exact values
num = st.integers(0, 19999).map(lambda k: (f"{k // 10000}.{k % 10000:04d}", Fraction(k, 10000)))


@st.composite
def expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(num)
    op = draw(st.sampled_from(["+", "-", "*", "/", "min", "max", "()", "neg"]))
    a = draw(expressions(depth=depth - 1))
    if op == "()":
        return f"({a[0]})", a[1]
    if op == "neg":
        return f"-({a[0]})", None if a[1] is None else -a[1]
    b = draw(expressions(depth=depth - 1))
    if a[1] is None or b[1] is None:  # a division by zero inside: the whole expression is an error
        return f"({a[0]})+({b[0]})", None
    if op in ("min", "max"):
        fn = min if op == "min" else max
        brace = draw(st.booleans())
        text = f"{op}{{{a[0]}, {b[0]}}}" if brace else f"{op}({a[0]}, {b[0]})"
        return text, fn(a[1], b[1])
    if op == "/" and b[1] == 0:
        return f"({a[0]})/({b[0]})", None
    val = {"+": a[1] + b[1], "-": a[1] - b[1], "*": a[1] * b[1], "/": a[1] / b[1] if b[1] else None}[op]
    return f"({a[0]}){op}({b[0]})", val


def _round_half_even(x: Fraction, places: int) -> str:
    scaled = x * 10 ** places
    q, r = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * r
    if twice > scaled.denominator or (twice == scaled.denominator and q % 2 == 1):
        q += 1
    sign = "-" if q < 0 else ""
    q = abs(q)
    s = f"{q // 10 ** places}.{q % 10 ** places:0{places}d}"
    return sign + s if q else s


@settings(max_examples=300, deadline=None)
@given(expressions())
def test_calculator_is_exact(expr):
    text, value = expr
    assert calculate(text) == (ERROR if value is None else _round_half_even(value, 4))


def test_calculator_markers_and_hand_values():
    assert calculate("0.8315-0.9066") == "-0.0751"
    assert calculate("0.00004") == "0.0000" and calculate("-0.00004") == "0.0000"  # never -0.0000
    assert calculate("0.00005") == "0.0000" and calculate("0.00015") == "0.0002"  # half-even
    assert calculate("1/3", decimals=6) == "0.333333"
    for bad in ["", "1/0", "0.2+", "P(Y=1)", "abc", "((0.1)", "1e5", "0.1 0.2"]:
        assert calculate(bad) == ERROR, bad
    assert calculate("(" * 5000 + "1" + ")" * 5000) == ERROR  # no RecursionError
    assert calculate("9" * 90 + "*" + "9" * 90) == ERROR  # too large to write with 4 decimals: no raise
    assert fill_calls("a <<1+1=7>> b <<2*3=x>>") == "a <<1+1=2.0000>> b <<2*3=6.0000>>"


def test_parse_tools():
    assert parse_tools(None) is None and parse_tools("none") is None and parse_tools("") is None
    assert parse_tools("calculator") == ToolSpec()
    assert parse_tools("calculator:decimals=6,max_calls=2") == ToolSpec("calculator", 6, 2)
    for bad in ["abacus", "calculator:places=3", "calculator:max_calls=x"]:
        with pytest.raises(ValueError):
            parse_tools(bad)


def test_tool_state_calls_and_budget():
    s = ToolState(ToolSpec(max_calls=2))
    assert s.forced("ATE=") is None and not s.inside_call("ATE=")
    assert s.inside_call("ATE=<<0.5-0.2") and s.forced("ATE=<<0.5-0.2") is None
    assert s.forced("ATE=<<0.5-0.2=") == "0.3000>>"
    assert s.forced("x <<0.5-0.2=0.3000>> y") is None  # closed
    assert s.forced("x <<0.5-0.2=0.3") == "000>>"  # a token that ran past '=' and agrees is kept
    assert s.forced("x <<1+1=") is None and not s.inside_call("x <<1+1")  # budget of 2 calls spent


# ------------------------------------------------------------------------------ text-level backends
class _ScriptedServer:
    """Continues with a fixed script that ignores what the calculator inserted (as a model that would
    have written wrong digits), honouring stop strings like an OpenAI-compatible server."""

    def __init__(self, script: str):
        self.script, self.requests = script, []

    def __call__(self, so_far: str, stop, max_tokens: int):
        self.requests.append((so_far, list(stop)))
        # the model "continues" after the last thing it wrote itself
        pos = self.pos_after(so_far)
        rest = self.script[pos:]
        cut = min([rest.find(s) for s in stop if s in rest] or [len(rest)])
        piece = rest[:cut][:max_tokens]
        if len(piece) < len(rest[:cut]):
            return piece, len(piece), "length"
        hit = next((s for s in stop if rest[cut:].startswith(s)), None) if cut < len(rest) else None
        return piece, len(piece), ("stop:" + hit) if hit else "stop"

    def pos_after(self, so_far: str) -> int:
        # skip what the calculator inserted: script positions advance only with the model's own text
        import re

        model_text = re.sub(r"=([^<>=]*)>>", "=", so_far)
        script = re.sub(r"=([^<>=]*)>>", "=", self.script)
        assert script.startswith(model_text), (script, model_text)
        # map back to a position in the raw script
        k = i = 0
        while k < len(model_text):
            if self.script[i] == "=" and ">>" in self.script[i:] and self.script.rfind("<<", 0, i) > self.script.rfind(">>", 0, i):
                i = self.script.index(">>", i) + 2
                k += 1
                continue
            i += 1
            k += 1
        return i


def test_generate_with_tools_over_stop_strings():
    server = _ScriptedServer("ATE=<<0.8315-0.9066=9.9999>>, PN=<<min{1, 0.5/0.25}=7>> done")
    text, n, finish, calls = generate_with_tools(server, 200)
    assert text == "ATE=<<0.8315-0.9066=-0.0751>>, PN=<<min{1, 0.5/0.25}=1.0000>> done"
    assert calls == 2 and finish == "stop" and n < len(text)
    assert [r[1] for r in server.requests][:3] == [["<<"], ["=", ">>"], ["<<"]]
    # no tool calls left: the model's own text stands
    text, _, _, calls = generate_with_tools(_ScriptedServer("x=<<1+1=5>> y"), 200, ToolSpec(max_calls=0))
    assert text == "x=<<1+1=5>> y" and calls == 0
    # the length limit
    text, n, finish, _ = generate_with_tools(_ScriptedServer("ATE=<<0.1+0.2=1>> and more text"), 12)
    assert finish == "length" and n == 12 and text.startswith("ATE=<<0.1+0.2=0.3000>>")


# --------------------------------------------------------------------------------- transformers backend
def test_backend_without_tools_reproduces_the_memorised_text(memorised, memorised_target):
    from whygym.models import TransformersBackend

    be = TransformersBackend(*memorised)
    assert be.generate(["ATE?"], max_new_tokens=64)[0][0].text == memorised_target
    assert "tools" not in be.config


@pytest.mark.parametrize("path", ["shrinking", "generate"])
def test_backend_calculator_inserts_the_exact_value(memorised, path):
    from whygym.models import TransformersBackend

    be = TransformersBackend(*memorised, tools="calculator", batch_size=2)
    if path == "generate":
        be._shrink_ok = False  # the model.generate path (logits processor)
    assert be.config["tools"] == {"name": "calculator", "decimals": 4, "max_calls": 16}
    res = be.generate(["ATE?", "ATE?"], max_new_tokens=64)
    for [g] in res:
        assert g.text.startswith("Step 1: ATE=<<0.8315-0.9066=-0.0751>>"), g.text
    sampled = be.generate(["ATE?"], max_new_tokens=40, temperature=0.7, n=2, seed=1)[0]
    assert all("<<0.8315-0.9066=-0.0751>>" in g.text for g in sampled), [g.text for g in sampled]

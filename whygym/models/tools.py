"""Tools a model calls while it decodes: the calculator (GSM8K's convention, Cobbe et al. 2021).

A completion that writes ``<<EXPR=`` hands ``EXPR`` to the calculator; the decoder appends the exact value
and ``>>`` and generation goes on from there, so ``ATE=<<0.8315-0.9066=`` becomes
``ATE=<<0.8315-0.9066=-0.0751>>`` whatever digits the model would have written. The arithmetic is exact
decimal arithmetic (the parser of the ``spelled`` derivations, :func:`whygym.train.spelled.parse_expression`:
numbers, ``+ - * /``, brackets, ``min{a, b}``/``max{a, b}`` and ``min(a, b)``/``max(a, b)``); the value is
rounded half-even to ``decimals`` places (4, CaLM's answer precision). An expression the calculator cannot
read (or a division by zero) gets the marker ``ERROR`` (``<<1/0=ERROR>>``); nothing raises. At most
``max_calls`` calls per completion are served; later ``<<...=`` are left to the model.

How a backend uses it:

* token-level backends (transformers) keep one :class:`ToolState` per row and ask it, before each token,
  :meth:`ToolState.forced` (tokens to emit instead of sampling, the calculator's answer) and
  :meth:`ToolState.inside_call` (then tokens that would write past ``=`` in one piece, such as ``=-`` or
  ``=0``, are masked, so the model always hands over at the ``=``). The KV cache simply continues: the
  inserted tokens are fed like generated ones, with no second prefill.
* text-level backends (llama.cpp, OpenAI-compatible servers) call :func:`generate_with_tools` with a
  function that continues a text until a stop string: stop at ``<<``, then at ``=``, insert, continue.

>>> calculate("0.8315-0.9066")
'-0.0751'
>>> calculate("min{1, (0.2210-0.0613)/0.6681}")
'0.2390'
>>> calculate("max(0, 0.1-0.3)")
'0.0000'
>>> calculate("1/0"), calculate("0.2+")
('ERROR', 'ERROR')
>>> fill_calls("ATE=<<0.5*0.3+0.1=9.9>>, so")
'ATE=<<0.5*0.3+0.1=0.2500>>, so'
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Callable, Sequence

__all__ = ["TOOLS", "ToolSpec", "calculate", "ToolState", "ToolForcing", "crossing_equals_ids",
           "generate_with_tools", "fill_calls", "parse_tools", "OPEN", "CLOSE", "ERROR"]

OPEN, EQUALS, CLOSE, ERROR = "<<", "=", ">>", "ERROR"
TOOLS = ("calculator",)


@dataclass(frozen=True)
class ToolSpec:
    """A tool setting: which tool, the decimals of its values, how many calls a completion may make."""

    name: str = "calculator"
    decimals: int = 4
    max_calls: int = 16

    def to_dict(self) -> dict:
        return {"name": self.name, "decimals": self.decimals, "max_calls": self.max_calls}


def parse_tools(value: str | None) -> ToolSpec | None:
    """``--tools`` text to a :class:`ToolSpec`: ``""``/``none`` -> None, ``calculator`` or
    ``calculator:decimals=4,max_calls=16``.

    >>> parse_tools("calculator:max_calls=3")
    ToolSpec(name='calculator', decimals=4, max_calls=3)
    """
    if value is None or value.strip().lower() in ("", "none", "off"):
        return None
    name, _, opts = value.strip().partition(":")
    if name not in TOOLS:
        raise ValueError(f"unknown tool {name!r}; known: {', '.join(TOOLS)} (or 'none')")
    kw: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in opts.split(","))):
        k, eq, v = part.partition("=")
        if not eq or k not in ("decimals", "max_calls") or not v.strip().isdigit():
            raise ValueError(f"bad tool option {part!r} in {value!r}; use decimals=N and/or max_calls=N")
        kw[k] = int(v)
    return ToolSpec(name, **kw)


def calculate(expr: str, decimals: int = 4) -> str:
    """The value of ``expr`` rounded half-even to ``decimals`` places (never ``-0.0000``), or ``ERROR``."""
    from whygym.arith import ArithmeticParseError, exact_value, minmax_braces, parse_expression

    try:
        v = exact_value(parse_expression(minmax_braces(expr.replace(" ", ""))))
        if v is None:  # a division by zero
            return ERROR
        with localcontext() as ctx:
            ctx.prec = 80
            q = (Decimal(v.numerator) / Decimal(v.denominator)).quantize(Decimal(1).scaleb(-decimals),
                                                                        rounding=ROUND_HALF_EVEN)
    except (ArithmeticParseError, RecursionError, InvalidOperation, ValueError, OverflowError):
        return ERROR  # unreadable, or too large to write with these decimals
    if q == 0:
        q = abs(q)
    return f"{q:f}"


def _open_call(text: str) -> str | None:
    """The text after the last unclosed ``<<`` (None when every ``<<`` is closed)."""
    k = text.rfind(OPEN)
    if k < 0 or CLOSE in text[k + len(OPEN):]:
        return None
    return text[k + len(OPEN):]


def fill_calls(text: str, decimals: int = 4) -> str:
    """Every ``<<EXPR=VALUE>>`` of a finished text with VALUE replaced by the calculator's (for targets and
    for checking what a tool-decoded completion would have read)."""
    return re.sub(r"<<([^<>=]*)=([^<>]*)>>", lambda m: f"<<{m.group(1)}={calculate(m.group(1), decimals)}>>", text)


class ToolState:
    """The calculator's side of one completion being decoded token by token.

    ``forced(text)`` is called with the completion text so far before each new token; it returns the text
    the calculator inserts now (its value and ``>>``) or None. ``inside_call(text)`` says whether an
    expression is open (the decoder then masks tokens that cross the ``=``).
    """

    def __init__(self, spec: ToolSpec = ToolSpec()):
        self.spec = spec
        self.calls = 0

    def inside_call(self, text: str) -> bool:
        seg = _open_call(text)
        return seg is not None and EQUALS not in seg and self.calls < self.spec.max_calls

    def forced(self, text: str) -> str | None:
        if self.calls >= self.spec.max_calls:
            return None
        seg = _open_call(text)
        if seg is None or EQUALS not in seg:
            return None
        expr, _, after = seg.partition(EQUALS)
        value = calculate(expr, self.spec.decimals) + CLOSE
        self.calls += 1
        # a token that ran past the "=" (only where the decoder could not mask it) is kept when it agrees
        return value[len(after):] if value.startswith(after) else value


_CROSSING: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def crossing_equals_ids(tokenizer):
    """Ids (a LongTensor) of the tokens holding an ``=`` with more text after it (``=-``, ``=0``, ``==``),
    cached per tokenizer: masked while a call is open, so that the model hands over exactly at the ``=``.
    (Byte-level BPE and sentencepiece vocabularies spell ``=`` literally in their token strings.)"""
    got = _CROSSING.get(tokenizer)
    if got is None:
        import torch

        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        bad = [i for i, t in enumerate(pieces) if t and "=" in t and (t.count("=") > 1 or not t.endswith("="))]
        got = _CROSSING[tokenizer] = torch.tensor(bad, dtype=torch.long)
    return got


class ToolForcing:
    """The calculator at the logits of a token-level decoder, one :class:`ToolState` per row.

    Where the calculator inserts text now, every logit but the next inserted token's is -inf; inside an open
    ``<<EXPR`` the tokens that would write past the ``=`` in one piece are masked. Works as a logits
    processor of ``model.generate`` (put it before any sampler, which then draws the forced token;
    ``width`` is the prompt width of the batch) and through :meth:`apply` from a hand-written loop.
    ``forced_steps[r]`` records at which completion positions row ``r`` got an inserted token (an RL
    trainer leaves those out of the policy loss: they are the tool's, not the policy's)."""

    def __init__(self, tokenizer, n_rows: int, spec: ToolSpec = ToolSpec(), width: int = 0):
        self.tokenizer = tokenizer
        self.states = [ToolState(spec) for _ in range(n_rows)]
        self.queues: list[list[int]] = [[] for _ in range(n_rows)]
        self.forced_steps: list[set[int]] = [set() for _ in range(n_rows)]
        self.width = width

    def apply(self, scores, rows, completions):
        """Edit ``scores`` (one row per entry of ``rows``) in place given each row's completion ids."""
        import torch

        for k, (r, ids) in enumerate(zip(rows, completions)):
            q = self.queues[r]
            if not q:
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                ins = self.states[r].forced(text)
                if ins:
                    q.extend(self.tokenizer(ins, add_special_tokens=False)["input_ids"])
                elif self.states[r].inside_call(text):
                    bad = crossing_equals_ids(self.tokenizer).to(scores.device)
                    masked = scores[k].clone()
                    masked[bad] = float("-inf")
                    if bool(torch.isfinite(masked).any()):  # never leave a row with nothing to draw
                        scores[k] = masked
                    continue
            if q:
                t = q.pop(0)
                keep = scores[k, t].clone()
                scores[k] = float("-inf")
                scores[k, t] = torch.where(torch.isfinite(keep), keep, torch.zeros_like(keep))
                self.forced_steps[r].add(len(ids))
        return scores

    def __call__(self, input_ids, scores):
        rows = range(input_ids.shape[0])
        return self.apply(scores, rows, [input_ids[r, self.width:].tolist() for r in rows])


def generate_with_tools(complete: Callable[[str, Sequence[str], int], tuple[str, int, str]], max_new_tokens: int,
                        spec: ToolSpec = ToolSpec()) -> tuple[str, int, str, int]:
    """Tool-integrated decoding over a backend that continues text until a stop string.

    ``complete(so_far, stop, max_tokens) -> (new_text, n_tokens, finish_reason)`` continues the completion
    ``so_far`` (the backend keeps the prompt; a stop string is not included in ``new_text``);
    ``finish_reason`` is ``"stop:" + s`` when stop string ``s`` ended it, ``"stop"`` at the model's own end
    and ``"length"`` at ``max_tokens``.
    Returns ``(text, completion tokens, finish_reason, calls)``; the inserted values count as tokens
    only in the text, not in ``n_tokens`` (they were not generated).
    """
    text, used, calls = "", 0, 0
    while True:
        left = max_new_tokens - used
        if left <= 0:
            return text, used, "length", calls
        inside = _open_call(text) is not None
        stop = [EQUALS, CLOSE] if inside else ([OPEN] if calls < spec.max_calls else [])
        new, n, finish = complete(text, stop, left)
        used += n
        text += new
        if finish == "length":
            return text, used, "length", calls
        # which stop string ended it? The backend strips it: look at what the model would have written next
        if inside and finish == "stop:" + EQUALS:
            value = calculate(_open_call(text) or "", spec.decimals)
            text += EQUALS + value + CLOSE
            calls += 1
            continue
        if inside and finish == "stop:" + CLOSE:
            text += CLOSE
            continue
        if not inside and finish == "stop:" + OPEN:
            text += OPEN
            continue
        return text, used, "stop", calls

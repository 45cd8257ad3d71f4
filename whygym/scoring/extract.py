"""Answer extraction from free model output.

:func:`extract` finds every answer a model wrote, in order, and picks the *final* one: the last
answer outside ``<think>`` blocks. It never raises, whatever the input.

What counts as an answer
------------------------
1. **JSON-like objects** (``kind="json"``): a balanced ``{...}`` holding an ``ANSWER`` and/or a
   ``PROB`` key at its own level (nested objects are attributed separately; braces inside values,
   as in ``"E[Y_{x}]"``, do not hide the keys), in any case, with the key double-quoted,
   single-quoted, back-quoted, unquoted or backslash-escaped (``{\\"ANSWER\\": ...}``), ``:`` or
   ``=`` as separator, trailing commas, inside or outside code fences. Values may be quoted strings
   or bare tokens. ``PROB`` values are read by :func:`parse_number`: decimals, signs (also the
   Unicode minus), ``.5``, exponents, fractions ``a/b`` and percentages (``"12.5%"`` -> ``0.125``).
   ``json_valid`` tells whether the object is also strict JSON (``json.loads`` accepts it).
2. **``LACK_CONDITION``** (``kind="lack"``) anywhere in the text (case-insensitive, ``LACK\\_CONDITION``
   accepted), as a bare word or as a JSON value; its position decides whether it is final. Not when it
   ends an echo of the prompt's rule (a sentence with "if" ending in "output", as in ``If the condition is
   not enough to solve the question, output "LACK_CONDITION" as final answer``): small models repeat that
   line verbatim, and counting it would reward parroting the prompt.
3. **Plain-text answers** (``kind="text"``), only when no JSON answer and no ``LACK_CONDITION`` lies
   outside think blocks: ``"the answer is Yes"``, ``"Final answer: **no**"``, ``"Answer = 0.25"``,
   ``"PROB: 12%"``, ``\\boxed{0.25}``, or a whole reply that is just ``Yes`` / ``No`` / a number. A text ``ANSWER`` and a
   text ``PROB`` closer than 120 characters are merged into one answer. "answer" must be followed by
   ``:``/``=`` or a verb ("is", "would be", ...), so "I cannot answer no matter what" is no answer.
   Chinese answers (CaLM's CN sets) are read too: ``答案：是``, ``答案为否``, full-width colons in
   JSON; the labels 是/否 normalize to yes/no (``答案是否定的`` is not read as 否).
   This also reads a JSON object cut off before its closing brace (``kind="text"``).

Every pattern runs in linear time (no nested or adjacent overlapping quantifiers; adversarial
inputs of 10^5 characters take well under a second, see the tests).

Think blocks
------------
``<think>...</think>`` (also ``<thinking>``; case-insensitive) are reasoning, not answers. A stray
``</think>`` with no opening tag (chat templates that pre-fill ``<think>`` in the prompt) makes
everything before it thinking. An unclosed ``<think>`` means the model never finished: the
extraction has **no final answer** (``final is None``, ``unclosed_think is True``), even if answers
precede the tag. Answers inside think blocks are still listed (``in_think=True``) for the lenient
CauGym-style scorer.

Known limits (documented, tested): a ``LACK_CONDITION`` mentioned in passing ("I will not output
LACK_CONDITION") counts as an answer if nothing follows it; a reply beginning "Yes, ..." without an
"answer is" phrase is not read as yes; comma decimals (``0,25``) are not read.

Examples
--------
>>> ex = extract('Step 1 ... so {"ANSWER": "Yes", "PROB": "0.3847"}')
>>> ex.final.label, ex.final.prob
('yes', 0.3847)
>>> extract("<think>{'PROB': 0.1}</think> PROB = 12.5%").final.prob
0.125
>>> extract("<think>still going {'PROB': 0.1}").final is None
True
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from whygym.items import LACK_CONDITION  # re-exported: the one definition is in whygym.items

__all__ = ["Answer", "Extraction", "extract", "parse_number", "normalize_label", "completion_text",
           "LACK_CONDITION"]

# ----------------------------------------------------------------------------------------------
# regular expressions (all linear-time: no nested unbounded quantifiers)

_THINK_TAG = re.compile(r"<(/?)think(?:ing)?\s*>", re.IGNORECASE)
_BRACE = re.compile(r"[{}]")
#: objects longer than this are not checked with ``json.loads`` (keeps nested input linear)
_MAX_JSON_CHECK = 20000
# Patterns avoid adjacent optional runs that can match the same characters (which backtrack
# quadratically on long runs of spaces); ``(?=(?P<x>...))(?P=x)`` emulates an atomic group
# (Python < 3.11 has no possessive quantifiers).
_KV = re.compile(
    r"(?<![\w])(?P<key>answer|prob)(?![\w])"
    r"(?=(?P<kpre>[\s\\\"'`\u201c\u201d\u2018\u2019]*))(?P=kpre)[:=\uff1a](?=(?P<kws>\s*))(?P=kws)"
    r"(?:\\?\"(?P<dq>[^\"\n]*?)\\?\""
    r"|'(?P<sq>[^'\n]*)'"
    r"|[\u201c\u201d\u2018\u2019](?P<smq>[^\u201c\u201d\u2018\u2019\n]*)[\u201c\u201d\u2018\u2019]"
    r"|(?P<bare>[^,}\]\n]*))",
    re.IGNORECASE,
)
_LACK = re.compile(r"(?<![A-Za-z0-9])LACK\\?_CONDITION(?![A-Za-z0-9])", re.IGNORECASE)
# An echo of the prompt's own rule, 'If the condition is not enough ..., output "LACK_CONDITION" as final
# answer': the sentence before the match holds an "if" and ends in "output" (and maybe a quote).
_IF = re.compile(r"\bif\b", re.IGNORECASE)
_OUTPUT_END = re.compile(r"\boutput[ \t]*[\"'`\u201c\u2018]?[ \t]*\Z", re.IGNORECASE)


def _echoes_instruction(text: str, start: int) -> bool:
    """Whether the ``LACK_CONDITION`` at ``start`` ends a conditional 'if ..., output' sentence (at most 160
    characters back to the previous ``.``, ``!``, ``?`` or line break): the instruction repeated, not an answer."""
    lo = max(0, start - 160)
    seg = text[lo:start]
    cut = max(seg.rfind(c) for c in ".!?\n")
    seg = seg[cut + 1:]
    return _OUTPUT_END.search(seg) is not None and _IF.search(seg) is not None
_NUM = r"[+\-\u2212]?[ \t]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+\-]?\d+)?(?:[ \t]?\\?%)?"
# "answer" + optional verb + (atomic) separators/decoration + value; a ":"/"=" or a verb is required
# (checked in code, so "I cannot answer no matter what" is not an answer)
_TEXT_ANSWER = re.compile(
    r"(?:(?<![\w])(?:final\s+)?answer(?P<verb>\s+(?:is|would\s+be|should\s+be|will\s+be)(?![\w]))?"
    r"|\u7b54\u6848(?P<cnverb>\u662f|\u4e3a)?)"  # Chinese "答案" + optional "是"/"为"
    r"(?=(?P<sep>[\s*\"'`$\u201c\u201d\u2018\u2019(\[:=\uff1a]*))(?P=sep)"
    r"(?P<val>yes|no|\u662f|\u5426|" + _NUM + r")(?![\w]|\.\d)",
    re.IGNORECASE,
)
_TEXT_PROB = re.compile(
    r"(?<![\w])prob(?![\w])(?=(?P<pre>[\s*`'\"]*))(?P=pre)(?:is(?=(?P<ws>\s*))(?P=ws))?[:=\uff1a]"
    r"(?=(?P<sep>[\s*\"'`$\u201c\u201d\u2018\u2019(\[]*))(?P=sep)"
    r"(?P<val>" + _NUM + r")(?![\w]|\.\d)",
    re.IGNORECASE,
)
_WHOLE = re.compile(r"^[\s*\"'`\u201c\u201d(\[]*(?P<val>yes|no|\u662f|\u5426|" + _NUM
                    + r")[\s*\"'`\u201c\u201d)\].!]*$", re.IGNORECASE)
# LaTeX \boxed{...} (reasoning models), optionally with \text{...} inside
_BOXED = re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{\s*)?(?P<val>yes|no|\u662f|\u5426|" + _NUM
                    + r")\s*\}", re.IGNORECASE)
_CN_YESNO = {"\u662f": "yes", "\u5426": "no"}
_FENCE = re.compile(r"```[A-Za-z]*")
_NUMBER_FULL = re.compile(
    r"^(?P<sign>[+\-])?\s*(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+\-]?\d+)?)\s*(?P<pct>%)?$")
_FRACTION = re.compile(r"^(?P<sign>[+\-])?\s*(?P<a>\d+(?:\.\d+)?)\s*/\s*(?P<b>\d+(?:\.\d+)?)$")


# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One answer found in a model output.

    Attributes
    ----------
    label : normalized ``ANSWER`` (``"yes"``, ``"no"``, ``"LACK_CONDITION"``, or the stripped text),
        ``None`` when absent.
    prob : the ``PROB`` value as a float (percentages divided by 100), ``None`` when absent or unreadable.
    prob_text : the raw ``PROB`` value text (``None`` when there was no ``PROB`` key).
    raw : the source text of the answer.
    start, end : its character span in the text.
    in_think : whether it lies inside a think block.
    kind : ``"json"``, ``"lack"`` or ``"text"``.
    json_valid : for ``kind="json"``, whether the object is strict JSON.
    keys : canonical keys present (``"ANSWER"``, ``"PROB"``).
    """

    label: str | None
    prob: float | None
    prob_text: str | None
    raw: str
    start: int
    end: int
    in_think: bool = False
    kind: str = "json"
    json_valid: bool = False
    keys: tuple[str, ...] = ()

    @property
    def is_lack(self) -> bool:
        """True when the answer is ``LACK_CONDITION``."""
        return self.label == LACK_CONDITION

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "prob": self.prob, "prob_text": self.prob_text, "raw": self.raw,
                "start": self.start, "end": self.end, "in_think": self.in_think, "kind": self.kind,
                "json_valid": self.json_valid, "keys": list(self.keys)}


@dataclass(frozen=True)
class Extraction:
    """Everything :func:`extract` found.

    Attributes
    ----------
    answers : all answers in text order (inside and outside think blocks).
    final : the last answer outside think blocks; ``None`` when there is none or a ``<think>`` is unclosed.
    think_spans : ``(start, end)`` character spans of think blocks.
    unclosed_think : a ``<think>`` was opened and never closed.
    """

    answers: tuple[Answer, ...] = ()
    final: Answer | None = None
    think_spans: tuple[tuple[int, int], ...] = ()
    unclosed_think: bool = False
    text: str = field(default="", repr=False)

    @property
    def outside(self) -> tuple[Answer, ...]:
        """Answers outside think blocks."""
        return tuple(a for a in self.answers if not a.in_think)


# ----------------------------------------------------------------------------------------------
def completion_text(completion: Any) -> str:
    """Text of one completion: a string, bytes, or a conversational list of messages.

    Conversational completions (TRL style, ``[{"role": "assistant", "content": "..."}]``) give the
    concatenated content of their assistant messages (all messages if none has that role);
    multimodal content lists (``[{"type": "text", "text": ...}]``) give their text parts.

    >>> completion_text([{"role": "assistant", "content": "Yes"}])
    'Yes'
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, (bytes, bytearray)):
        return bytes(completion).decode("utf-8", errors="replace")
    if isinstance(completion, dict):
        return _content_text(completion.get("content", completion.get("text", "")))
    if isinstance(completion, (list, tuple)):
        msgs = [m for m in completion if isinstance(m, dict)]
        if msgs:
            chosen = [m for m in msgs if m.get("role") == "assistant"] or msgs
            return "\n".join(_content_text(m.get("content", m.get("text", ""))) for m in chosen)
        return "\n".join(completion_text(m) for m in completion)
    return str(completion)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = []
        for p in content:
            if isinstance(p, dict):
                if p.get("type", "text") == "text":
                    parts.append(_content_text(p.get("text", "")))
            else:
                parts.append(_content_text(p))
        return "".join(parts)
    return str(content)


def parse_number(text: Any) -> float | None:
    """Read a probability value; ``None`` when it is not one finite number.

    Accepts ``"0.3847"``, ``"-0.0843"``, ``"+.5"``, ``"\u22120.2"`` (Unicode minus), ``"1e-3"``,
    ``"12.5%"`` (-> 0.125), ``"3/8"``, surrounding quotes, ``~``/``≈``, and numbers (not bools).

    >>> parse_number("12.5%"), parse_number("-0.0843"), parse_number("yes")
    (0.125, -0.0843, None)
    """
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        x = float(text)
        return x if math.isfinite(x) else None
    if not isinstance(text, str):
        return None
    s = text.strip().strip("\"'`*\u201c\u201d\u2018\u2019\\").strip()
    s = s.replace("\u2212", "-").replace("\u2013", "-").replace("\\%", "%")
    s = s.lstrip("~\u2248").strip()
    s = s.rstrip(".").strip() if not s.endswith("..") else s
    if len(s) > 64:
        return None
    m = _NUMBER_FULL.match(s)
    try:
        if m:
            x = float(m.group("num"))
            if m.group("sign") == "-":
                x = -x
            if m.group("pct"):
                x = x / 100.0
        else:
            m = _FRACTION.match(s)
            if not m:
                return None
            b = float(m.group("b"))
            if b == 0:
                return None
            x = float(m.group("a")) / b
            if m.group("sign") == "-":
                x = -x
    except (ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def normalize_label(value: Any) -> str | None:
    """Canonical answer label: ``"yes"``/``"no"`` lower case (also from Chinese 是/否, as in CaLM's CN
    sets), ``"LACK_CONDITION"``, else the stripped text.

    >>> normalize_label(' **Yes.** '), normalize_label('lack_condition'), normalize_label('')
    ('yes', 'LACK_CONDITION', None)
    """
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            return "yes" if value else "no"
        return None
    s = str(value).strip().strip("\"'`*\u201c\u201d\u2018\u2019\\").strip().rstrip(".!\u3002\uff01").strip()
    if not s:
        return None
    low = s.casefold()
    if low in ("yes", "no"):
        return low
    if s in _CN_YESNO:
        return _CN_YESNO[s]
    if _LACK.fullmatch(s):
        return LACK_CONDITION
    return s


# ----------------------------------------------------------------------------------------------
def _think_spans(text: str) -> tuple[list[tuple[int, int]], bool]:
    spans: list[tuple[int, int]] = []
    pos = 0          # scanning position
    boundary = 0     # end of the last think block (start of "answer" text)
    n = len(text)
    while pos <= n:
        m = _THINK_TAG.search(text, pos)
        if not m:
            break
        if m.group(1):  # a stray closing tag: everything since the last boundary was thinking
            spans.append((boundary, m.end()))
            boundary = pos = m.end()
            continue
        close = None
        for c in _THINK_TAG.finditer(text, m.end()):
            if c.group(1):
                close = c
                break
        if close is None:
            spans.append((m.start(), n))
            return spans, True
        spans.append((m.start(), close.end()))
        boundary = pos = close.end()
    return spans, False


class _Spans:
    """Membership test for a set of half-open character spans in O(log n)."""

    def __init__(self, spans: Iterable[tuple[int, int]]):
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def __contains__(self, i: int) -> bool:
        k = bisect.bisect_right(self.starts, i) - 1
        return k >= 0 and i < self.ends[k]


def _objects(text: str) -> list[tuple[int, int, str]]:
    """Balanced ``{...}`` spans as ``(start, end, own_text)``.

    ``own_text`` is the object's text with its nested objects blanked out, so keys are attributed to
    the object that holds them (``{"Reason": "E[Y_{x}]", "PROB": "0.1"}`` keeps its ``PROB``;
    ``{"result": {"PROB": "0.1"}}`` gives the ``PROB`` to the inner object only).
    """
    out: list[tuple[int, int, str]] = []
    stack: list[tuple[int, list[tuple[int, int]]]] = []
    for m in _BRACE.finditer(text):
        if m.group() == "{":
            stack.append((m.start(), []))
        elif stack:
            start, kids = stack.pop()
            end = m.end()
            parts, last = [], start
            for a, b in kids:
                parts.append(text[last:a])
                parts.append(" ")
                last = b
            parts.append(text[last:end])
            out.append((start, end, "".join(parts)))
            if stack:
                stack[-1][1].append((start, end))
    out.sort()
    return out


def _json_answer(own_text: str, text: str, start: int, end: int) -> Answer | None:
    label = prob = prob_text = None
    keys: list[str] = []
    for m in _KV.finditer(own_text):
        key = m.group("key").upper()
        if key in keys:
            continue
        val = next((m.group(g) for g in ("dq", "sq", "smq", "bare") if m.group(g) is not None), "")
        val = val.strip().rstrip("\\").strip()
        keys.append(key)
        if key == "ANSWER":
            label = normalize_label(val)
        else:
            prob_text = val
            if _LACK.fullmatch(val.strip("\"'` ")):
                label = label or LACK_CONDITION
                prob = None
            else:
                prob = parse_number(val)
    if not keys:
        return None
    valid = False
    raw = own_text  # huge nested objects: keep only the object's own text (no quadratic copying)
    if end - start <= _MAX_JSON_CHECK:
        raw = text[start:end]
        try:
            valid = isinstance(json.loads(raw), dict)
        except (ValueError, RecursionError):
            pass
    return Answer(label=label, prob=prob, prob_text=prob_text, raw=raw, start=start, end=end, kind="json",
                  json_valid=valid, keys=tuple(keys))


def _text_answers(text: str) -> list[Answer]:
    found: list[Answer] = []
    for m in _TEXT_ANSWER.finditer(text):
        has_verb = m.group("verb") is not None or m.group("cnverb") is not None
        if not has_verb and not any(c in ":=\uff1a" for c in m.group("sep")):
            continue
        v = m.group("val")
        lab = normalize_label(v)
        p = parse_number(v) if lab not in ("yes", "no") else None
        found.append(Answer(label=lab, prob=p, prob_text=v if p is not None else None, raw=m.group(0),
                            start=m.start(), end=m.end(), kind="text", keys=("ANSWER",)))
    for m in _BOXED.finditer(text):
        v = m.group("val")
        lab = normalize_label(v)
        p = parse_number(v) if lab not in ("yes", "no") else None
        found.append(Answer(label=lab, prob=p, prob_text=v if p is not None else None, raw=m.group(0),
                            start=m.start(), end=m.end(), kind="text", keys=("ANSWER",)))
    for m in _TEXT_PROB.finditer(text):
        v = m.group("val")
        found.append(Answer(label=None, prob=parse_number(v), prob_text=v, raw=m.group(0),
                            start=m.start(), end=m.end(), kind="text", keys=("PROB",)))
    found.sort(key=lambda a: a.start)
    # merge an ANSWER-only and a PROB-only answer written next to each other
    merged: list[Answer] = []
    for a in found:
        if merged:
            b = merged[-1]
            if (set(b.keys) ^ set(a.keys)) == {"ANSWER", "PROB"} and a.start - b.end <= 120 \
                    and "\n\n" not in text[b.end:a.start]:
                lab = b.label if "ANSWER" in b.keys else a.label
                pa, pb = (b, a) if "PROB" in b.keys else (a, b)
                merged[-1] = Answer(label=lab, prob=pa.prob, prob_text=pa.prob_text,
                                    raw=text[b.start:a.end], start=b.start, end=a.end, kind="text",
                                    keys=("ANSWER", "PROB"))
                continue
        merged.append(a)
    return merged


def _whole_answer(text: str, spans: list[tuple[int, int]]) -> Answer | None:
    # the text outside think blocks, minus code fences, is a bare yes/no/number
    pieces, last = [], 0
    for a, b in sorted(spans):
        if a > last:
            pieces.append((last, text[last:a]))
        last = max(last, b)
    pieces.append((last, text[last:]))
    rest = _FENCE.sub(" ", "".join(p for _, p in pieces)).strip()
    if not rest or len(rest) > 40:
        return None
    m = _WHOLE.match(rest)
    if not m:
        return None
    v = m.group("val").strip()
    start = next((off + p.find(v) for off, p in pieces if v in p), pieces[-1][0])
    lab = normalize_label(v)
    p = parse_number(v) if lab not in ("yes", "no") else None
    return Answer(label=lab, prob=p, prob_text=v if p is not None else None, raw=v, start=start,
                  end=start + len(v), kind="text", keys=("ANSWER",))


def extract(text: Any) -> Extraction:
    """Find every answer in ``text`` and the final one.

    Parameters
    ----------
    text : a model output: a string, bytes, a conversational message list, or anything (``str()``-ed).

    Returns
    -------
    Extraction
        ``answers`` in text order and ``final``, the last answer outside think blocks
        (``None`` if there is none or a ``<think>`` is left open). Never raises.

    Examples
    --------
    >>> ex = extract('<think>{"PROB": "0.5"}</think>```json\\n{"ANSWER": "No", "PROB": "-0.1",}\\n```')
    >>> [a.prob for a in ex.answers], ex.final.label, ex.final.in_think
    ([0.5, -0.1], 'no', False)
    >>> extract("The answer is: **No**.").final.label
    'no'
    >>> extract(None).final is None
    True
    """
    text = completion_text(text)
    spans, unclosed = _think_spans(text)
    think = _Spans(spans)
    answers: list[Answer] = []
    json_ranges: list[tuple[int, int]] = []
    for start, end, own in _objects(text):
        a = _json_answer(own, text, start, end)
        if a is not None:
            answers.append(a)
            json_ranges.append((start, end))
    in_json = _Spans(json_ranges)
    for m in _LACK.finditer(text):
        if m.start() in in_json or _echoes_instruction(text, m.start()):
            continue
        answers.append(Answer(label=LACK_CONDITION, prob=None, prob_text=None, raw=m.group(0),
                              start=m.start(), end=m.end(), kind="lack"))
    if not any(a.start not in think for a in answers):
        taken = _Spans((a.start, a.end) for a in answers)
        answers.extend(a for a in _text_answers(text) if a.start not in taken)
        if not any(a.start not in think for a in answers):
            w = _whole_answer(text, spans)
            if w is not None:
                answers.append(w)
    answers = [_with_think(a) if a.start in think else a for a in answers]
    answers.sort(key=lambda a: (a.start, a.end))
    final = None
    if not unclosed:
        outside = [a for a in answers if not a.in_think]
        final = outside[-1] if outside else None
    return Extraction(answers=tuple(answers), final=final, think_spans=tuple(spans), unclosed_think=unclosed,
                      text=text)


def _with_think(a: Answer) -> Answer:
    return Answer(label=a.label, prob=a.prob, prob_text=a.prob_text, raw=a.raw, start=a.start, end=a.end,
                  in_think=True, kind=a.kind, json_valid=a.json_valid, keys=a.keys)

"""Question phrasings: one template both renders a question and reads it back.

A task's :class:`~whygym.tasks.spec.TaskSpec` lists its phrasings per language (``phrasings["en"][0]`` is the
one the generator writes, CaLM's own; the others are variants found in the published files) and its
paraphrases for the ``rephrased`` suite. A template is text with fields:

``{X}`` / ``{Y}``
    the treatment's / the outcome's name; read back as a name (a later ``{X}`` must be the same name);
``{x}`` / ``{y}``
    the value word the question sets for the treatment / asks about for the outcome;
``{xf}`` / ``{yf}``
    the factual value words (ETT, PN, PS);
``{bound}``
    ``upper`` / ``lower`` (``上界`` / ``下界``);
``{cond}`` / ``{cond_at}``
    the fixed mediators of a CDE, "M being m and ..." / "M at m and ..." (read back as text, then as pairs).

Reading is lenient where the published files are: case-insensitive, an optional "the " before every name
(English), either comma after a clause (Chinese), spaces around punctuation as written.

>>> t = "If {X} is changed to be {x}, will {Y} be more likely to be {y}?"
>>> render(t, {"X": "smoking", "Y": "tar", "x": "high", "y": "low"})
'If smoking is changed to be high, will tar be more likely to be low?'
>>> m = pattern(t, "en").fullmatch("if the smoking is changed to be high, will tar be more likely to be low?")
>>> m["T"], m["x"], m["O"], m["y"]
('smoking', 'high', 'tar', 'low')
"""

from __future__ import annotations

import functools
import re
from typing import Any, Mapping

__all__ = ["render", "pattern", "question_fields", "FIELDS"]

#: Template fields and the regular-expression group each reads into.
FIELDS = {"X": "T", "Y": "O", "x": "x", "y": "y", "xf": "xf", "yf": "yf", "bound": "bound", "cond": "fixed",
          "cond_at": "fixed"}
_FIELD = re.compile(r"\{(" + "|".join(FIELDS) + r")\}")
_BOUND = {"en": r"upper|lower", "cn": r"上界|下界"}


def render(template: str, fields: Mapping[str, str]) -> str:
    """The template with its fields filled in (``fields`` must hold every field the template uses)."""
    return _FIELD.sub(lambda m: str(fields[m.group(1)]), template)


def question_fields(p: Any) -> dict[str, str]:
    """The fields of a :class:`~whygym.tasks.core.Problem`'s question: names, value words, bound, mediators."""
    from whygym.tasks.core import join_and

    q = p.query
    X, Y = q["treatment"], q["outcome"]
    f = {"X": p.names[X], "Y": p.names[Y], "x": p.word(X, q["x"]), "y": p.word(Y, q["y"])}
    if "x_factual" in q:
        f["xf"] = p.word(X, q["x_factual"])
    if "y_factual" in q:
        f["yf"] = p.word(Y, q["y_factual"])
    if "bound" in q:
        f["bound"] = q["bound"]
    if "fixed" in q:
        fixed = sorted(q["fixed"].items())
        f["cond"] = join_and([f"{p.names[m]} being {p.word(m, v)}" for m, v in fixed])
        f["cond_at"] = join_and([f"{p.names[m]} at {p.word(m, v)}" for m, v in fixed])
    return f


def _literal(text: str, lang: str) -> str:
    out = []
    for ch in text:
        if lang == "cn" and ch in "，,":
            out.append(r"[，,]\s*")
        elif ch == " ":
            out.append(r"\s+")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@functools.lru_cache(maxsize=4096)  # bounded: readers with an item's own names are one per item
def pattern(template: str, lang: str = "en", names: str = ".+?") -> re.Pattern:
    """The compiled reader of a template (match it with ``fullmatch``): names are ``names`` (a regular
    expression, by default a lazy wildcard to be resolved against the item's names afterwards), value words
    and mediator lists lazy wildcards, ``{bound}`` the language's two bound words."""
    parts, seen, pos = [], set(), 0
    for m in _FIELD.finditer(template):
        lit = template[pos:m.start()]
        field = m.group(1)
        group = FIELDS[field]
        if lang == "en" and field in ("X", "Y") and lit.lower().endswith("the "):
            lit = lit[:-4]  # "the " before a name is optional everywhere (added below)
        parts.append(_literal(lit, lang))
        if field in ("X", "Y"):
            the = "(?:the )?" if lang == "en" else ""
            parts.append(the + (f"(?P={group})" if group in seen else f"(?P<{group}>{names})"))
        elif field == "bound":
            parts.append(f"(?P=bound)" if group in seen else f"(?P<bound>{_BOUND[lang]})")
        else:
            parts.append(f"(?P={group})" if group in seen else f"(?P<{group}>.+?)")
        seen.add(group)
        pos = m.end()
    parts.append(_literal(template[pos:], lang))
    return re.compile("".join(parts), re.I | re.S)

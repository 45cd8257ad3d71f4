"""Stated probabilities, in math (``P(B=0|A=1)=0.2210``) and in words ("For those with smku being low, the
probability of wnse being high is 0.2210"), EN and CN.
"""

from __future__ import annotations

import re
from typing import Any

from whygym.benchmarks.reading.graphs import name_alternation, name_variants
from whygym.tasks.core import prob_key

__all__ = ["NUM", "MATH_STATEMENT", "canonical_key", "parse_math", "pairs_from_math", "pairs_from_words",
           "parse_worded_statements"]

NUM = r"-?\d+(?:\.\d+)?"


def canonical_key(outs: list[tuple[str, int]], conds: list[tuple[str, int]]) -> str:
    """``P(C=0|A=0,B=1)`` from ``[("C", 0)]`` and ``[("A", 0), ("B", 1)]`` (:func:`whygym.tasks.core.prob_key`)."""
    return prob_key(outs, conds)


# --- math ------------------------------------------------------------------------------------------
MATH_STATEMENT = re.compile(r"P\((?P<lhs>[A-Z]\w*=\d(?:,[A-Z]\w*=\d)*)(?:\|(?P<rhs>[A-Z]\w*=\d(?:,[A-Z]\w*=\d)*))?\)"
                       rf"=(?P<p>{NUM})")


def pairs_from_math(s: str | None) -> list[tuple[str, int]]:
    if not s:
        return []
    return [(a, int(b)) for a, b in (t.split("=") for t in s.split(","))]


def parse_math(text: str) -> list[dict[str, Any] | None]:
    """Parse ``data_info_math`` into statements; a malformed chunk (e.g. ``P=0.2157``) becomes ``None``.

    >>> parse_math("P(C=0|A=0)=0.8445; P=0.1; ")[0]["key"], parse_math("P=0.1;")
    ('P(C=0|A=0)', [None])
    """
    out: list[dict[str, Any] | None] = []
    for chunk in text.split(";"):
        chunk = chunk.strip()
        if not chunk:
            continue
        m = MATH_STATEMENT.fullmatch(chunk.replace(" ", ""))
        if not m:
            out.append(None)
            continue
        outs, conds = pairs_from_math(m["lhs"]), pairs_from_math(m["rhs"])
        out.append({"outs": outs, "conds": conds, "p": float(m["p"]), "p_text": m["p"],
                    "key": canonical_key(outs, conds)})
    return out


def pairs_from_words(seg: str, name_alt: str, lang: str) -> list[tuple[str, str, str | None]] | None:
    """Split "smku being low and arbu being high" into ``[(name, word, letter_or_None), ...]``."""
    if lang == "en":
        rx = re.compile(rf"(?:^|(?<=[\s,]))(?:the\s+)?(?P<n>{name_alt}) (?:being|is|was) ", re.I)
    else:
        rx = re.compile(rf"(?P<n>{name_alt})为", re.I)
    ms = list(rx.finditer(seg))
    if not ms or seg[:ms[0].start()].strip(" ,，"):
        return None
    out = []
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else len(seg)
        val = seg[m.end():end].strip()
        if i + 1 < len(ms):  # the separator before the next pair; the last value ends the segment ("温和")
            val = re.sub(r"(?:,|，|、|\band\b|且|以及|和)\s*$", "", val).strip()
        letter = None
        a = re.search(r"\s*\(([A-Z]\w*)=(\d)\)\s*$", val)
        if a:
            letter, val = (a[1], int(a[2])), val[:a.start()].strip()
        if not val:
            return None
        out.append((m["n"], val, letter))
    return out


def _sentences(text: str, lang: str) -> list[str]:
    text = text.strip()
    if lang == "en":
        parts = re.split(r"(?<=\d)\.(?=\s|$)|\n", text)
    else:
        parts = re.split(r"[。\n]", text)
    return [p.strip() for p in parts if p.strip()]


def parse_worded_statements(data_info: str, names: list[str], lang: str = "en"
                            ) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse "For those with A being low, the probability of C being low is 0.8445." style sentences.

    Returns ``(statements, problems)``; each statement is
    ``{"outs": [(name, word, letter?)], "conds": [...], "p": float, "p_text": str}``.
    """
    canon = {n.lower(): n for n in names}
    for n in names:
        for v in name_variants(n):
            canon.setdefault(v.lower(), n)
    alt = name_alternation(list(names) + [v for n in names for v in name_variants(n)])
    stmts, problems = [], []
    if not alt:
        return stmts, (["no variable names to read the numbers with"] if data_info.strip() else [])
    sentences = _sentences(data_info, lang)
    for pos, sent in enumerate(sentences):
        if lang == "en":
            m = (re.fullmatch(rf"for those with (?P<cond>.+?), the probability of (?P<out>.+?) is (?P<p>{NUM})\.?",
                              sent, re.I | re.S)
                 or re.fullmatch(rf"the probability of (?P<out>.+?) is (?P<p>{NUM})\.?", sent, re.I | re.S))
        else:
            m = (re.fullmatch(rf"在(?P<cond>.+?)的条件下[,，]\s*(?P<out>.+?)的概率为(?P<p>{NUM})", sent, re.S)
                 or re.fullmatch(rf"(?P<out>.+?)的概率为(?P<p>{NUM})", sent, re.S))
        if not m:
            problems.append(f"unparsed probability sentence: {sent!r}")
            continue
        outs = pairs_from_words(m["out"], alt, lang)
        conds = pairs_from_words(m["cond"], alt, lang) if m.groupdict().get("cond") else []
        if outs is None or conds is None:
            problems.append(f"unknown variable in sentence: {sent!r}")
            continue
        outs = [(canon.get(nm.lower(), nm), w, lt) for nm, w, lt in outs]
        conds = [(canon.get(nm.lower(), nm), w, lt) for nm, w, lt in conds]
        stmts.append({"outs": outs, "conds": conds, "p": float(m["p"]), "p_text": m["p"], "pos": pos,
                      "of": len(sentences)})
    return stmts, problems

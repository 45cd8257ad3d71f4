"""The query of a CaLM-style question (treatment, outcome, values, fixed mediators, bound) read back from its
sentence with the task's own phrasings (:attr:`whygym.tasks.spec.TaskSpec.phrasings`, the templates the
generator writes with), EN and CN; the instruction line names the treatment and the outcome.
"""

from __future__ import annotations

import re
from typing import Any

from whygym.benchmarks.reading.coding import ValueCoding
from whygym.benchmarks.reading.graphs import name_alternation, with_name_variants
from whygym.benchmarks.reading.statements import pairs_from_words

__all__ = ["parse_question"]

def _question_patterns(task: str, lang: str, alt: str | None = None) -> list[re.Pattern]:
    """The task's phrasings (:attr:`whygym.tasks.spec.TaskSpec.phrasings`) as readers: names as lazy wildcards
    (resolved against the item's names afterwards: one compiled pattern per task and language, not one per
    item) or, with ``alt``, as the item's own names."""
    from whygym.tasks.spec import TASKS

    spec = TASKS.get(task.upper())
    return spec.question_patterns(lang, alt or ".+?") if spec else []


def _resolve(name2id: dict[str, str], name: str) -> str | None:
    n = name.strip().lower()
    return name2id.get(n) or name2id.get("the " + n)


def _instruction_to(instruction: str, alt: str, lang: str) -> tuple[str, str] | None:
    if lang == "cn":
        m = re.search(rf"考虑(?P<T>{alt})作用于(?P<O>{alt})的", instruction, re.I)
    else:
        m = re.search(rf"\bof (?:the )?(?P<T>{alt}) on (?:the )?(?P<O>{alt})\.?\s*$", instruction, re.I)
    return (m["T"], m["O"]) if m else None


def parse_question(task: str, question: str, instruction: str, name2id: dict[str, str], values: ValueCoding,
                   lang: str = "en") -> tuple[dict[str, Any], list[str]]:
    """The query dict for one of the seven tasks from its question (and instruction, as a cross-check)."""
    name2id = with_name_variants(name2id)
    problems: list[str] = []
    q = question.strip()
    m = None
    for t in _question_patterns(task, lang):
        m = t.fullmatch(q)
        if m and _resolve(name2id, m["T"]) and _resolve(name2id, m["O"]):
            break
        m = None
    alt = name_alternation(list(name2id))
    if m is None:  # names that the wildcards split wrongly: match the item's names as a whole
        for t in _question_patterns(task, lang, alt):
            m = t.fullmatch(q)
            if m:
                break
    if not m:
        return {}, [f"question does not match the {task} phrasing: {q!r}"]
    gd = m.groupdict()
    tid, oid = _resolve(name2id, gd["T"]), _resolve(name2id, gd["O"])
    query: dict[str, Any] = {"treatment": tid, "outcome": oid}
    if instruction:
        to = None
        gi = re.search(r"考虑(?P<T>.+?)作用于(?P<O>.+?)的" if lang == "cn" else
                       r"\bof (?:the )?(?P<T>.+?) on (?:the )?(?P<O>.+?)\.?\s*$", instruction, re.I)
        if gi and _resolve(name2id, gi["T"]) and _resolve(name2id, gi["O"]):
            to = (gi["T"], gi["O"])
        elif alt:
            to = _instruction_to(instruction, alt, lang)
        if to and (_resolve(name2id, to[0]), _resolve(name2id, to[1])) != (tid, oid):
            problems.append(f"instruction names {to} but question treatment/outcome is {(gd['T'], gd['O'])}")

    def val(var, key):
        v = values.value(var, gd[key].strip())
        if v is None:
            problems.append(f"cannot read {gd[key]!r} (value of {var}) as 0/1")
        return v

    query["x"] = val(tid, "x")
    query["y"] = val(oid, "y")
    if "xf" in gd and gd.get("xf") is not None:
        query["x_factual"] = val(tid, "xf")
    if gd.get("yf") is not None:
        query["y_factual"] = val(oid, "yf")
    if gd.get("bound"):
        query["bound"] = "upper" if gd["bound"] in ("upper", "上界") else "lower"
    if gd.get("fixed") is not None:
        pairs = pairs_from_words(gd["fixed"], alt, lang)
        if pairs is None:
            problems.append(f"cannot read the conditioned-on part {gd['fixed']!r}")
        else:
            fixed = {}
            for nm, w, inline in pairs:
                var = inline[0] if inline else name2id.get(nm.lower())
                v = inline[1] if inline else values.value(var, w)
                if v is None:
                    problems.append(f"cannot read {w!r} (value of {var}) as 0/1")
                fixed[var] = v
            query["fixed"] = fixed
    return query, problems

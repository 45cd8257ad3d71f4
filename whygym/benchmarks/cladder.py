"""CLadder loader (the CLadder JSON format: an array of question records).

Record fields: ``question_id``, ``desc_id``, ``given_info``, ``question``, ``answer`` (yes/no),
``meta`` (``query_type``, ``rung``, ``graph_id``, ``story_id``, ``given_info`` numbers, ``estimand``,
``groundtruth``, ``treatment``, ``outcome``, ...), ``reasoning`` (``step0``.. ``end``).

Prompt (``style="cladder"``, default): CLadder's own evaluation prompt (``causalbenchmark/eval/run_gpt_v1.5.py``
in causalNLP/cladder): ``"{background} {given_info} {question}"`` (stripped, single-spaced), a blank line,
and its answer request::

    {background} {given_info} {question}

    Start your answer with "Yes" or "No", followed by additional reasoning or evidence to support your explanation.

``{background} `` appears only when a record carries a ``background`` story (the released question files
keep it in a separate model file; the 45-item sample has none). ``style="calm"`` gives the form CaLM uses
for its CLadder-derived sets (``Input Info: {given_info}\nQuestion: {question}\nAnswer (Yes or No ?):``).

Structure: ``graph`` from ``reasoning.step0`` ("Let V2 = smoking; X = obesity; ...") and ``step1``
(``X->V3,V2->V3``), with CLadder's own node ids (X, Y, V1, V2, V3); ``query`` holds treatment, outcome
and query type. ``given`` comes from ``reasoning.step4`` ("P(Y=1 | X=0) = 0.86"), i.e. the numbers as the
prompt states them (rounded percentages), in canonical keys (``P(Y=1|X=0)``); only when every step4 line
is such a probability. The unrounded values stay in ``meta["given_info"]`` (CLadder's CPT lists, indexed by
the parents' values in the order named: ``p(Y | X, V3)[x][v3] = P(Y=1|X=x,V3=v3)``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from whygym.items import Item
from whygym.benchmarks._io import BenchmarkFormatError, read_records, require

__all__ = ["load_cladder", "cladder_prompt", "cladder_structure", "CLADDER_REQUEST"]


#: CLadder's answer request (its ``q_type2prompt_suffix['answer']``).
CLADDER_REQUEST = ('Start your answer with "Yes" or "No", followed by additional reasoning or evidence to support '
                   'your explanation.')


def cladder_prompt(rec: dict[str, Any], style: str = "cladder") -> str:
    """The prompt of one CLadder record, in CLadder's own style or CaLM's (see the module docstring)."""
    bg = str(rec.get("background") or "").strip()
    if style == "calm":
        info = f"{bg} {rec['given_info']}" if bg else rec["given_info"]
        return f"Input Info: {info}\nQuestion: {rec['question']}\nAnswer (Yes or No ?):"
    if style != "cladder":
        raise ValueError(f"unknown CLadder prompt style {style!r}; expected 'cladder' or 'calm'")
    parts = [bg, str(rec["given_info"]).strip(), str(rec["question"]).strip()]
    raw = " ".join(p for p in parts if p).replace("  ", " ")
    return f"{raw}\n\n{CLADDER_REQUEST}"


def _graph(reasoning: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    s0, s1 = str(reasoning.get("step0", "")), str(reasoning.get("step1", ""))
    pairs = re.findall(r"(\w+) = ([^;]+?)(?=;|\.?\s*$)", s0.removeprefix("Let ").strip())
    if not pairs:
        return {}, f"no 'Let X = name; ...' in reasoning.step0 {s0[:80]!r}"
    names = {k: v.strip() for k, v in pairs}
    edges = [[a, b] for a, b in re.findall(r"(\w+)->(\w+)", s1)]
    nodes = list(names)
    for a, b in edges:
        for n in (a, b):
            if n not in names:
                nodes.append(n)
    return {"nodes": nodes, "edges": edges, "names": names}, None


_PROB_LINE = re.compile(r"P\((?P<lhs>[^|()]+?)(?:\|(?P<rhs>[^()]+?))?\)\s*=\s*(?P<p>-?\d+(?:\.\d+)?)")


def _given(reasoning: dict[str, Any]) -> dict[str, float]:
    lines = [ln.strip() for ln in str(reasoning.get("step4", "")).split("\n") if ln.strip()]
    out: dict[str, float] = {}
    for ln in lines:
        m = _PROB_LINE.fullmatch(ln)
        if not m:
            return {}
        sides = []
        for side in (m["lhs"], m["rhs"]):
            if side is None:
                sides.append("")
                continue
            # CLadder writes some events as "X=1=1" ("the event X=1 holds"); read it as X=1
            terms = [re.sub(r"^(\w+=\d)=1$", r"\1", t.replace(" ", "")) for t in side.split(",")]
            if not all(re.fullmatch(r"\w+=\d", t) for t in terms):
                return {}
            sides.append(",".join(terms))
        key = f"P({sides[0]}|{sides[1]})" if sides[1] else f"P({sides[0]})"
        out[key] = float(m["p"])
    return out


#: The keys of a CLadder record's ``meta`` that the auditor reads (query type, polarity, the story's graph).
CLADDER_META_KEYS = ("query_type", "rung", "graph_id", "story_id", "model_id", "estimand", "formal_form",
                     "groundtruth", "given_info", "treatment", "outcome", "polarity", "treated", "result",
                     "baseline", "collider", "action", "bad_candidate_set")


def cladder_meta(m: dict[str, Any]) -> dict[str, Any]:
    """What an item's meta keeps of a CLadder ``meta`` object (also of CaLM's CLadder-derived sets)."""
    return {k: m[k] for k in CLADDER_META_KEYS if k in m}


def cladder_structure(rec: dict[str, Any]) -> tuple[dict, dict, dict, str | None]:
    """``(graph, query, given, problem)`` of a CLadder-format record (also CaLM's CLadder-derived sets)."""
    m = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
    reasoning = rec.get("reasoning") or {}
    if not isinstance(reasoning, dict):
        return {}, {}, {}, "reasoning is not an object"
    graph, err = _graph(reasoning)
    if not reasoning:
        err = "no reasoning steps in the record: graph not recoverable"
    query = {k: m[k] for k in ("query_type", "treatment", "outcome") if k in m}
    return graph, query, _given(reasoning), err


def load_cladder(path: str | os.PathLike, *, limit: int | None = None, benchmark: str = "cladder",
                 subset: str | None = None, style: str = "cladder") -> list[Item]:
    """Load a CLadder JSON file (array; JSON Lines also accepted). Gold: ``{"label": "yes"|"no"}``.

    ``style``: ``"cladder"`` (CLadder's evaluation prompt, default) or ``"calm"`` (CaLM's form).
    """
    path = Path(path)
    subset = subset or path.stem
    items: list[Item] = []
    for n, (where, rec) in enumerate(read_records(path)):
        require(rec, ("given_info", "question", "answer", "meta"), path, where,
                "a CLadder record {question_id, given_info, question, answer, meta, reasoning}")
        lab = str(rec["answer"]).strip().lower()
        if lab not in ("yes", "no"):
            raise BenchmarkFormatError(f"{path}: {where}: answer {rec['answer']!r}; expected yes or no")
        m = rec["meta"]
        if not isinstance(m, dict) or "query_type" not in m:
            raise BenchmarkFormatError(f"{path}: {where}: meta has no query_type; expected a CLadder meta object")
        try:
            rung = int(m.get("rung", 0))
        except (TypeError, ValueError):
            raise BenchmarkFormatError(f"{path}: {where}: meta.rung {m.get('rung')!r} is not an integer") from None
        qid = rec.get("question_id", n)
        meta = {"benchmark": benchmark, "subset": subset, "file": path.name, "path": str(path), "where": where,
                "index": n, "language": "EN", "question_id": qid, "desc_id": rec.get("desc_id")}
        meta.update(cladder_meta(m))
        reasoning = rec.get("reasoning") or {}
        graph, query, given, err = cladder_structure(rec)
        if err:
            meta["parse_error"] = err
        items.append(Item(id=f"{benchmark}:{subset}:{qid}", task=str(m["query_type"]), rung=rung,
                          prompt=cladder_prompt(rec, style), answer=lab.capitalize(), gold={"label": lab},
                          reason={str(k): str(v) for k, v in reasoning.items()} if isinstance(reasoning, dict)
                          else {}, graph=graph, query=query, given=given, meta=meta))
        if limit is not None and len(items) >= limit:
            break
    return items

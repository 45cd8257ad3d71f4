"""CaLM's graph questions, decided from the graph the prompt states: abstract reasoning (AR-B: "Does A cause
B?", a directed path), causal attribution (CA-B: "Does A serve as the ancestor / parent node of B?") and
causal-effect identification (CEI-B: "Whether the causal effect of X on Y is identified?", with the
unobserved confounders the prompt lists, by the ID algorithm, :func:`whygym.scm.identify.identified`).
EN and CN prompts; the answer is read from the prompt text alone.
"""

from __future__ import annotations

import re
from typing import Any

from whygym.items import Item

__all__ = ["GRAPH_TASKS", "audit_graph_question", "read_graph_question"]

#: CaLM task codes (``<CODE>-B_<name>``) decided here.
GRAPH_TASKS = ("AR-B", "CA-B", "CEI-B")

_NODE = r"([A-Z][A-Za-z0-9_]*)"
_EDGE = re.compile(_NODE + r"\s*(?:causes|导致)\s*" + _NODE)
_BI = re.compile(_NODE + r"\s*(?:and|和)\s*" + _NODE)
_QUESTIONS = {
    "AR-B": (re.compile(r"Question: Does " + _NODE + r" cause " + _NODE + r"\?"),
             re.compile(r"问题：" + _NODE + r"是否导致" + _NODE + r"？")),
    "CA-B_FA": (re.compile(r"Question: Does " + _NODE + r" serve as the ancestor node of " + _NODE + r"\?"),
                re.compile(r"问题：" + _NODE + r"是" + _NODE + r"的祖先节点吗？")),
    "CA-B_FP": (re.compile(r"Question: Does " + _NODE + r" serve as the parent node of " + _NODE + r"\?"),
                re.compile(r"问题：" + _NODE + r"是" + _NODE + r"的父节点吗？")),
    "CEI-B": (re.compile(r"Question: Whether the causal effect of " + _NODE + r" on " + _NODE + r" is identified"),
              re.compile(r"问题：" + _NODE + r"对" + _NODE + r"的因果效应是否可以被识别")),
}
_CONFOUNDERS = re.compile(r"(?:There exist unobserved confounders between:|在这些变量间存在着不可观察的混淆变量：)([^\n]*)")


def _kind(task: str) -> str | None:
    code = task.split("_")[0]
    if code == "CA-B":
        return "CA-B_FA" if task.endswith("_FA") else "CA-B_FP" if task.endswith("_FP") else None
    return code if code in GRAPH_TASKS else None


def read_graph_question(item: Item) -> dict[str, Any]:
    """``{"kind", "edges", "bidirected", "a", "b"}`` read from the prompt; raises ValueError when it is not."""
    kind = _kind(item.task)
    if kind is None:
        raise ValueError(f"{item.task} is not a CaLM graph question")
    text = item.prompt
    q = next((m for pat in _QUESTIONS[kind] if (m := pat.search(text))), None)
    if q is None:
        raise ValueError("the question is not in a form the reader knows")
    body = text[:q.start()]
    conf = _CONFOUNDERS.search(body)
    graph_part = body[:conf.start()] if conf else body
    edges = _EDGE.findall(graph_part)
    if not edges:
        raise ValueError("no 'A causes B' edge in the prompt")
    bidirected = _BI.findall(conf.group(1)) if conf else []
    return {"kind": kind, "edges": edges, "bidirected": bidirected, "a": q.group(1), "b": q.group(2)}


def _ancestors(edges, node: str) -> set[str]:
    parents: dict[str, set] = {}
    for u, v in edges:
        parents.setdefault(v, set()).add(u)
    out, stack = set(), [node]
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in out:
                out.add(p)
                stack.append(p)
    return out


def audit_graph_question(item: Item, res) -> Any:
    """Fill the :class:`~whygym.benchmarks.audit.AuditResult` ``res`` of an AR-B, CA-B or CEI-B item."""
    from whygym.scm.identify import identified

    try:
        g = read_graph_question(item)
    except ValueError as e:
        res.category, res.note = "parse failure", str(e)
        return res
    a, b, edges = g["a"], g["b"], g["edges"]
    if g["kind"] == "CEI-B":
        yes = identified({b}, {a}, edges, g["bidirected"])
        res.steps = {"graph": ", ".join(f"{u}->{v}" for u, v in edges),
                     "confounded": ", ".join(f"{u}<->{v}" for u, v in g["bidirected"]) or "none",
                     "ID algorithm": f"P({b}|do({a})) is {'identified' if yes else 'not identified (a hedge)'}"}
    elif g["kind"] == "CA-B_FP":
        yes = (a, b) in set(edges)
        res.steps = {"parents": f"parents of {b}: " + ", ".join(sorted(u for u, v in edges if v == b))}
    else:  # AR-B, CA-B_FA: an ancestor, i.e. a directed path a -> ... -> b
        anc = _ancestors(edges, b)
        yes = a in anc
        res.steps = {"ancestors": f"ancestors of {b}: " + (", ".join(sorted(anc)) or "none")}
    label = "yes" if yes else "no"
    res.solved = label
    gold = str(item.gold.get("label"))
    if label == gold:
        res.status = "agree"
    else:
        res.status, res.category = "disagree", "label error"
        res.note = f"the stated graph gives {label}: " + "; ".join(res.steps.values())
    return res

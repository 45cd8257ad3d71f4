"""Contamination check: test items whose graph and question also occur in a training set.

Two items collide when they ask the same task on the same graph with the same question, after the
variable names are normalised away (graphs and queries are compared in node ids A, B, C, ..., so a
renamed copy of a training item is still caught)."""

from __future__ import annotations

import json
from typing import Iterable

from whygym.items import Item

__all__ = ["structure_key", "find_overlap"]


def structure_key(item: Item) -> str | None:
    """A name-free key of an item's graph and question, or None when the item has no parsed structure."""
    g, q = item.graph or {}, item.query or {}
    if not g.get("nodes") or "treatment" not in q:
        return None
    edges = sorted(tuple(e) for e in g.get("edges", []))
    query = {k: v for k, v in q.items() if k != "polarity"}
    return json.dumps([item.task.upper(), len(g["nodes"]), edges, query], sort_keys=True)


def find_overlap(train: Iterable[Item], test: Iterable[Item]) -> list[tuple[Item, str]]:
    """Test items whose structure key occurs in ``train``, each with the id of one training twin."""
    seen: dict[str, str] = {}
    for it in train:
        k = structure_key(it)
        if k is not None:
            seen.setdefault(k, it.id)
    out = []
    for it in test:
        k = structure_key(it)
        if k is not None and k in seen:
            out.append((it, seen[k]))
    return out

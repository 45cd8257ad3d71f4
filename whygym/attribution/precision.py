"""Precision fine-tuning: a training plan read off an attribution file.

``plan_from_attribution(doc)`` turns what attribution measured into

(a) a **training mix**: generator arguments for the base items and a weighted list of
    :func:`whygym.tasks.variants.intervene` settings, weighted toward the component the model uses too
    little (or relies on too much), and
(b) **LoRA target modules** limited to the top-attributed layers (full module names of the Llama model,
    e.g. ``model.layers.3.mlp.down_proj``), when the file holds a layer attribution.

``build_precision_dataset(plan, n, seed)`` then draws the items.

Only gold-preserving interventions enter the mix
-----------------------------------------------------
:func:`~whygym.tasks.variants.intervene` keeps the base item's gold. That gold stays *correct for the
shown prompt* when the names change (``fake``: meaningless words; ``anticommonsense``: the story's
variables in reversed causal order, graph statements and numbers unchanged) or when the instruction is
omitted (the question still asks the same thing). It is *not* derivable when the data are withheld or
perturbed, or when the graph is withheld or reversed, so those levels never enter a training mix.

Rules (``s_c`` = conditional attribution of component ``c``, the drop when ``c`` alone is removed, on the
plan's metric: the first of accuracy, label accuracy and gold log-probability with an interval excluding 0,
else the gold log-probability; ``scale`` = 0.1 for accuracies, 1 nat for log-probabilities)
--------------------------------------------------------------------------------------------------------
* knowledge-removed share ``p_k = clip(0.5 + 0.4 tanh((s_names - s_data) / scale), 0.1, 0.9)``: the more the
  model leans on names rather than numbers, the more items carry names it cannot lean on (split equally
  between ``fake`` and ``anticommonsense``), so that the numbers must be used;
* instruction-omitted share ``p_i = clip(0.1 + 0.5 tanh(max(s_instruction, 0) / scale), 0.1, 0.6)``: a model
  that fails without the instruction gets more items without it;
* the two are crossed independently; the remaining mass stays on the unmodified prompt.

LoRA targets: the ``top_k`` modules (attention or MLP outputs) with the largest mean absolute effect under
the chosen layer method (patching when present, else mean ablation), expanded to their Linear
submodules (attention: q/k/v/o_proj; MLP: gate/up/down_proj).
"""

from __future__ import annotations

import math
import random as _random
from pathlib import Path
from typing import Any, Mapping, Sequence

from whygym.attribution.schema import LayerSection, MetricScores, read_attribution
from whygym.items import PROB_TASKS, Item

__all__ = ["plan_from_attribution", "build_precision_dataset", "precision_overrides", "precision_train_items",
           "GOLD_PRESERVING"]

#: Levels whose re-rendered prompt still determines the base item's gold.
GOLD_PRESERVING = {"names": ("real", "fake", "anticommonsense"), "instruction": ("present", "omitted"),
                   "data": ("present",), "graph": ("present",)}
_SCALE = {"correct": 0.1, "label": 0.1, "loglik": 1.0}


def _pick_metric(results: Mapping[str, MetricScores], metric: str | None) -> str | None:
    if metric:
        if metric not in results:
            raise ValueError(f"metric {metric!r} not in the attribution file (has {sorted(results)})")
        return metric
    # The first of accuracy, label accuracy, gold log-prob with a conditional attribution whose interval
    # excludes 0; else the gold log-probability (it moves even when no answer is right); else any.
    for m in ("correct", "label", "loglik"):
        if m in results and any(ci.excludes_zero for ci in results[m].conditional.values()):
            return m
    if "loglik" in results:
        return "loglik"
    return next(iter(results), None)


def plan_from_attribution(attribution: Mapping[str, Any] | str | Path, *, metric: str | None = None,
                          top_k: int = 4, layer_method: str | None = None,
                          tasks: Sequence[str] | None = None) -> dict[str, Any]:
    """A training plan from an ``attribution.json`` (dict, file, or folder holding it).

    Returns
    -------
    dict
        ``{"generator": {"names": "real", "tasks": [...], "nodes": [lo, hi], "no_path_rate": 0.0},
        "mix": [{"weight": w, "intervene": {...}}, ...], "lora": {"target_modules": [...] or None,
        "modules": [...], "method": ...}, "signals": {...}, "rationale": [str, ...]}``
    """
    doc = read_attribution(attribution)
    results = doc.results or {}
    rationale: list[str] = []
    m = _pick_metric(results, metric)
    cond = {c: ci.point for c, ci in (results[m].conditional if m else {}).items()}
    scale = _SCALE.get(m or "", 0.1)
    s_names, s_data, s_instr = cond.get("names"), cond.get("data"), cond.get("instruction")
    if s_names is not None and s_data is not None:
        p_k = 0.5 + 0.4 * math.tanh((s_names - s_data) / scale)
        rationale.append(f"{m}: conditional attribution names={s_names:+.3f}, data={s_data:+.3f}; "
                         f"knowledge-removed share {p_k:.2f}")
    elif s_names is not None:
        p_k = 0.5 + 0.4 * math.tanh(s_names / scale)
        rationale.append(f"{m}: names={s_names:+.3f} (no data arm); knowledge-removed share {p_k:.2f}")
    elif s_data is not None:
        p_k = 0.5 - 0.4 * math.tanh(s_data / scale)
        rationale.append(f"{m}: data={s_data:+.3f} (no names arm); knowledge-removed share {p_k:.2f}")
    else:
        p_k = 0.5
        rationale.append("no names/data attribution in the file: knowledge-removed share 0.5")
    p_k = min(0.9, max(0.1, p_k))
    if s_instr is not None:
        p_i = 0.1 + 0.5 * math.tanh(max(s_instr, 0.0) / scale)
        rationale.append(f"{m}: conditional attribution instruction={s_instr:+.3f}; instruction-omitted share "
                         f"{p_i:.2f}")
    else:
        p_i = 0.1
        rationale.append("no instruction attribution: instruction-omitted share 0.1")
    p_i = min(0.6, max(0.1, p_i))
    mix = []
    for names, wn in (("real", 1 - p_k), ("fake", p_k / 2), ("anticommonsense", p_k / 2)):
        for instr, wi in (("present", 1 - p_i), ("omitted", p_i)):
            mix.append({"weight": round(wn * wi, 6),
                        "intervene": {"names": names, "data": "present", "graph": "present", "instruction": instr}})
    tasks = list(tasks or doc.tasks or PROB_TASKS)
    lora = _lora_from_layers(doc.layers, top_k, layer_method)
    if lora["target_modules"]:
        rationale.append(f"LoRA limited to the top {len(lora['modules'])} modules by {lora['method']}: "
                         + ", ".join(lora["modules"]))
    else:
        rationale.append("no layer attribution in the file: LoRA targets left to the trainer's default")
    return {"schema": "whygym.precision-plan/1",
            "generator": {"names": "real", "tasks": tasks, "nodes": [3, 5], "no_path_rate": 0.0},
            "mix": mix, "lora": lora,
            "signals": {"metric": m, "conditional": cond, "knowledge_removed_share": p_k,
                        "instruction_omitted_share": p_i},
            "rationale": rationale, "source": {"model": doc.model_name, "kind": doc.kind}}


def _lora_from_layers(layers: LayerSection | None, top_k: int, method: str | None) -> dict[str, Any]:
    from whygym.attribution.layers import lora_targets_for

    if layers is None or not layers.rows:
        return {"target_modules": None, "modules": [], "method": None}
    rows = layers.rows
    if method is None:
        method = "patching" if "patching" in rows[0].effects else "mean_ablation"
    if method not in rows[0].effects:
        raise ValueError(f"layer method {method!r} not in the attribution file (has "
                         f"{[k for k in rows[0].effects if k in ('patching', 'mean_ablation')]})")
    ranked = sorted(rows, key=lambda r: -abs(r.effects[method].point or 0.0))[:max(1, top_k)]
    modules = [r.module for r in ranked]
    targets = [t for mname in modules for t in lora_targets_for(mname)]
    return {"target_modules": targets, "modules": modules, "method": method,
            "effects": {r.module: r.effects[method].point for r in ranked}}


def build_precision_dataset(plan: Mapping[str, Any], n: int, seed: int) -> list[Item]:
    """``n`` training items drawn from the plan: base items generated with real names, each re-rendered
    with a mix entry chosen by weight (deterministic in ``seed``); ``meta["precision"]`` records the entry.

    The tasks cycle through ``plan["generator"]["tasks"]``, so ``n`` need not divide by their number.
    """
    from whygym.tasks import GenConfig, generate_item
    from whygym.tasks.variants import intervene

    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    gen = plan["generator"]
    cfg = GenConfig(names="real", nodes=tuple(gen.get("nodes", (3, 5))), no_path_rate=gen.get("no_path_rate", 0.0))
    tasks = list(gen["tasks"])
    mix = [e for e in plan["mix"] if e["weight"] > 0]
    for e in mix:
        for c, lvl in e["intervene"].items():
            if lvl not in GOLD_PRESERVING[c]:
                raise ValueError(f"mix entry {e}: {c}={lvl} does not preserve the gold; training on it would "
                                 "teach answers the prompt does not determine")
    weights = [e["weight"] for e in mix]
    rng = _random.Random(f"precision|{seed}")
    out = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        base = generate_item(task, seed, i // len(tasks), cfg)
        entry = rng.choices(mix, weights=weights)[0]
        it = intervene(base, **entry["intervene"])
        it.meta["precision"] = dict(entry["intervene"])
        out.append(it)
    return out


def precision_overrides(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Settings a trainer config takes from the plan: ``{"lora": True, "lora_targets": [...], "tasks": [...]}``
    (``lora_targets`` only when the plan names modules)."""
    out: dict[str, Any] = {"tasks": list(plan["generator"]["tasks"])}
    if plan["lora"]["target_modules"]:
        out.update(lora=True, lora_targets=list(plan["lora"]["target_modules"]))
    return out


def precision_train_items(attribution: Mapping[str, Any] | str | Path, tasks: Sequence[str] | None, n_per_task: int,
                          seed: int, heldout: Sequence[Item] = (), **plan_kw: Any) -> tuple[list[Item], dict[str, Any]]:
    """The drop-in for a trainer's data step: ``(items, plan)`` with ``n_per_task * len(tasks)`` plan items,
    minus those sharing graph and question with ``heldout`` (:func:`whygym.tasks.dedup.find_overlap`).

    The derivation steps of an item (``item.reason``) name variables by letter, so they stay valid for the
    renamed prompts (fake or anticommonsense names) that the mix adds.
    """
    from whygym.tasks.dedup import find_overlap

    plan = plan_from_attribution(attribution, tasks=tasks, **plan_kw)
    items = build_precision_dataset(plan, n_per_task * len(plan["generator"]["tasks"]), seed)
    clash = {it.id for it, _ in find_overlap(list(heldout), items)}
    return [it for it in items if it.id not in clash], plan

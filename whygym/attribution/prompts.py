"""do() on the parts of a prompt: a paired full-factorial design over prompt components, each arm
evaluated (with a response cache), and the attribution scores of :mod:`whygym.attribution.factorial`.

Design
------
Base items are generated with real names (``GenConfig(names="real")``) so that knowledge can be removed.
For the chosen components (a subset of ``names, data, graph, instruction``) every arm sets each component
to its *on* level (``real``, ``present``, ``present``, ``present``) or its *off* level (by default
``fake``, ``withheld``, ``withheld``, ``omitted``; ``anticommonsense``, ``perturbed`` and ``reversed`` may
be chosen instead); components not chosen stay on. Every arm is a re-rendering of the same base item by
:func:`whygym.tasks.variants.intervene`, so arms differ only in what was intervened on (paired design),
and every arm keeps the base item's gold.

Metrics per item and arm
------------------------
``correct``  1 if :func:`whygym.scoring.score` says ``correct`` (strict match), else 0.
``label``    1 if the yes/no label agrees with the gold's (``label_correct``), for tasks with a label.
``parsed``   1 if the output holds a readable answer (the scorer's outcome is not ``unparsed``).
``loglik``   ``log p(gold answer JSON | prompt)`` from the backend's ``loglikelihood`` (sum over tokens).

Evaluation goes through the evaluation harness (:func:`whygym.eval.run_eval`, one benchmark file per arm,
one shared ``cache.sqlite``) when it is importable; otherwise through :class:`~whygym.models.CachedBackend`
and :func:`~whygym.scoring.score` directly (same cache file, same scoring). ``attribution.json`` records
which path ran.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from whygym.attribution.factorial import arm_tuples, attribution_scores
from whygym.attribution.schema import PROMPT_SCHEMA, load_doc, write_doc
from whygym.items import Item, write_jsonl
from whygym.tasks.variants import COMPONENTS, intervene

__all__ = ["ON_LEVELS", "OFF_LEVELS", "Design", "base_items", "parse_gen_spec", "build_arms", "evaluate_arms",
           "prompt_attribution", "STUDY_NAMES", "METRICS"]

ON_LEVELS = {"names": "real", "data": "present", "graph": "present", "instruction": "present"}
OFF_LEVELS = {"names": "fake", "data": "withheld", "graph": "withheld", "instruction": "omitted"}
#: Knowledge (names) and data in the study's vocabulary.
STUDY_NAMES = {"names": "K", "data": "D"}
METRICS = ("correct", "label", "parsed", "loglik")


@dataclass
class Design:
    """Which components are varied and which level stands for "off" for each.

    >>> d = Design(["names", "data"])
    >>> d.levels((0, 1))
    {'names': 'fake', 'data': 'present', 'graph': 'present', 'instruction': 'present'}
    >>> d.label((0, 1))
    'names=fake,data=present'
    >>> Design(["names"], off={"names": "anticommonsense"}).levels((0,))["names"]
    'anticommonsense'
    """

    components: list[str]
    off: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.components = list(self.components)
        if not self.components:
            raise ValueError(f"choose at least one component of {list(COMPONENTS)}")
        bad = [c for c in self.components if c not in COMPONENTS]
        if bad or len(set(self.components)) != len(self.components):
            raise ValueError(f"components {self.components}: each must be one of {list(COMPONENTS)}, once")
        off = {**OFF_LEVELS, **self.off}
        for c, lvl in off.items():
            if c not in COMPONENTS or lvl not in COMPONENTS[c] or lvl == ON_LEVELS[c]:
                raise ValueError(f"off level {c}={lvl!r}: choose one of "
                                 f"{[v for v in COMPONENTS.get(c, ()) if v != ON_LEVELS.get(c)]}")
        self.off = off

    @property
    def arms(self) -> list[tuple[int, ...]]:
        return arm_tuples(len(self.components))

    def levels(self, arm: Sequence[int]) -> dict[str, str]:
        lv = dict(ON_LEVELS)
        for c, bit in zip(self.components, arm):
            lv[c] = ON_LEVELS[c] if bit else self.off[c]
        return lv

    def label(self, arm: Sequence[int]) -> str:
        lv = self.levels(arm)
        return ",".join(f"{c}={lv[c]}" for c in self.components)


def parse_gen_spec(spec: str) -> tuple[list[str], int, int]:
    """``gen:TASKS:N:SEED`` -> (tasks, n per task, seed).

    >>> parse_gen_spec("gen:ATE,NDE:20:0")
    (['ATE', 'NDE'], 20, 0)
    """
    from whygym.tasks import DEFAULT_TASKS

    parts = spec.split(":")
    if len(parts) != 4 or parts[0] != "gen":
        raise ValueError(f"benchmark {spec!r}: attribution needs generated base items, written gen:TASKS:N:SEED "
                         "(e.g. gen:ATE,NDE:20:0), because knowledge removal needs items with real names")
    tasks = list(DEFAULT_TASKS) if parts[1].lower() == "all" else [t.strip().upper() for t in parts[1].split(",") if t]
    try:
        n, seed = int(parts[2]), int(parts[3])
    except ValueError:
        raise ValueError(f"benchmark {spec!r}: N and SEED must be integers") from None
    if n < 1 or not tasks:
        raise ValueError(f"benchmark {spec!r}: need at least one task and N >= 1")
    return tasks, n, seed


def base_items(tasks: Sequence[str], n: int, seed: int, nodes: tuple[int, int] = (3, 5),
               no_path_rate: float = 0.0) -> list[Item]:
    """``n`` generated items per task with real names (so that knowledge can be removed).

    ``no_path_rate`` defaults to 0: an item whose answer is a structural zero (no causal path) states no
    numbers at all, so withholding the data would change nothing in its prompt.
    """
    from whygym.tasks import GenConfig, generate

    cfg = GenConfig(names="real", nodes=nodes, no_path_rate=no_path_rate)
    return list(generate(list(tasks), n=n, seed=seed, config=cfg))


def build_arms(items: Sequence[Item], design: Design) -> dict[tuple[int, ...], list[Item]]:
    """Every base item re-rendered under every arm (``arm -> items`` in base-item order)."""
    return {arm: [intervene(it, **design.levels(arm)) for it in items] for arm in design.arms}


def _label_flag(outcome) -> float:
    lc = outcome.label_correct
    return float("nan") if lc is None else float(bool(lc))


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="prompt", disable=not enabled, file=sys.stderr, dynamic_ncols=True,
                mininterval=1.0)


def evaluate_arms(arm_items: dict[tuple[int, ...], list[Item]], design: Design, backend: Any, *,
                  cache_path: str | Path, out_dir: str | Path | None = None, max_new_tokens: int = 64,
                  batch_size: int = 8, use_harness: bool = True, loglik: bool = True,
                  progress: bool = True) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """Generate, score and log-likelihood-score every arm; per-arm arrays aligned with the base items.

    Returns ``(metrics, info)`` with ``metrics[metric][arm_label]`` an array over base items and
    ``info`` saying which evaluation path ran, cache hits and misses.
    """
    from whygym.models import CachedBackend, ResponseCache
    from whygym.scoring import score

    arms = list(arm_items)
    labels = {arm: design.label(arm) for arm in arms}
    metrics: dict[str, dict[str, np.ndarray]] = {m: {} for m in METRICS}
    outputs: dict[str, list[str]] = {}
    info: dict[str, Any] = {"path": None, "cache": str(cache_path)}
    if use_harness and out_dir is not None:
        from whygym.eval import EvalConfig, run_eval

        _via_harness(run_eval, EvalConfig, arm_items, arms, labels, backend, out_dir, cache_path,
                     max_new_tokens, batch_size, progress, metrics, outputs, info)
        info["path"] = "whygym.eval.run_eval"
    else:
        info["path"] = "CachedBackend+score"
        cache = ResponseCache(cache_path)
        try:
            total = sum(len(v) for v in arm_items.values())
            bar = _progress(total, f"arms {getattr(backend, 'name', '')}", progress)
            cb = CachedBackend(backend, cache, chunk_size=batch_size, progress=bar.update)
            try:
                for arm in arms:
                    its = arm_items[arm]
                    gens = cb.generate([it.prompt for it in its], max_new_tokens=max_new_tokens)
                    outs = [score(g[0].text, it.gold) for g, it in zip(gens, its)]
                    metrics["correct"][labels[arm]] = np.array([float(o.correct) for o in outs])
                    metrics["label"][labels[arm]] = np.array([_label_flag(o) for o in outs])
                    metrics["parsed"][labels[arm]] = np.array([float(o.parsed) for o in outs])
                    outputs[labels[arm]] = [g[0].text for g in gens]
            finally:
                bar.close()
            info["samples_from_cache"], info["samples_generated"] = cb.hits, cb.misses
        finally:
            cache.close()
    if loglik:
        cache = ResponseCache(cache_path)
        try:
            total = sum(len(v) for v in arm_items.values())
            bar = _progress(total, "gold log-prob", progress)
            cb = CachedBackend(backend, cache, chunk_size=batch_size, progress=bar.update)
            try:
                for arm in arms:
                    its = arm_items[arm]
                    ll = cb.loglikelihood([it.prompt for it in its], [it.answer for it in its])
                    metrics["loglik"][labels[arm]] = np.asarray(ll, dtype=float)
            finally:
                bar.close()
        finally:
            cache.close()
    else:
        metrics.pop("loglik")
    info["outputs"] = outputs
    return metrics, info


def _via_harness(run_eval, EvalConfig, arm_items, arms, labels, backend, out_dir, cache_path, max_new_tokens,
                 batch_size, progress, metrics, outputs, info) -> None:
    """Evaluate every arm with :func:`whygym.eval.run_eval`: one benchmark file per arm, one shared cache."""
    arm_dir = Path(out_dir) / "arms"
    specs = []
    for arm in arms:
        f = arm_dir / f"{''.join(map(str, arm))}.jsonl"
        write_jsonl(arm_items[arm], f)
        specs.append(str(f))
    cfg = EvalConfig(model=getattr(backend, "name", "backend"), benchmarks=specs, out=str(Path(out_dir) / "eval"),
                     max_new_tokens=max_new_tokens, batch_size=batch_size, cache=str(cache_path))
    doc = run_eval(cfg, backend=backend, progress=progress, echo=None)
    by_key = {}
    with open(Path(out_dir) / "eval" / "samples.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            by_key[(r["benchmark"], r["id"])] = r
    for arm, spec in zip(arms, specs):
        recs = [by_key[(spec, it.id)] for it in arm_items[arm]]
        metrics["correct"][labels[arm]] = np.array([float(r["outcome"] == "correct") for r in recs])
        metrics["label"][labels[arm]] = np.array([float("nan") if r["label_correct"] is None
                                                  else float(bool(r["label_correct"])) for r in recs])
        metrics["parsed"][labels[arm]] = np.array([float(r["outcome"] != "unparsed") for r in recs])
        outputs[labels[arm]] = [r["output"] for r in recs]
    info["samples_from_cache"] = doc["run"].get("samples_from_cache")
    info["samples_generated"] = doc["run"].get("samples_generated")


def _study_block(design: Design, y: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """CAK, CAD, MAK, MAD in the study's two-factor sense: names x data, other components on."""
    if not {"names", "data"} <= set(design.components):
        return {}
    k = len(design.components)
    ki, di = design.components.index("names"), design.components.index("data")
    sub_arms, cols = [], []
    for j, arm in enumerate(design.arms):
        if all(arm[c] == 1 for c in range(k) if c not in (ki, di)):
            sub_arms.append((arm[ki], arm[di]))
            cols.append(j)
    s = attribution_scores(y[:, cols], ["names", "data"], sub_arms, n_boot=n_boot, seed=seed)
    return {"CAK": s["conditional"]["names"], "CAD": s["conditional"]["data"],
            "MAK": s["marginal"]["names"], "MAD": s["marginal"]["data"],
            "note": "two-factor sub-design (names x data) with every other chosen component on"}


def prompt_attribution(items: Sequence[Item], design: Design, backend: Any, *, out_dir: str | Path,
                       cache_path: str | Path | None = None, max_new_tokens: int = 64, batch_size: int = 8,
                       use_harness: bool = True, loglik: bool = True, n_boot: int = 2000, seed: int = 0,
                       progress: bool = True, meta: dict[str, Any] | None = None,
                       plot: bool = True, write: bool = True) -> dict[str, Any]:
    """Run the factorial on ``items`` and write ``attribution.json`` (atomically) and PNG plots to ``out_dir``.

    Returns the document (written only when ``write``; the CLI merges it with other sections itself). Scores are computed for every metric in :data:`METRICS` (``label`` only
    over items whose task has a yes/no label; ``loglik`` only when ``loglik``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = Path(cache_path) if cache_path else out / "cache.sqlite"
    arm_items = build_arms(items, design)
    metrics, info = evaluate_arms(arm_items, design, backend, cache_path=cache_path, out_dir=out,
                                  max_new_tokens=max_new_tokens, batch_size=batch_size, use_harness=use_harness,
                                  loglik=loglik, progress=progress)
    labels = [design.label(a) for a in design.arms]
    results: dict[str, Any] = {}
    for m, per_arm in metrics.items():
        y = np.stack([per_arm[lab] for lab in labels], axis=1)
        if m == "label":
            keep = np.all(np.isfinite(y), axis=1)
            y = y[keep]
            if not len(y):
                continue
        s = attribution_scores(y, design.components, design.arms, n_boot=n_boot, seed=seed)
        s["study"] = _study_block(design, y, n_boot, seed)
        s["n_items"] = int(len(y))
        results[m] = s
    per_item = []
    for i, it in enumerate(items):
        row = {"base_id": it.id, "task": it.task, "arms": {}}
        for lab in labels:
            row["arms"][lab] = {m: (None if not np.isfinite(metrics[m][lab][i]) else float(metrics[m][lab][i]))
                                for m in metrics}
            row["arms"][lab]["output"] = info["outputs"][lab][i]
        per_item.append(row)
    info.pop("outputs")
    doc = {
        "schema": PROMPT_SCHEMA,
        "kind": "prompt",
        "components": design.components,
        "levels": {c: {"on": ON_LEVELS[c], "off": design.off[c]} for c in design.components},
        "arms": {lab: design.levels(a) for lab, a in zip(labels, design.arms)},
        "n_items": len(items),
        "tasks": sorted({it.task for it in items}),
        "model": {"name": getattr(backend, "name", None), "config": getattr(backend, "config", None)},
        "settings": {"max_new_tokens": max_new_tokens, "decoding": "greedy", "n_boot": n_boot, "seed": seed,
                     "match": "strict", **(meta or {})},
        "evaluation": info,
        "results": results,
        "per_item": per_item,
    }
    if plot:
        from whygym.attribution.plot import plot_prompt_attribution

        doc["plots"] = plot_prompt_attribution(doc, out)
    if write:
        write_doc(out, doc)
    return doc


def load_attribution(path: str | Path) -> dict[str, Any]:
    """Read an ``attribution.json`` (a file or the folder holding it) as a dict; typed records:
    :func:`whygym.attribution.schema.read_attribution`."""
    return load_doc(path)

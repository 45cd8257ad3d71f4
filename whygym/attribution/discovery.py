"""The study's own setting without a judge model: causal discovery from a named numeric data table.

Cai, Liu & Song (arXiv 2401.00139) show a model a data table whose columns carry variable names, ask it to
list directed causal pairs, and compare six settings (numbered as in their code):

1. ``raw``           real names + data
2. ``omit_data``     real names, no data (the column names only)
3. ``omit_knowledge`` meaningless names + data
4. ``reverse``       the data relabelled: the column of the ``i``-th variable in causal order carries the
                     name of the ``(n-1-i)``-th, scored against the graph in those new labels (the data's truth)
5. ``reverse_orig``  the same prompt as 4, scored against the original graph in the original names (what
                     the names suggest)
6. ``random``        meaningless names, no data (a random guess)

and define, on the true discovery rate (TDR), per trial and then averaged::

    CAK = TDR(raw) - TDR(omit_knowledge)      conditional attribution of knowledge
    CAD = TDR(raw) - TDR(omit_data)           conditional attribution of data
    MAK = TDR(omit_data) - TDR(random)        marginal attribution of knowledge
    MAD = TDR(omit_knowledge) - TDR(random)   marginal attribution of data

Where the study asks GPT-4 to parse answers and compute the rates, whygym parses edges with
:func:`parse_edges` and computes every metric in code (:func:`discovery_metrics`):

* TDR = |P ∩ T| / |T| (share of true directed edges found), FDR = |P \\ T| / max(|P|, 1),
* F1 = 2 (1 - FDR) TDR / ((1 - FDR) + TDR) (0 when both are 0), the harmonic mean of precision and TDR,
* SHD = extra skeleton edges + missing skeleton edges + reversed edges (an edge present with the wrong
  direction counts once), as in the study's code.

Data come from whygym SCMs: binary tables sampled from :meth:`whygym.scm.BinarySCM.joint` for the full
graph, and continuous linear non-Gaussian pairs ``X = e_x``, ``Y = b X + e_y`` (uniform or Laplace noise)
for the pairwise case.
"""

from __future__ import annotations

import random as _random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["SETTINGS", "DiscoveryTrial", "parse_edges", "discovery_metrics", "shd", "relabel_reverse",
           "binary_trial", "pairwise_trial", "setting_prompts", "discovery_attribution", "run_discovery",
           "PROMPT"]

SETTINGS = ("raw", "omit_data", "omit_knowledge", "reverse", "reverse_orig", "random")

PROMPT = ("Suggest the directed causal pairs among the following variables{after}.\n{body}\n"
          "List ONLY the directed causal pairs, one per line, in the form `cause -> effect`, using the variable "
          "names exactly as written, and nothing else.")


# ---------------------------------------------------------------------------------------------------------
# Parsing and metrics
_ARROW = re.compile(r"\s*(?:->|→|=>|-->|⟶|\bcauses\b)\s*", re.IGNORECASE)
_STRIP = " \t`'\"*_.,;:[](){}"


def _norm(s: str) -> str:
    s = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", s)  # bullets and list numbers
    return re.sub(r"\s+", " ", s.strip(_STRIP)).casefold()


def parse_edges(text: str, names: Iterable[str]) -> list[tuple[str, str]]:
    """Directed pairs ``cause -> effect`` in a model answer, restricted to known variable names.

    Each line (and each comma- or semicolon-separated part of a line) is split at an arrow (``->``,
    ``→``, ``=>``, ``causes``); chains ``A -> B -> C`` give ``A -> B`` and ``B -> C``. Names match
    case-insensitively, ignoring quotes, bullets and list numbers. Pairs naming an unknown variable or a
    variable with itself are dropped (as the study drops them); duplicates are kept once, in order.

    >>> parse_edges("1. Age -> Income\\n- `income` → savings, age causes savings\\nfoo -> age", ["age", "income", "savings"])
    [('age', 'income'), ('income', 'savings'), ('age', 'savings')]
    """
    canon = {_norm(n): n for n in names}
    out: list[tuple[str, str]] = []
    for line in str(text).splitlines():
        for part in re.split(r"[;,]", line) if "," in line or ";" in line else [line]:
            nodes = [_norm(x) for x in _ARROW.split(part)]
            if len(nodes) < 2:
                continue
            for a, b in zip(nodes, nodes[1:]):
                if a in canon and b in canon and a != b:
                    e = (canon[a], canon[b])
                    if e not in out:
                        out.append(e)
    return out


def shd(true_edges: Iterable[tuple[str, str]], pred_edges: Iterable[tuple[str, str]]) -> int:
    """Structural Hamming distance: extra + missing skeleton edges + reversed edges.

    >>> shd([("a", "b"), ("b", "c")], [("b", "a"), ("a", "c")])   # one reversed, one extra, one missing
    3
    """
    t, p = set(true_edges), set(pred_edges)
    sk_t = {frozenset(e) for e in t}
    sk_p = {frozenset(e) for e in p}
    reversed_ = {(u, v) for (u, v) in p if (u, v) not in t and (v, u) in t}
    reversed_skel = {frozenset(e) for e in reversed_}
    # an edge listed both ways where one is true: its skeleton is right, one direction is extra -> counts once
    return len(sk_p - sk_t) + len(sk_t - sk_p) + len(reversed_skel)


def discovery_metrics(true_edges: Iterable[tuple[str, str]], pred_edges: Iterable[tuple[str, str]]) -> dict[str, float]:
    """TDR, FDR, F1 and SHD of predicted directed edges against the true ones (see module docstring).

    >>> m = discovery_metrics([("a", "b"), ("b", "c")], [("a", "b"), ("c", "b"), ("a", "c")])
    >>> round(m["tdr"], 4), round(m["fdr"], 4), round(m["f1"], 4), m["shd"]
    (0.5, 0.6667, 0.4, 2)
    """
    t, p = set(true_edges), set(pred_edges)
    tp = len(t & p)
    tdr = tp / len(t) if t else float(not p)
    fdr = (len(p) - tp) / len(p) if p else 0.0
    prec = 1.0 - fdr
    f1 = 2 * prec * tdr / (prec + tdr) if (prec + tdr) > 0 else 0.0
    return {"tdr": tdr, "fdr": fdr, "f1": f1, "shd": shd(t, p), "n_pred": len(p), "n_true": len(t)}


def relabel_reverse(names: Sequence[str], edges: Iterable[tuple[int, int]]) -> tuple[list[str], list[tuple[str, str]]]:
    """The study's reverse setting: node ``i`` (causal order) is shown under the name of node ``n-1-i``.

    Returns ``(shown_names, true_edges_in_shown_names)``: the column of node ``i`` is titled
    ``shown_names[i]``, and the data's graph ``u -> v`` reads ``shown_names[u] -> shown_names[v]``.

    >>> relabel_reverse(["cause", "mediator", "effect"], [(0, 1), (1, 2)])
    (['effect', 'mediator', 'cause'], [('effect', 'mediator'), ('mediator', 'cause')])
    """
    shown = list(names)[::-1]
    return shown, [(shown[u], shown[v]) for u, v in edges]


# ---------------------------------------------------------------------------------------------------------
# Trials: a graph, its names (real and fake) and a data table
@dataclass
class DiscoveryTrial:
    """One discovery problem. ``data[:, i]`` is node ``i``; nodes are in causal (topological) order."""

    edges: list[tuple[int, int]]
    names: list[str]
    fake_names: list[str]
    data: np.ndarray
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.names)


def _fake_names(n: int, rng: _random.Random) -> list[str]:
    from whygym.tasks.vocab import fake_word

    out: list[str] = []
    while len(out) < n:
        w = fake_word(rng)
        if w not in out:
            out.append(w)
    return out


def binary_trial(n_nodes: int, rows: int, seed: int, density: float = 0.5) -> DiscoveryTrial:
    """A random binary SCM (whygym engine), ``rows`` samples from its exact joint, real story names."""
    from whygym.scm import random_scm
    from whygym.tasks.vocab import assign_names

    rng = _random.Random(f"discovery-binary|{seed}")
    scm = random_scm(n_nodes, density, rng)
    names, _, story = assign_names(n_nodes, "real", rng)
    p = scm.joint().reshape(-1)  # C order: the last axis (node n-1) varies fastest
    p = p / p.sum()
    nrng = np.random.default_rng(rng.randrange(2 ** 32))
    states = nrng.choice(len(p), size=rows, p=p)
    data = np.array([[(s >> (n_nodes - 1 - i)) & 1 for i in range(n_nodes)] for s in states], dtype=int)
    return DiscoveryTrial(list(scm.dag.edges), names, _fake_names(n_nodes, rng), data, "binary",
                          {"seed": seed, "story": story})


def pairwise_trial(rows: int, seed: int, noise: str = "uniform", coef: float | None = None) -> DiscoveryTrial:
    """A linear non-Gaussian pair ``X = e_x``, ``Y = b X + e_y`` with uniform or Laplace noise, real names
    (cause before effect in a story)."""
    from whygym.tasks.vocab import assign_names

    rng = _random.Random(f"discovery-pair|{seed}|{noise}")
    names, _, story = assign_names(2, "real", rng)
    nrng = np.random.default_rng(rng.randrange(2 ** 32))
    b = coef if coef is not None else rng.choice([-1, 1]) * rng.uniform(0.5, 2.0)
    if noise == "uniform":
        ex, ey = nrng.uniform(-1, 1, rows), nrng.uniform(-1, 1, rows)
    elif noise == "laplace":
        ex, ey = nrng.laplace(0, 1, rows), nrng.laplace(0, 1, rows)
    else:
        raise ValueError(f"noise must be 'uniform' or 'laplace', got {noise!r}")
    x = ex
    y = b * x + ey
    return DiscoveryTrial([(0, 1)], names, _fake_names(2, rng), np.column_stack([x, y]), f"pairwise-{noise}",
                          {"seed": seed, "story": story, "coef": b})


def _table(names: Sequence[str], data: np.ndarray, order: Sequence[int]) -> str:
    fmt = (lambda v: str(int(v))) if np.issubdtype(data.dtype, np.integer) else (lambda v: f"{v:.2f}")
    lines = [", ".join(names[j] for j in order)]
    lines += [", ".join(fmt(row[j]) for j in order) for row in data]
    return "\n".join(lines)


def setting_prompts(trial: DiscoveryTrial, seed: int = 0) -> dict[str, dict[str, Any]]:
    """The prompt of every setting with the names it uses and the true edges it is scored against.

    Columns are shown in a shuffled order (the same for every setting of a trial), so column order does
    not give the causal order away.
    """
    rng = _random.Random(f"discovery-order|{seed}|{trial.meta.get('seed')}")
    order = list(range(trial.n))
    rng.shuffle(order)
    real, fake = trial.names, trial.fake_names
    true_real = [(real[u], real[v]) for u, v in trial.edges]
    true_fake = [(fake[u], fake[v]) for u, v in trial.edges]
    shown_rev, true_rev = relabel_reverse(real, trial.edges)

    def with_data(names):
        return PROMPT.format(after=" after analysing the following data", body=_table(names, trial.data, order))

    def names_only(names):
        return PROMPT.format(after="", body="Variables: " + ", ".join(names[j] for j in order))

    return {
        "raw": {"prompt": with_data(real), "names": real, "truth": true_real},
        "omit_data": {"prompt": names_only(real), "names": real, "truth": true_real},
        "omit_knowledge": {"prompt": with_data(fake), "names": fake, "truth": true_fake},
        "reverse": {"prompt": with_data(shown_rev), "names": shown_rev, "truth": true_rev},
        "reverse_orig": {"prompt": with_data(shown_rev), "names": real, "truth": true_real},
        "random": {"prompt": names_only(fake), "names": fake, "truth": true_fake},
    }


# ---------------------------------------------------------------------------------------------------------
def discovery_attribution(per_trial: Sequence[dict[str, dict[str, float]]], *, n_boot: int = 2000,
                          seed: int = 0, metric: str = "tdr") -> dict[str, Any]:
    """Per-setting means and CAK, CAD, MAK, MAD (on ``metric``, TDR in the study) with bootstrap CIs."""
    from whygym.scoring import bootstrap_ci

    def ci(values):
        c = bootstrap_ci(np.asarray(values, float), n=n_boot, seed=seed)
        return {"point": c.point, "low": c.low, "high": c.high}

    settings = {s: {m: ci([t[s][m] for t in per_trial]) for m in ("tdr", "fdr", "f1", "shd")} for s in SETTINGS}
    v = {s: np.array([t[s][metric] for t in per_trial], float) for s in SETTINGS}
    attribution = {"CAK": ci(v["raw"] - v["omit_knowledge"]), "CAD": ci(v["raw"] - v["omit_data"]),
                   "MAK": ci(v["omit_data"] - v["random"]), "MAD": ci(v["omit_knowledge"] - v["random"])}
    return {"settings": settings, "attribution": attribution, "metric": metric, "n_trials": len(per_trial)}


def run_discovery(backend: Any, *, kind: str = "binary", trials: int = 10, n_nodes: int = 4, rows: int = 20,
                  seed: int = 0, max_new_tokens: int = 96, cache_path: str | Path | None = None,
                  batch_size: int = 8, n_boot: int = 2000, progress: bool = False) -> dict[str, Any]:
    """Run the six settings on ``trials`` fresh problems; returns per-trial records and the summary.

    ``kind``: ``binary`` (full graph, ``n_nodes`` binary variables from a whygym SCM) or
    ``pairwise-uniform`` / ``pairwise-laplace`` (two continuous variables, linear non-Gaussian).
    """
    from whygym.models import CachedBackend, ResponseCache

    made = []
    for t in range(trials):
        if kind == "binary":
            tr = binary_trial(n_nodes, rows, seed * 100003 + t)
        elif kind.startswith("pairwise-"):
            tr = pairwise_trial(rows, seed * 100003 + t, noise=kind.split("-", 1)[1])
        else:
            raise ValueError(f"kind must be binary, pairwise-uniform or pairwise-laplace, got {kind!r}")
        made.append((tr, setting_prompts(tr, seed)))
    prompts = list(dict.fromkeys(s["prompt"] for _, sp in made for s in sp.values()))
    import sys

    from tqdm import tqdm

    cache = ResponseCache(cache_path or ":memory:")
    try:
        bar = tqdm(total=len(prompts), desc=f"discovery {kind}", disable=not progress, file=sys.stderr)
        cb = CachedBackend(backend, cache, chunk_size=batch_size, progress=bar.update)
        gens = cb.generate(prompts, max_new_tokens=max_new_tokens)
        bar.close()
    finally:
        cache.close()
    answer = {p: g[0].text for p, g in zip(prompts, gens)}
    records, per_trial = [], []
    for tr, sp in made:
        row = {}
        for s, d in sp.items():
            pred = parse_edges(answer[d["prompt"]], d["names"])
            row[s] = discovery_metrics(d["truth"], pred)
            records.append({"trial": tr.meta, "setting": s, "output": answer[d["prompt"]], "pred": pred,
                            "truth": d["truth"], **row[s]})
        per_trial.append(row)
    summary = discovery_attribution(per_trial, n_boot=n_boot, seed=seed)
    return {"kind": kind, "n_nodes": n_nodes if kind == "binary" else 2, "rows": rows, "summary": summary,
            "records": records}


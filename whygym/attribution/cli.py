"""``whygym attribute``: causal attribution of a model's answers.

Three modes write into one ``DIR/attribution.json`` (each keeps the others' sections) and PNG plots:

* default -- prompt components: ``whygym attribute --model default --benchmark gen:ATE,NDE:10:0
  --components names,data --out runs/attr``
* ``--layers`` -- internal components (attention / MLP outputs of every layer), mean ablation and activation
  patching against a counterfactual arm: ``whygym attribute --layers --model default --benchmark gen:ATE:4:0
  --counterfactual names=fake --out runs/attr``
* ``--discovery KIND`` -- the study's causal-discovery setting (six settings, TDR/FDR/F1/SHD, CAK/CAD/MAK/MAD)

``--model scripted:names,data`` uses the scripted fake model of :mod:`whygym.attribution.scripted` (answers
right iff those components are visible): a check of the pipeline whose answer is known.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from whygym.attribution.schema import ATTRIBUTION_FILE, SCHEMA, load_doc, write_doc
from whygym.cliargs import COMMANDS, deprecated_alias

__all__ = ["register", "run"]


def _write(out: Path, section: str | None, payload: dict[str, Any]) -> dict[str, Any]:
    """Merge into ``out/attribution.json``: ``section=None`` replaces the top level but keeps the other
    modes' sections; otherwise ``doc[section] = payload`` (the schema: :mod:`whygym.attribution.schema`)."""
    doc: dict[str, Any] = {}
    if (out / ATTRIBUTION_FILE).exists():
        try:
            doc = load_doc(out / ATTRIBUTION_FILE)
        except json.JSONDecodeError:
            doc = {}
    if section is None:
        keep = {k: doc[k] for k in ("layers", "discovery") if k in doc}
        doc = {**payload, **keep}
    else:
        doc.setdefault("schema", SCHEMA)
        doc[section] = payload
    return write_doc(out, doc)


def _parse_levels(spec: str | None, what: str) -> dict[str, str]:
    from whygym.tasks.variants import COMPONENTS

    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        c, sep, lvl = part.partition("=")
        c, lvl = c.strip(), lvl.strip()
        if not sep or c not in COMPONENTS or lvl not in COMPONENTS[c]:
            from whygym.errors import UserError

            raise UserError(f"{what} {part!r}: write COMPONENT=LEVEL with levels "
                            + "; ".join(f"{k}: {'|'.join(v)}" for k, v in COMPONENTS.items()))
        out[c] = lvl
    return out


def _items(args):
    from whygym.attribution.prompts import base_items, parse_gen_spec
    from whygym.errors import UserError

    try:
        tasks, n, seed = parse_gen_spec(args.benchmark)
    except ValueError as e:
        raise UserError(str(e)) from None
    items = base_items(tasks, n, seed, nodes=(args.min_nodes, args.max_nodes))
    if args.limit is not None:
        items = items[:args.limit]
    return items


def _backend(args, arm_items=None):
    from whygym.errors import UserError

    if args.model.startswith("scripted:"):
        from whygym.attribution.scripted import scripted_backend

        if arm_items is None:
            raise UserError("--model scripted:... works for prompt attribution only")
        needs = [c for c in args.model.split(":", 1)[1].split(",") if c and c != "none"]
        return scripted_backend([it for its in arm_items.values() for it in its], needs)
    from whygym.eval import EvalConfig, build_backend

    return build_backend(EvalConfig(model=args.model, benchmarks=["-"], out=".", batch_size=args.batch_size,
                                    bf16=args.bf16))


def _prompt_mode(args, out: Path) -> int:
    from whygym.attribution.prompts import Design, build_arms, prompt_attribution
    from whygym.errors import UserError

    comps = [c.strip() for c in args.components.split(",") if c.strip()]
    try:
        design = Design(comps, off=_parse_levels(args.off, "--off"))
    except ValueError as e:
        raise UserError(str(e)) from None
    items = _items(args)
    be = _backend(args, build_arms(items, design))
    t0 = time.perf_counter()
    doc = prompt_attribution(items, design, be, out_dir=out, cache_path=args.cache, max_new_tokens=args.max_new_tokens,
                             batch_size=args.batch_size, use_harness=not args.no_harness, loglik=not args.no_loglik,
                             n_boot=args.n_boot, seed=args.seed, progress=not args.quiet, plot=False, write=False,
                             meta={"benchmark": args.benchmark, "argv": sys.argv[1:], "bf16": args.bf16})
    doc["settings"]["wall_seconds"] = time.perf_counter() - t0
    from whygym.attribution.plot import plot_prompt_attribution

    doc["plots"] = plot_prompt_attribution(doc, out)
    doc = _write(out, None, doc)
    print(format_prompt_table(doc))
    return 0


def format_prompt_table(doc: dict[str, Any]) -> str:
    """The scores as a text table (one row per score, one column per metric)."""
    res = doc["results"]
    metrics = list(res)
    lines = [f"model {doc['model']['name']}  items {doc['n_items']}  components {','.join(doc['components'])}",
             "arm means: " + "; ".join(f"{m}: " + ", ".join(f"{a}={v:.3f}" for a, v in res[m]["arm_means"].items()
                                                             if v is not None) for m in metrics),
             f"{'score':<34}" + "".join(f"{m:>28}" for m in metrics)]
    rows = []
    for kind in ("conditional", "marginal", "main", "interaction"):
        for name in res[metrics[0]].get(kind, {}):
            rows.append((f"{kind}:{name}", kind, name))
    for label, kind, name in rows:
        cells = []
        for m in metrics:
            ci = res[m].get(kind, {}).get(name)
            cells.append("-" if not ci or ci["point"] is None else
                         f"{ci['point']:+.3f} [{ci['low']:+.3f},{ci['high']:+.3f}]")
        lines.append(f"{label:<34}" + "".join(f"{c:>28}" for c in cells))
    study = res[metrics[0]].get("study") or {}
    for k in ("CAK", "CAD", "MAK", "MAD"):
        if k in study:
            cells = []
            for m in metrics:
                ci = (res[m].get("study") or {}).get(k)
                cells.append("-" if not ci or ci["point"] is None else
                             f"{ci['point']:+.3f} [{ci['low']:+.3f},{ci['high']:+.3f}]")
            lines.append(f"{'study ' + k:<34}" + "".join(f"{c:>28}" for c in cells))
    return "\n".join(lines)


def _layers_mode(args, out: Path) -> int:
    from whygym.attribution.layers import layer_attribution
    from whygym.attribution.plot import plot_layer_ranking
    from whygym.errors import UserError
    from whygym.tasks.variants import intervene

    items = _items(args)[:args.layer_items]
    be = _backend(args)
    model, tok = getattr(be, "model", None), getattr(be, "tokenizer", None)
    if model is None or tok is None:
        raise UserError(f"--layers needs a local transformers model; --model {args.model!r} is not one")
    cf_levels = _parse_levels(args.counterfactual, "--counterfactual")
    cfs = [intervene(it, **cf_levels) for it in items]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    t0 = time.perf_counter()
    res = layer_attribution(model, tok, items, counterfactuals=cfs, methods=methods, n_boot=args.n_boot,
                            seed=args.seed, progress=not args.quiet, bf16=args.bf16)
    res.update(n_items=len(items), counterfactual=cf_levels, model={"name": be.name, "config": be.config},
               benchmark=args.benchmark, argv=sys.argv[1:], wall_seconds=time.perf_counter() - t0)
    plots = []
    for m in methods:
        top = sorted(res["rows"], key=lambda r: -abs(r[m]["point"]))[:args.plot_top]
        plots.append(plot_layer_ranking(top, out / f"layers_{m}.png", key=m,
                                        title=f"{be.name}: {m.replace('_', ' ')}\n(top {len(top)} of "
                                              f"{len(res['rows'])} modules, n={len(items)} items, 95% bootstrap)"))
    res["plots"] = plots
    _write(out, "layers", res)
    print(format_layer_table(res, top=args.plot_top))
    return 0


def format_layer_table(res: dict[str, Any], top: int = 10) -> str:
    lines = [f"items {res.get('n_items')}  counterfactual {res.get('counterfactual')}  "
             f"clean log p(gold) mean {sum(res['baseline']['clean_logp']) / len(res['baseline']['clean_logp']):.3f}"]
    for m in res["methods"]:
        lines.append(f"-- {m}: top {top} by |mean change in log p(gold)| --")
        by = {r["module"]: r for r in res["rows"]}
        for rank, name in enumerate(res["ranking"][m][:top], 1):
            ci = by[name][m]
            lines.append(f"{rank:>3}. {name:<28} {ci['point']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]")
    return "\n".join(lines)


def _discovery_mode(args, out: Path) -> int:
    from whygym.attribution.discovery import run_discovery
    from whygym.attribution.plot import plot_discovery

    be = _backend(args)
    t0 = time.perf_counter()
    res = run_discovery(be, kind=args.discovery, trials=args.trials, n_nodes=args.nodes, rows=args.rows,
                        seed=args.seed, max_new_tokens=args.max_new_tokens,
                        cache_path=args.cache or str(out / "cache.sqlite"), batch_size=args.batch_size,
                        n_boot=args.n_boot, progress=not args.quiet)
    res.update(model={"name": be.name, "config": be.config}, argv=sys.argv[1:], wall_seconds=time.perf_counter() - t0)
    res["plot"] = plot_discovery(res["summary"], out / f"discovery_{args.discovery}.png",
                                 title=f"{be.name}: discovery {args.discovery}\n({res['summary']['n_trials']} trials, "
                                       "95% bootstrap over trials)")
    path = out / ATTRIBUTION_FILE
    existing = load_doc(path).get("discovery", {}) if path.exists() else {}
    existing[args.discovery] = res
    _write(out, "discovery", existing)
    s = res["summary"]
    print(f"{'setting':<16}{'TDR':>8}{'FDR':>8}{'F1':>8}{'SHD':>8}")
    for name, v in s["settings"].items():
        print(f"{name:<16}" + "".join(f"{v[m]['point']:>8.3f}" for m in ("tdr", "fdr", "f1", "shd")))
    print("  ".join(f"{k} {v['point']:+.3f} [{v['low']:+.3f},{v['high']:+.3f}]" for k, v in s["attribution"].items()))
    return 0


def replot(out: Path, top: int = 20) -> list[str]:
    """Redraw every PNG from ``out/attribution.json`` (no model needed)."""
    from whygym.attribution.plot import plot_discovery, plot_layer_ranking, plot_prompt_attribution
    from whygym.errors import UserError

    path = out / ATTRIBUTION_FILE
    if not path.exists():
        raise UserError(f"{path}: no attribution file to plot; run whygym attribute --out {out} first")
    doc = load_doc(path)
    made = []
    if doc.get("results"):
        made += plot_prompt_attribution(doc, out)
    lay = doc.get("layers")
    if lay:
        name = (lay.get("model") or {}).get("name", "")
        for m in lay["methods"]:
            rows = sorted(lay["rows"], key=lambda r: -abs(r[m]["point"]))[:top]
            made.append(plot_layer_ranking(rows, out / f"layers_{m}.png", key=m,
                                           title=f"{name}: {m.replace('_', ' ')}\n(top {len(rows)} of "
                                                 f"{len(lay['rows'])} modules, n={lay.get('n_items')} items, "
                                                 "95% bootstrap)"))
    for kind, res in (doc.get("discovery") or {}).items():
        name = (res.get("model") or {}).get("name", "")
        made.append(plot_discovery(res["summary"], out / f"discovery_{kind}.png",
                                   title=f"{name}: discovery {kind}\n({res['summary']['n_trials']} trials, "
                                         "95% bootstrap over trials)"))
    return made


def run(args) -> int:
    out = Path(args.out).expanduser()
    if args.replot:
        for f in replot(out, args.plot_top):
            print(f)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    if args.layers:
        return _layers_mode(args, out)
    if args.discovery:
        return _discovery_mode(args, out)
    return _prompt_mode(args, out)


def register(sub) -> None:
    p = sub.add_parser("attribute", help=COMMANDS["attribute"].help,
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="'default', a checkpoint directory, any load_backend spec, "
                   "or scripted:COMPONENTS (a fake model that is right iff those components are visible)")
    p.add_argument("--benchmark", default="gen:ATE,NDE:10:0",
                   help="generated base items gen:TASKS:N:SEED (real names, so knowledge can be removed)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N base items")
    deprecated_alias(p, "--n", "--limit", type=int)
    p.add_argument("--components", default="names,data",
                   help="comma list of names,data,graph,instruction: the factors of the 2^k design")
    p.add_argument("--off", default=None, help="alternative off levels, e.g. names=anticommonsense,"
                   "data=perturbed,graph=reversed (defaults: names=fake, data=withheld, graph=withheld, "
                   "instruction=omitted)")
    p.add_argument("--out", required=True, help="output folder (attribution.json, PNG plots, cache.sqlite)")
    p.add_argument("--cache", default=None, help="response cache file (default OUT/cache.sqlite)")
    p.add_argument("--max-new-tokens", type=int, default=64, help="generation cap (greedy decoding)")
    p.add_argument("--batch-size", type=int, default=8, help="prompts per model call and cache commit")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for the model (faster where the CPU has native bf16 (AMX); fp32 with a warning elsewhere)")
    p.add_argument("--no-loglik", action="store_true", help="skip the gold-answer log-probability metric")
    p.add_argument("--no-harness", action="store_true",
                   help="evaluate with CachedBackend + scoring directly instead of whygym.eval.run_eval")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for the 95%% intervals")
    p.add_argument("--seed", type=int, default=0, help="bootstrap / discovery seed")
    p.add_argument("--min-nodes", type=int, default=3, help="smallest graph of the base items")
    p.add_argument("--max-nodes", type=int, default=5, help="largest graph of the base items")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--replot", action="store_true", help="only redraw the PNGs of OUT/attribution.json")
    g = p.add_argument_group("layer attribution (--layers)")
    g.add_argument("--layers", action="store_true", help="attribute to every attention and MLP output instead")
    g.add_argument("--counterfactual", default="names=fake",
                   help="the arm patched in, COMPONENT=LEVEL[,...] (default names=fake)")
    g.add_argument("--methods", default="mean_ablation,patching", help="mean_ablation and/or patching")
    g.add_argument("--layer-items", type=int, default=4, help="base items used (keep it small on CPU)")
    g.add_argument("--plot-top", type=int, default=20, help="modules shown in the ranking plot and table")
    d = p.add_argument_group("the study's discovery setting (--discovery)")
    d.add_argument("--discovery", default=None, choices=["binary", "pairwise-uniform", "pairwise-laplace"],
                   help="run the six discovery settings on fresh SCM data tables")
    d.add_argument("--trials", type=int, default=10, help="discovery problems")
    d.add_argument("--nodes", type=int, default=4, help="variables per full-graph problem")
    d.add_argument("--rows", type=int, default=20, help="data rows shown")
    p.set_defaults(func=run)

"""Running an evaluation: items -> cached, batched generations -> scored samples -> ``results.json``.

The flow of :func:`run_eval`:

1. load every ``--benchmark`` source (:func:`whygym.eval.load_items`);
2. wrap the model in :class:`~whygym.models.CachedBackend` over a SQLite file (``<out>/cache.sqlite`` unless
   ``cache`` is given): only prompts missing from the cache reach the model, in chunks of ``batch_size``,
   each chunk committed as soon as it is done. A killed run loses at most the chunk in flight; rerunning the
   same command resumes, and a finished run reruns instantly;
3. score every sample with :func:`whygym.scoring.score` under the chosen match mode;
4. write ``samples.jsonl`` (one line per item and sample) and ``results.json`` atomically.

Everything in ``results.json`` except the ``run`` section (timings, paths, cache statistics, command line)
and ``environment`` (versions, git revision) is a function of the configuration, the items and the model's
answers: a rerun, or a resumed run, writes the same bytes there and in ``samples.jsonl``.

Several samples per item (``samples > 1``, sampled decoding) are scored one by one. ``accuracy`` pools all
item-sample pairs, which is CauGym's pass@1 (the mean over samples of each sample's accuracy); ``pass@k``
counts an item when any of its samples is correct. The Wilson interval of a pooled accuracy treats samples as
independent and is too narrow when ``samples > 1``; ``pass@1_ci`` resamples items instead (bootstrap).
"""

from __future__ import annotations

import json
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

from whygym.errors import UserError
from whygym.eval._sources import load_items
from whygym.items import atomic_write_text

__all__ = ["EvalConfig", "run_eval", "build_backend", "summarize", "gold_nonzero", "SCHEMA"]

#: Version tag of the results.json layout.
SCHEMA = "whygym.eval/1"
#: Temperature used when several samples are asked for and no temperature is given.
DEFAULT_SAMPLING_TEMPERATURE = 0.7


@dataclass
class EvalConfig:
    """What to evaluate and how; the fields double as the ``whygym eval`` options.

    Attributes
    ----------
    model : ``default``, a checkpoint directory, or any :func:`whygym.models.load_backend` spec.
    benchmarks : ``--benchmark`` values (see :func:`whygym.eval.load_items`).
    out : output folder (``results.json``, ``samples.jsonl``, and ``cache.sqlite`` unless ``cache`` is set).
    limit : first ``limit`` items of each benchmark (all when ``None``).
    per_task : first ``per_task`` items of each task of each benchmark (before ``limit``).
    samples : completions per item.
    match : ``strict`` (default), ``caugym`` or ``calm`` (see :mod:`whygym.scoring.match`).
    max_new_tokens : cap on generated tokens per completion.
    batch_size : prompts per model call (and per cache commit).
    temperature : 0 is greedy; ``None`` means 0 for one sample and 0.7 for several.
    top_p : nucleus mass when sampling.
    seed : sampling seed (sample ``i`` of a prompt depends only on seed, prompt and ``i``).
    system : system message; ``None`` keeps the chat template's default.
    bf16 : bf16 autocast for the transformers backend (faster, slightly different numbers).
    cache : response cache file; default ``<out>/cache.sqlite``.
    tools : tool-integrated decoding, e.g. ``calculator`` (:func:`whygym.models.tools.parse_tools`); ``None``
        decodes without tools. Recorded in ``config`` and in the model's cache identity.
    """

    model: str
    benchmarks: list[str]
    out: str
    limit: int | None = None
    per_task: int | None = None
    samples: int = 1
    match: str = "strict"
    max_new_tokens: int = 256
    batch_size: int = 8
    temperature: float | None = None
    top_p: float = 1.0
    seed: int = 0
    system: str | None = None
    bf16: bool = False
    cache: str | None = None
    tools: str | None = None

    def resolved_temperature(self) -> float:
        if self.temperature is not None:
            return float(self.temperature)
        return 0.0 if self.samples == 1 else DEFAULT_SAMPLING_TEMPERATURE

    def validate(self) -> None:
        from whygym.scoring import MODES

        if not self.benchmarks:
            raise UserError("no --benchmark given; name at least one, e.g. --benchmark calm-lite:probability-en")
        if self.match not in MODES:
            raise UserError(f"--match {self.match!r} is not a match mode; choose one of {', '.join(MODES)}")
        for name, v, lo in (("--samples", self.samples, 1), ("--max-new-tokens", self.max_new_tokens, 1),
                            ("--batch-size", self.batch_size, 1)):
            if v < lo:
                raise UserError(f"{name} must be >= {lo}, got {v}")
        if self.temperature is not None and self.temperature < 0:
            raise UserError(f"--temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UserError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be >= 1, got {self.limit}")
        if len(set(self.benchmarks)) != len(self.benchmarks):
            raise UserError(f"--benchmark values repeat: {self.benchmarks}; give each once")
        from whygym.models.tools import parse_tools

        try:
            parse_tools(self.tools)
        except ValueError as e:
            raise UserError(f"--tools {self.tools!r}: {e}") from None

    def semantic(self) -> dict[str, Any]:
        """The settings that determine the numbers (no paths): recorded in results.json ``config``."""
        d = asdict(self)
        for k in ("out", "cache"):
            d.pop(k)
        d["temperature"] = self.resolved_temperature()
        return d


# ---------------------------------------------------------------------------------------------------------
def build_backend(cfg: EvalConfig):
    """The backend ``cfg.model`` names, with ``batch_size``/``bf16`` where the backend takes them."""
    from whygym.models import load_backend

    spec = cfg.model
    local = not spec.startswith(("mock:", "openai:", "gguf:"))
    if cfg.bf16 and not local:
        raise UserError(f"--bf16 applies to transformers checkpoints only, not to --model {spec!r}")
    from whygym.models.tools import parse_tools

    kw: dict[str, Any] = {}
    if local:
        kw = {"batch_size": cfg.batch_size, "bf16": cfg.bf16}
    elif spec.startswith("openai:"):
        kw = {"concurrency": cfg.batch_size}
    tools = parse_tools(cfg.tools)
    if tools is not None:
        kw["tools"] = tools
    try:
        return load_backend(spec, **kw)
    except UserError:
        raise
    except TypeError as e:
        if tools is not None and "tools" in str(e):
            raise UserError(f"--tools {cfg.tools}: the backend of --model {spec!r} has no tool-integrated "
                            "decoding; use a transformers checkpoint ('default' or a folder), 'gguf:FILE', or "
                            "'openai:MODEL@URL?completions=true&chat_template=...'") from None
        raise
    except (OSError, ValueError, KeyError, RuntimeError, ImportError) as e:
        where = Path(spec[3:] if spec.startswith("hf:") else spec).expanduser()
        raise UserError(f"--model {spec!r}: cannot load it ({type(e).__name__}: {str(e).splitlines()[0][:300]}). "
                        f"For a checkpoint directory ({where}) check that it holds config.json, the weights and "
                        "a tokenizer with a chat template, readable by you (save them with "
                        "model.save_pretrained(dir) and tokenizer.save_pretrained(dir)); or pass 'default', "
                        "'mock:...' or 'openai:MODEL@URL'.") from None


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _git_revision() -> dict[str, Any] | None:
    repo = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        if rev.returncode != 0:
            return None
        st = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, timeout=10)
        return {"revision": rev.stdout.strip(), "dirty": bool(st.stdout.strip()) if st.returncode == 0 else None}
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Versions and the git revision of the whygym checkout (``None`` outside a git checkout)."""
    from whygym import __version__

    return {"whygym": __version__, "torch": _version("torch"), "transformers": _version("transformers"),
            "python": platform.python_version(), "platform": platform.platform(), "git": _git_revision()}


# ---------------------------------------------------------------------------------------------------------
def _extracted(outcome) -> dict[str, Any] | None:
    a = outcome.pred
    if a is None:
        return None
    return {"label": a.label, "prob": a.prob, "prob_text": a.prob_text, "raw": a.raw, "in_think": a.in_think,
            "kind": a.kind}


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def gold_nonzero(record: dict[str, Any]) -> bool:
    """Whether a sample record's gold PROB is a number that is not 0 at four decimals.

    About a third of the generated items (and some benchmark items) have a structural-zero gold: no causal
    path from treatment to outcome, so ``0.0000`` is right whatever the numbers say. A model that always
    answers 0 scores there; accuracy on the other items shows what is left. Golds without a number
    (``LACK_CONDITION``) are not counted.
    """
    p = (record.get("gold") or {}).get("prob")
    return p is not None and round(float(p), 4) != 0.0


def _block(records: list[dict[str, Any]], samples: int) -> dict[str, Any]:
    """Accuracy of one group of sample records, with Wilson intervals, pass@1 / pass@k and token sums;
    ``gold_nonzero`` repeats the accuracy over the records whose gold is a non-zero number."""
    from whygym.scoring import accuracy, bootstrap_ci

    acc = accuracy(records).to_dict()
    nz = accuracy([r for r in records if gold_nonzero(r)])
    by_item: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        by_item.setdefault((r["benchmark"], r["id"]), []).append(r)
    per_item = [sum(x["outcome"] == "correct" for x in rs) / len(rs) for rs in by_item.values()]
    n_items = len(by_item)
    per_sample = []
    for i in range(samples):
        rs = [r for r in records if r["sample"] == i]
        per_sample.append(_rate(sum(r["outcome"] == "correct" for r in rs), len(rs)))
    ci = bootstrap_ci(per_item, seed=0) if per_item else None
    return {
        "n_items": n_items,
        "n_samples": len(records),
        **acc,
        "pass@1": acc["accuracy"],
        "pass@1_ci": None if ci is None else [ci.low, ci.high],
        f"pass@{samples}": _rate(sum(p > 0 for p in per_item), n_items),
        "per_sample_accuracy": per_sample,
        "gold_nonzero": {"n": nz.n, "correct": nz.correct, "accuracy": nz.accuracy, "ci_low": nz.ci_low,
                         "ci_high": nz.ci_high},
        "truncated": sum(r["finish_reason"] == "length" for r in records),
        # where the reasoning breaks (the step verifier's category of each sample that has a reference)
        "steps": _step_breakdown(records),
        "prompt_tokens": sum(r["tokens"]["prompt"] for r in records),
        "completion_tokens": sum(r["tokens"]["completion"] for r in records),
    }


def _step_breakdown(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Counts of the step verifier's categories (``correct``, ``no_answer`` or the first wrong step) and the
    mean verified prefix, over the records that were verified (None when none was)."""
    vs = [r["steps"] for r in records if r.get("steps")]
    if not vs:
        return None
    cats: dict[str, int] = {}
    for v in vs:
        cats[v["category"]] = cats.get(v["category"], 0) + 1
    return {"n": len(vs), "categories": dict(sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))),
            "verified_prefix": sum(v["verified_prefix"] for v in vs) / len(vs)}


def _verdict(text: str, item) -> dict[str, Any] | None:
    """The step verifier's reading of one answer (:func:`whygym.scoring.verify.verify`), for items that carry a
    reference derivation of a probability task; None otherwise."""
    from whygym.items import LACK_CONDITION, PROB_TASKS

    if not item.reason or str(item.task).upper() not in PROB_TASKS or item.gold.get("label") == LACK_CONDITION:
        return None
    from whygym.scoring.verify import verify

    v = verify(text, item)
    return {"category": v.category, "first_error": v.first_error, "verified_prefix": round(v.verified_prefix, 4)}


def summarize(records: Sequence[dict[str, Any]], benchmarks: Sequence[str], samples: int) -> dict[str, Any]:
    """Per-benchmark, per-task and overall figures from sample records (as written to samples.jsonl).

    ``accuracy`` is ``correct / n`` over item-sample pairs (= pass@1 averaged over samples), with its 95%
    Wilson interval ``[ci_low, ci_high]``; ``label_accuracy`` over the samples whose gold has both a number
    and a yes/no label; ``parse_fail_rate = unparsed / n``; ``macro_accuracy`` is the unweighted mean over
    tasks.
    """
    from whygym.scoring import group_accuracy

    out: dict[str, Any] = {"benchmarks": {}}
    for b in benchmarks:
        rs = [r for r in records if r["benchmark"] == b]
        tasks = sorted({r["task"] for r in rs})
        out["benchmarks"][b] = {
            "overall": _block(rs, samples),
            "macro_accuracy": group_accuracy(rs, "task").macro_accuracy if rs else None,
            "tasks": {t: _block([r for r in rs if r["task"] == t], samples) for t in tasks},
        }
    out["overall"] = _block(list(records), samples)
    return out


# ---------------------------------------------------------------------------------------------------------
def _progress_bar(total: int, initial: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="prompt", desc=desc, disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, mininterval=1.0)


def run_eval(cfg: EvalConfig, *, backend: Any = None, argv: Sequence[str] | None = None, progress: bool = True,
             echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run one evaluation and write ``results.json`` and ``samples.jsonl`` under ``cfg.out``.

    Parameters
    ----------
    cfg : the configuration.
    backend : a ready backend to use instead of building ``cfg.model`` (its ``config`` keys the cache).
    argv : the command line, recorded in results.json.
    progress : show a tqdm progress bar (on stderr) while generating.
    echo : where the final table goes (``None``: nowhere).

    Returns
    -------
    dict
        The content of results.json.
    """
    from whygym.models import CachedBackend, ResponseCache
    from whygym.models.cache import cache_key, generation_request
    from whygym.scoring import score

    t0 = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    cfg.validate()
    sources = [(spec, load_items(spec, cfg.limit, cfg.per_task)) for spec in cfg.benchmarks]
    out_dir = Path(cfg.out).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {cfg.out!r} is a file; pass a folder (it is created if missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {cfg.out!r}: cannot create the folder ({e}); pick a writable place") from None
    be = backend if backend is not None else build_backend(cfg)
    cache_path = Path(cfg.cache).expanduser() if cfg.cache else out_dir / "cache.sqlite"
    cache = ResponseCache(cache_path)
    temperature = cfg.resolved_temperature()
    if cfg.samples > 1 and temperature == 0:
        print(f"whygym eval: warning: --samples {cfg.samples} with --temperature 0 (greedy) gives {cfg.samples} "
              "identical samples; pass --temperature > 0 to sample", file=sys.stderr)
    gen_kw = dict(max_new_tokens=cfg.max_new_tokens, temperature=temperature, top_p=cfg.top_p,
                  n=cfg.samples, seed=cfg.seed, system=cfg.system)
    try:
        prompts = list(dict.fromkeys(it.prompt for _, items in sources for it in items))
        # What the cache already holds decides where the progress bar starts.
        req = generation_request(max_new_tokens=cfg.max_new_tokens, temperature=temperature, top_p=cfg.top_p,
                                 seed=cfg.seed, system=cfg.system)
        n_distinct = 1 if temperature == 0 else cfg.samples
        keys = {p: [cache_key(be.config, "generate", p, req, i) for i in range(n_distinct)] for p in prompts}
        have = cache.get_many(k for ks in keys.values() for k in ks)
        todo = sum(1 for ks in keys.values() if any(k not in have for k in ks))
        bar = _progress_bar(len(prompts), len(prompts) - todo, progress, f"eval {be.name}")
        cached = CachedBackend(be, cache, chunk_size=cfg.batch_size, progress=bar.update)
        t_gen = time.perf_counter()
        try:
            gens = cached.generate(prompts, **gen_kw)
        finally:
            bar.close()
        gen_seconds = time.perf_counter() - t_gen
        hits, misses = cached.hits, cached.misses
    finally:
        cache.close()
    by_prompt = dict(zip(prompts, gens))

    records: list[dict[str, Any]] = []
    for spec, items in sources:
        seen: set[str] = set()
        for it in items:
            if it.id in seen:
                raise UserError(f"--benchmark {spec!r}: item id {it.id!r} occurs twice; ids must be unique")
            seen.add(it.id)
            for i, g in enumerate(by_prompt[it.prompt]):
                try:
                    o = score(g.text, it.gold, cfg.match)
                except ValueError as e:
                    raise UserError(f"--benchmark {spec!r}: item {it.id!r} has no usable gold ({e})") from None
                records.append({
                    "benchmark": spec, "id": it.id, "task": it.task, "sample": i, "prompt": it.prompt,
                    "output": g.text, "extracted": _extracted(o), "gold": it.gold, "outcome": o.outcome,
                    "label_correct": o.label_correct, "error": o.error, "n_answers": o.n_answers,
                    "finish_reason": g.finish_reason,
                    "tokens": {"prompt": g.n_prompt_tokens, "completion": g.n_completion_tokens},
                    "steps": _verdict(g.text, it),
                })
    results = summarize(records, cfg.benchmarks, cfg.samples)
    wall = time.perf_counter() - t0
    n_items = sum(len(items) for _, items in sources)
    doc = {
        "schema": SCHEMA,
        "config": {**cfg.semantic(), "n_items": {spec: len(items) for spec, items in sources}},
        "model": {"spec": cfg.model, "name": be.name, "config": be.config},
        "results": results,
        "environment": environment(),
        "run": {
            "argv": list(argv) if argv is not None else None,
            "command": shlex.join(argv) if argv is not None else None,
            "sys_argv": list(sys.argv),
            "out": str(out_dir), "cache": str(cache_path), "started_utc": started,
            # how several samples were drawn from a server (n in one request, or one request per sample)
            "sampling_mode": getattr(be, "sampling_mode", None),
            "wall_seconds": wall, "generation_seconds": gen_seconds,
            "items_per_second": n_items / wall if wall > 0 else None,
            "samples_from_cache": hits, "samples_generated": misses,
        },
    }
    atomic_write_text(out_dir / "samples.jsonl",
                      "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))
    atomic_write_text(out_dir / "results.json", json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    if echo is not None:
        from whygym.eval._table import format_table

        echo(format_table(doc))
    return doc

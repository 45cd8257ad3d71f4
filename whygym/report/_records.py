"""Typed records of the run files the report reads, one builder per file kind.

Every missing, null or odd entry of a file (a run cut short, a file of an older version) is decided here,
once: it reads as ``None`` (shown as "—") or as an empty collection. The page's templates read these
records' attributes and nothing else; ``attribution.json`` is read by its own schema,
:mod:`whygym.attribution.schema`.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when an attribution.json is read: whygym.attribution loads numpy
    from whygym.attribution.schema import Attribution

__all__ = ["Accuracy", "Overall", "Benchmark", "Sample", "EvalRun", "TrainRun", "AttributionRun", "eval_run",
           "train_run", "attribution_run", "command_line", "TRAIN_LOG_KEYS"]

#: Panel of the training curves -> the log keys that hold it, first found wins (TRL's names, then PPO's).
TRAIN_LOG_KEYS = {"reward": ("reward",), "loss": ("loss", "policy_loss"),
                  "zero": ("zero_signal_frac", "frac_reward_zero_std")}


def _num(x: Any) -> float | None:
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def command_line(argv: Any) -> str | None:
    """A recorded command as one shell line (``whygym`` put in front of a bare subcommand's arguments)."""
    if isinstance(argv, str):
        return argv
    if isinstance(argv, (list, tuple)) and argv:
        a = [str(x) for x in argv]
        if a[0] != "whygym" and not a[0].endswith(("python", "python3", ".py")) and "/" not in a[0]:
            a = ["whygym"] + a
        return shlex.join(a)
    return None


def _versions(d: dict[str, Any]) -> dict[str, str]:
    """Package versions as text (git: the revision, and whether the tree had changes)."""
    out = {}
    for k, v in d.items():
        if k == "git" and isinstance(v, dict):
            v = str(v.get("revision") or "?")[:12] + (" + uncommitted changes" if v.get("dirty") else "")
        elif isinstance(v, dict):
            v = ", ".join(f"{kk}={vv}" for kk, vv in v.items())
        out[str(k)] = "—" if v is None else str(v)
    return out


# ------------------------------------------------------------------------------------------------- eval
@dataclass(frozen=True)
class Accuracy:
    """An accuracy block of ``results.json`` (a task's, a benchmark's, the run's) with its Wilson interval."""

    accuracy: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: Any = None

    @classmethod
    def read(cls, x: Any) -> Accuracy:
        x = _dict(x)
        return cls(_num(x.get("accuracy")), _num(x.get("ci_low")), _num(x.get("ci_high")), x.get("n"))


@dataclass(frozen=True)
class Overall(Accuracy):
    """The run's overall block: the accuracy and what the headline table adds to it."""

    n_items: Any = None
    label_accuracy: float | None = None
    label_n: Any = None
    parse_fail_rate: float | None = None
    prompt_tokens: Any = None
    completion_tokens: Any = None
    pass_at: dict[int, float | None] = field(default_factory=dict)  # k -> pass@k
    gold_nonzero: Accuracy = field(default_factory=Accuracy)  # over the items whose gold is a non-zero number

    @classmethod
    def read(cls, x: Any) -> Overall:
        x = _dict(x)
        a = Accuracy.read(x)
        pass_at = {int(k[5:]): _num(v) for k, v in x.items() if k.startswith("pass@") and k[5:].isdigit()}
        return cls(a.accuracy, a.ci_low, a.ci_high, a.n, x.get("n_items", a.n), _num(x.get("label_accuracy")),
                   x.get("label_n"), _num(x.get("parse_fail_rate")), x.get("prompt_tokens"),
                   x.get("completion_tokens"), pass_at, Accuracy.read(x.get("gold_nonzero")))


@dataclass(frozen=True)
class Benchmark:
    overall: Accuracy
    tasks: dict[str, Accuracy]
    macro_accuracy: float | None

    def block(self, task: str) -> Accuracy | None:
        """A task's block, or the benchmark's for ``ALL``; ``None`` for a task this run did not have."""
        return self.overall if task == "ALL" else self.tasks.get(task)


@dataclass(frozen=True)
class Sample:
    """One row of ``samples.jsonl``, as the samples table shows it."""

    task: str
    outcome: str
    id: str
    sample: Any  # the sample's number when several were drawn per item
    extracted: str  # the answer read from the output, or "—"
    gold: str
    prompt: str
    output: str

    @classmethod
    def read(cls, s: dict[str, Any]) -> Sample:
        return cls(str(s.get("task", "?")), str(s.get("outcome", "?")), "" if s.get("id") is None else str(s["id"]),
                   s.get("sample"), _answer(s.get("extracted")), _answer(s.get("gold")),
                   "" if s.get("prompt") is None else str(s["prompt"]),
                   "" if s.get("output") is None else str(s["output"]))


def _answer(x: Any) -> str:
    if not isinstance(x, dict):
        return "—"
    parts = []
    if x.get("label") is not None:
        parts.append(str(x["label"]))
    p = x.get("prob_text") if x.get("prob_text") is not None else x.get("prob")
    if p is not None:
        parts.append(f"{p:.4f}" if isinstance(p, float) else str(p))
    return " · ".join(parts) or "—"


@dataclass
class EvalRun:
    """An eval run folder: its ``results.json`` and (when readable) its ``samples.jsonl``."""

    label: str
    path: Path
    model_name: str
    overall: Overall
    benchmarks: dict[str, Benchmark]
    samples_k: int  # samples drawn per item (pass@k)
    command: str | None
    started_utc: Any
    wall_seconds: float | None
    samples_generated: Any
    samples_from_cache: Any
    versions: dict[str, str]
    config: dict[str, Any]  # shown as recorded, with ``model``
    model: dict[str, Any]
    samples: list[Sample] | None = None
    samples_total: int = 0
    role: str | None = None  # "before", "after" or None
    method: str | None = None  # the label of the parent folder of a before/after pair
    part_of_attribution: bool = False  # the arms evaluation written by ``whygym attribute``


def eval_run(label: str, path: Path, doc: dict[str, Any], samples: list[dict[str, Any]] | None = None,
             samples_total: int = 0) -> EvalRun:
    """The record of a ``results.json`` document (and the rows of the ``samples.jsonl`` beside it)."""
    res, model, config, run = (_dict(doc.get(k)) for k in ("results", "model", "config", "run"))
    benches = {}
    for name, b in _dict(res.get("benchmarks")).items():
        b = _dict(b)
        benches[str(name)] = Benchmark(Accuracy.read(b.get("overall")),
                                       {str(t): Accuracy.read(v) for t, v in _dict(b.get("tasks")).items()},
                                       _num(b.get("macro_accuracy")))
    k = config.get("samples")
    return EvalRun(label=label, path=path, model_name=str(model.get("name") or model.get("spec") or "?"),
                   overall=Overall.read(res.get("overall")), benchmarks=benches,
                   samples_k=k if isinstance(k, int) and k > 1 else 1, command=command_line(run.get("argv")),
                   started_utc=run.get("started_utc"), wall_seconds=_num(run.get("wall_seconds")),
                   samples_generated=run.get("samples_generated"), samples_from_cache=run.get("samples_from_cache"),
                   versions=_versions(_dict(doc.get("environment"))), config=config, model=model,
                   samples=None if samples is None else [Sample.read(s) for s in samples],
                   samples_total=samples_total)


# --------------------------------------------------------------------------------------------- training
@dataclass
class TrainRun:
    """A training output folder: ``train_log.jsonl`` rows as per-step series, and ``train_summary.json``."""

    label: str
    path: Path
    method: str
    series: dict[str, tuple[list, list]]  # panel (TRAIN_LOG_KEYS) -> (steps, values)
    log_keys: dict[str, str]  # panel -> the log key it was read from
    steps: int | None
    loss_first: float | None
    loss_last: float | None
    reward_first: float | None
    reward_last: float | None
    zero_mean: float | None
    seconds: float | None
    command: str | None
    versions: dict[str, str]  # with the device
    config: Any
    has_log: bool
    has_summary: bool


def train_run(label: str, path: Path, rows: list[dict[str, Any]], summary: dict[str, Any] | None) -> TrainRun:
    """The record of a training folder's log rows and summary (either may be missing)."""
    s = summary or {}
    stepped = [r for r in rows if _num(r.get("step")) is not None]
    series, used = {}, {}
    for key, cands in TRAIN_LOG_KEYS.items():
        for c in cands:
            by = {r["step"]: r[c] for r in stepped if _num(r.get(c)) is not None}  # the last row of a step wins
            if by:
                steps = sorted(by)
                series[key], used[key] = (steps, [by[st] for st in steps]), c
                break
    loss, rew, zero = (series.get(k, ([], []))[1] for k in ("loss", "reward", "zero"))
    logged = [st for v in series.values() for st in v[0]]

    def summ(key: str, fallback: float | None) -> float | None:  # the summary's figure, else the log's
        return _num(s[key]) if key in s else fallback

    versions = dict(_dict(s.get("versions")))
    if s.get("device"):
        versions["device"] = s["device"]
    steps = int(max(logged)) if logged else s.get("steps")  # the last logged step, else what the summary says
    return TrainRun(label=label, path=path, method=str(s.get("method") or "?"), series=series, log_keys=used,
                    steps=steps if isinstance(steps, int) else None,
                    loss_first=summ("first_loss", loss[0] if loss else None),
                    loss_last=summ("final_loss", loss[-1] if loss else None),
                    reward_first=rew[0] if rew else _num(s.get("reward_first")),
                    reward_last=rew[-1] if rew else _num(s.get("reward_last")),
                    zero_mean=summ("zero_signal_frac_mean", sum(zero) / len(zero) if zero else None),
                    seconds=_num(s.get("wall_s")), command=command_line(s.get("command")),
                    versions=_versions(versions), config=s.get("config"), has_log=bool(rows),
                    has_summary=bool(summary))


# ------------------------------------------------------------------------------------------ attribution
@dataclass
class AttributionRun:
    """An ``attribution.json`` (prompt components and/or ``layers`` and/or ``discovery`` sections)."""

    label: str
    path: Path
    attribution: Attribution
    commands: list[str]  # every mode's command line, once each


def attribution_run(label: str, path: Path, doc: dict[str, Any]) -> AttributionRun:
    """The record of an ``attribution.json`` document, read by the library's schema."""
    from whygym.attribution.schema import Attribution

    a = Attribution.from_doc(doc)
    argvs = [a.argv, a.layers.argv if a.layers else None] + [d.argv for d in (a.discovery or {}).values()]
    cmds = [c for c in map(command_line, argvs) if c]
    return AttributionRun(label, path, a, list(dict.fromkeys(cmds)))

"""Finding run folders: eval runs, training runs and attribution results anywhere under the given folders.

What is recognised, by file name (the files the other commands write):

=====================  =====================================================================================
``results.json``       an eval run (``whygym eval``); ``samples.jsonl`` beside it is read too
``train_log.jsonl``    a training run (``whygym train``, :func:`whygym.train.ppo.train_ppo`); with or without
``train_summary.json``
``attribution.json``   an attribution result (``whygym attribute``: prompt components, layers, discovery)
=====================  =====================================================================================

Each run is labelled by its path relative to the folder given on the command line (prefixed with that
folder's name when several are given). Eval runs in folders named ``before`` and ``after`` (also ``pre`` /
``post``, ``base`` / ``tuned``) with the same parent are a pair: the parent is the method's name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whygym.report._records import AttributionRun, EvalRun, TrainRun, attribution_run, eval_run, train_run

__all__ = ["EvalRun", "TrainRun", "AttributionRun", "Found", "discover", "EVAL_FILE", "TRAIN_LOG", "TRAIN_SUMMARY",
           "ATTRIBUTION_FILE"]

EVAL_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"
TRAIN_LOG = "train_log.jsonl"
TRAIN_SUMMARY = "train_summary.json"
# = whygym.attribution.schema.ATTRIBUTION_FILE, not imported here: that package loads numpy, and the CLI builds its
# parser from this module
ATTRIBUTION_FILE = "attribution.json"

#: Folder names that mark the two sides of a before/after comparison.
BEFORE_NAMES = {"before", "pre", "base", "baseline"}
AFTER_NAMES = {"after", "post", "tuned", "trained"}

# Folders never searched: model checkpoints and caches hold many files and no run records.
_SKIP_DIRS = {".git", "__pycache__", "node_modules", "checkpoints", "final", ".final.tmp"}


@dataclass
class Found:
    """Everything found under the run folders, plus the files that could not be read (shown in the report)."""

    roots: list[Path]
    evals: list[EvalRun] = field(default_factory=list)
    trains: list[TrainRun] = field(default_factory=list)
    attributions: list[AttributionRun] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.evals or self.trains or self.attributions)

    def pairs(self) -> list[tuple[str, EvalRun, EvalRun]]:
        """(method, before, after) for every parent folder holding both sides."""
        by: dict[str, dict[str, EvalRun]] = {}
        for r in self.evals:
            if r.role and r.method is not None:
                by.setdefault(r.method, {}).setdefault(r.role, r)
        return [(m, d["before"], d["after"]) for m, d in by.items() if "before" in d and "after" in d]


def _read_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{path}: cannot read it ({e})")
    except json.JSONDecodeError as e:
        problems.append(f"{path}: line {e.lineno}: not valid JSON ({e.msg}); rerun the command that wrote it")
    return None


def _read_jsonl(path: Path, problems: list[str], limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` JSON rows of a JSONL file and the number of rows in it; bad lines are reported."""
    rows: list[dict[str, Any]] = []
    total = 0
    bad = 0
    try:
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                total += 1
                if limit is not None and len(rows) >= limit:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    bad += 1
                    if bad == 1:  # one note per file is enough; a truncated last line is the usual case
                        problems.append(f"{path}: line {lineno}: not valid JSON ({e.msg}); that line is skipped")
                    total -= 1
                    continue
                if isinstance(row, dict):
                    rows.append(row)
                else:
                    total -= 1
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{path}: cannot read it ({e})")
    return rows, total


def _is_eval_doc(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if str(doc.get("schema", "")).startswith("whygym.eval"):
        return True
    res = doc.get("results")
    return isinstance(res, dict) and "overall" in res and "benchmarks" in res


def _label(root: Path, d: Path, root_name: str | None) -> str:
    rel = d.relative_to(root).as_posix()
    if root_name is None:
        return (root.resolve().name or str(root)) if rel == "." else rel
    return root_name if rel == "." else f"{root_name}/{rel}"


def _root_names(roots: list[Path]) -> list[str | None]:
    if len(roots) == 1:
        return [None]
    names: list[str | None] = []
    seen: dict[str, int] = {}
    for r in roots:
        n = r.resolve().name or str(r)
        seen[n] = seen.get(n, 0) + 1
        names.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return names


def discover(run_dirs: list[str | os.PathLike], *, skip: list[str | os.PathLike] = (), max_samples: int = 1000) -> Found:
    """Search ``run_dirs`` recursively for run records.

    Parameters
    ----------
    run_dirs : folders (or one of the recognised files, which means its folder only).
    skip : folders not to search (the report's own output folder).
    max_samples : sample records kept per eval run (the rest are counted, not kept).

    Raises
    ------
    FileNotFoundError
        A run dir that does not exist (the message names it).
    """
    roots: list[Path] = []
    only_here: set[Path] = set()
    for d in run_dirs:
        p = Path(d).expanduser()
        if not p.exists():
            raise FileNotFoundError(str(p))
        if p.is_file():
            p = p.parent
            only_here.add(p.resolve())
        roots.append(p)
    skip_res = {Path(s).expanduser().resolve() for s in skip}
    found = Found(roots=roots)
    for root, root_name in zip(roots, _root_names(roots)):
        for cur, dirs, files in os.walk(root):
            d = Path(cur)
            if d.resolve() in only_here:
                dirs[:] = []
            dirs[:] = sorted(x for x in dirs if x not in _SKIP_DIRS and not x.startswith((".", "checkpoint-"))
                             and (d / x).resolve() not in skip_res)
            fs = set(files)
            label = _label(root, d, root_name)
            if EVAL_FILE in fs:
                doc = _read_json(d / EVAL_FILE, found.problems)
                if _is_eval_doc(doc):
                    samples, total = (_read_jsonl(d / SAMPLES_FILE, found.problems, max_samples)
                                      if SAMPLES_FILE in fs else (None, 0))
                    run = eval_run(label, d, doc, samples, total)
                    name = d.name.lower()
                    run.role = "before" if name in BEFORE_NAMES else "after" if name in AFTER_NAMES else None
                    if run.role:
                        # a run dir given as .../METHOD/before: the method is the folder above it
                        run.method = _label(root, d.parent, root_name) if d != root else d.resolve().parent.name
                    run.part_of_attribution = d.name == "eval" and (d.parent / ATTRIBUTION_FILE).exists()
                    found.evals.append(run)
                elif doc is not None:
                    found.problems.append(f"{d / EVAL_FILE}: not a whygym eval results.json (no 'results' with "
                                          "'overall' and 'benchmarks'); skipped")
            if TRAIN_LOG in fs or TRAIN_SUMMARY in fs:
                rows = _read_jsonl(d / TRAIN_LOG, found.problems)[0] if TRAIN_LOG in fs else []
                summary = _read_json(d / TRAIN_SUMMARY, found.problems) if TRAIN_SUMMARY in fs else None
                summary = summary if isinstance(summary, dict) else None
                if rows or summary:
                    found.trains.append(train_run(label, d, rows, summary))
                else:
                    found.problems.append(f"{d}: {TRAIN_LOG} / {TRAIN_SUMMARY} hold no records yet; skipped")
            if ATTRIBUTION_FILE in fs:
                doc = _read_json(d / ATTRIBUTION_FILE, found.problems)
                if isinstance(doc, dict):
                    found.attributions.append(attribution_run(label, d, doc))
    return found

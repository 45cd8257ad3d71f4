"""Where evaluation items come from: one ``--benchmark`` string -> a list of :class:`~whygym.items.Item`.

Accepted forms::

    calm-lite:probability-en, caugym:base, cladder-sample, ...   anything whygym.benchmarks.load_benchmark knows
    gen:TASKS:N:SEED                                             generated items, e.g. gen:ATE,PN:20:0, gen:all:10:3
    suite:NAME:N:SEED                                            a test suite (whygym.tasks.suites.build_suite)
    PATH                                                         a file or folder in a known format

Every failure is a :class:`whygym.cli.UserError` that says what was given, what is known, and what to do.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from whygym.errors import UserError
from whygym.items import Item

__all__ = ["load_items", "SOURCE_HELP"]

SOURCE_HELP = ("a benchmark name (e.g. calm-lite:probability-en, caugym:base, cladder-sample), "
               "gen:TASKS:N:SEED (e.g. gen:ATE,PN:20:0 or gen:all:20:0), suite:NAME:N:SEED, "
               "or a path to a CaLM / CauGym / CLadder / whygym-items file")

_PREFIXES = ("gen", "suite")


def _ints(spec: str, parts: list[str], names: tuple[str, ...]) -> list[int]:
    out = []
    for name, s in zip(names, parts):
        try:
            out.append(int(s))
        except ValueError:
            raise UserError(f"--benchmark {spec!r}: {name} must be an integer, got {s!r}") from None
    return out


def _generated(spec: str, limit: int | None) -> list[Item]:
    from whygym.tasks import DEFAULT_TASKS, TASKS, generate

    parts = spec.split(":")
    if len(parts) != 4:
        raise UserError(f"--benchmark {spec!r}: generated suites read gen:TASKS:N:SEED, e.g. gen:ATE,PN:20:0 "
                        f"(N items per task, generator seed SEED); tasks: all or a comma list of {', '.join(TASKS)}")
    n, seed = _ints(spec, parts[2:], ("N", "SEED"))
    if n < 1:
        raise UserError(f"--benchmark {spec!r}: N must be >= 1, got {n}")
    names = list(DEFAULT_TASKS) if parts[1].strip().lower() == "all" else [t for t in parts[1].split(",") if t]
    if not names:
        raise UserError(f"--benchmark {spec!r}: no task named; use e.g. gen:ATE,PN:20:0 or gen:all:20:0")
    from whygym.tasks import get_task

    for t in names:
        try:
            get_task(t)
        except KeyError as e:
            raise UserError(f"--benchmark {spec!r}: {e.args[0]}") from None
    items = []
    for it in generate(names, n=n, seed=seed):
        it.meta.setdefault("benchmark", spec)
        items.append(it)
        if limit is not None and len(items) >= limit:
            break
    return items


def _suite(spec: str, limit: int | None) -> list[Item]:
    parts = spec.split(":")
    if len(parts) != 4 or not parts[1]:
        raise UserError(f"--benchmark {spec!r}: test suites read suite:NAME:N:SEED, e.g. suite:rephrased:20:0")
    n, seed = _ints(spec, parts[2:], ("N", "SEED"))
    from whygym.tasks import suites

    try:
        items = list(suites.build_suite(parts[1], n, seed))
    except (KeyError, ValueError) as e:
        near = difflib.get_close_matches(parts[1], list(suites.SUITES), n=1)
        hint = (f" (did you mean {near[0]!r}?)" if near else "") + f"; known suites: {', '.join(suites.SUITES)}"
        raise UserError(f"--benchmark {spec!r}: {e}{hint}") from None
    for it in items:
        it.meta.setdefault("benchmark", spec)
    return items[:limit] if limit is not None else items


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.endswith((".json", ".jsonl", ".parquet")) or spec.startswith(".")


def load_items(spec: str, limit: int | None = None, per_task: int | None = None) -> list[Item]:
    """The items a ``--benchmark`` value names.

    ``per_task`` keeps the first ``per_task`` items of each task (file order kept), a balanced subset
    of a benchmark whose files run task by task; ``limit`` then keeps the first ``limit`` items.

    Every item's ``meta["benchmark"]`` is set (to the spec when the loader did not set it), so results
    can be grouped by source.

    Raises
    ------
    UserError
        Unknown name (with the nearest known one), malformed ``gen:``/``suite:`` spec, missing file.
    """
    from whygym.benchmarks import BenchmarkFormatError, list_benchmarks, load_benchmark

    if limit is not None and limit < 1:
        raise UserError(f"--limit must be >= 1, got {limit}")
    if per_task is not None:
        if per_task < 1:
            raise UserError(f"--per-task must be >= 1, got {per_task}")
        kept: dict[str, int] = {}
        out = []
        for it in load_items(spec):
            if kept.get(it.task, 0) < per_task:
                kept[it.task] = kept.get(it.task, 0) + 1
                out.append(it)
        return out[:limit] if limit is not None else out
    spec = spec.strip()
    head = spec.split(":", 1)[0]
    if head == "gen":
        items = _generated(spec, limit)
    elif head == "suite":
        items = _suite(spec, limit)
    else:
        p = Path(spec).expanduser()
        if not p.exists() and _looks_like_path(spec):
            raise UserError(f"--benchmark {spec!r}: no such file or folder ({p.resolve()}); pass an existing "
                            f"path, or {SOURCE_HELP}")
        try:
            items = load_benchmark(p if p.exists() else spec, limit=limit)
        except BenchmarkFormatError as e:
            raise UserError(f"--benchmark {spec!r}: {e}") from None
        except ValueError as e:
            msg = str(e)
            if "did you mean" not in msg:
                try:
                    known = [n for n in list_benchmarks()] + [f"{n}:{s}" for n, subs in list_benchmarks().items()
                                                              for s in subs]
                except OSError:
                    known = []
                near = difflib.get_close_matches(spec, known + list(_PREFIXES), n=1)
                if near:
                    msg += f" (did you mean {near[0]!r}?)"
            raise UserError(f"--benchmark {spec!r}: {msg}. Use {SOURCE_HELP}.") from None
        except OSError as e:
            raise UserError(f"--benchmark {spec!r}: cannot read it ({e}); check the path and its permissions") from None
        for it in items:
            it.meta.setdefault("benchmark", spec)
    if not items:
        raise UserError(f"--benchmark {spec!r} holds no items; check the file or the subset name")
    return items

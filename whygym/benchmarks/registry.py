"""Named benchmarks, their subsets, and :func:`load_benchmark` (names or paths, with format sniffing).

Names (data root: ``$WHYGYM_DATA`` or ``<repo>/../shared/data``)::

    calm-lite                         all loadable CaLM Lite files (folder calm_lite/)
    calm-lite:<file stem>             one file, e.g. calm-lite:ATE-P_ATE-basic_EN
    calm-lite:probability-en          the seven *-P_* EN files (also -cn, and probability = both)
    calm-lite:binary-en|choice-en     the *-B_* / *-C_* files (also -cn, or no suffix for both)
    calm-lite:ATE                     every file of one task code (also ATE-en / ATE-cn)
    calm-lite:en | calm-lite:cn       one language
    calm:<same subsets>               the full CaLM release, when present under <data root>/calm/
    caugym:base|rephrased|omitted|insufficient   (caugym alone = all four)
    cladder-sample                    the 45-question CLadder sample
    cladder[:<file stem>]             full CLadder files under <data root>/cladder/, when present

``load_benchmark`` also takes a path to a file or folder in any of these formats (or a whygym items
JSONL file) and sniffs the format.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Callable

from whygym.items import Item, read_jsonl
from whygym.benchmarks._io import BenchmarkFormatError, data_root
from whygym.benchmarks.calm import calm_files, iter_calm_file, parse_calm_filename
from whygym.benchmarks.caugym import CAUGYM_SUBSETS, load_caugym
from whygym.benchmarks.cladder import load_cladder

__all__ = ["load_benchmark", "list_benchmarks", "resolve", "sniff_format", "BENCHMARK_FOLDERS"]

#: Benchmark name -> folder under the data root.
BENCHMARK_FOLDERS = {"calm-lite": "calm_lite", "calm": "calm", "caugym": "caugym",
                     "cladder-sample": "cladder_sample", "cladder": "cladder"}


def _calm_subset_filter(subset: str | None) -> Callable[[dict], bool]:
    if not subset:
        return lambda i: True
    s = subset.strip()
    low = s.lower()
    lang = None
    base = low
    for suf, lg in (("-en", "EN"), ("-cn", "CN")):
        if low.endswith(suf):
            base, lang = low[: -len(suf)], lg
    kinds = {"probability": "P", "binary": "B", "choice": "C"}
    if low in ("en", "cn"):
        return lambda i: i["lang"] == low.upper()
    if base in kinds:
        return lambda i: i["kind"] == kinds[base] and (lang is None or i["lang"] == lang)
    if "_" in s:  # a file stem
        return lambda i: i["stem"] == s or i["stem"] == s.removesuffix(".json")
    return lambda i: i["code"].lower() == base and (lang is None or i["lang"] == lang)


def _calm_subsets(root: Path) -> list[str]:
    stems = [parse_calm_filename(p)["stem"] for p in calm_files(root)] if root.exists() else []
    codes = sorted({s.split("-")[0] for s in stems})
    return (["probability", "probability-en", "probability-cn", "binary", "binary-en", "binary-cn", "choice",
             "choice-en", "choice-cn", "en", "cn"] + codes + [f"{c}-{l}" for c in codes for l in ("en", "cn")]
            + stems)


def list_benchmarks(root: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """``{name: [subsets]}`` for every registered benchmark whose folder exists under the data root."""
    root = Path(root) if root else data_root()
    out: dict[str, list[str]] = {}
    for name, folder in BENCHMARK_FOLDERS.items():
        d = root / folder
        if not d.exists():
            continue
        if name.startswith("calm"):
            out[name] = _calm_subsets(d)
        elif name == "caugym":
            out[name] = [s for s in CAUGYM_SUBSETS if (d / f"{s}_dataset.json").exists()] + sorted(
                p.stem.replace("_dataset", "") for p in d.glob("*_dataset.json")
                if p.stem.replace("_dataset", "") not in CAUGYM_SUBSETS)
        else:
            out[name] = sorted(p.stem for p in d.glob("*.json"))
    return out


def resolve(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The files a benchmark name (``name[:subset]``) stands for; raises ``ValueError`` with suggestions."""
    root = Path(root) if root else data_root()
    bench, _, subset = name.partition(":")
    if bench not in BENCHMARK_FOLDERS:
        close = difflib.get_close_matches(bench, list(BENCHMARK_FOLDERS), n=3)
        raise ValueError(f"unknown benchmark {bench!r}; known: {sorted(BENCHMARK_FOLDERS)}"
                         + (f" (did you mean {close[0]!r}?)" if close else ""))
    d = root / BENCHMARK_FOLDERS[bench]
    if not d.exists():
        raise ValueError(f"benchmark {bench!r}: folder {d} does not exist; set WHYGYM_DATA to the data root "
                         f"that holds {BENCHMARK_FOLDERS[bench]}/")
    if bench.startswith("calm"):
        keep = _calm_subset_filter(subset or None)
        files = [p for p in calm_files(d) if keep(parse_calm_filename(p))]
    elif bench == "caugym":
        files = [d / f"{s}_dataset.json" for s in CAUGYM_SUBSETS if (d / f"{s}_dataset.json").exists()] \
            if not subset else [p for p in (d / f"{subset}_dataset.json", d / f"{subset}.json") if p.exists()]
    else:
        files = sorted(d.glob("*.json")) if not subset else [p for p in (d / f"{subset}.json",) if p.exists()]
    if not files:
        subs = list_benchmarks(root).get(bench, [])
        close = difflib.get_close_matches(subset, subs, n=3)
        raise ValueError(f"benchmark {bench!r} has no subset {subset!r}"
                         + (f" (did you mean {close}?)" if close else f"; subsets: {subs[:30]}"))
    return files


def sniff_format(path: str | os.PathLike) -> str:
    """``"calm"``, ``"caugym"``, ``"cladder"`` or ``"whygym"`` for a file, from its name and first record."""
    path = Path(path)
    if parse_calm_filename(path):
        return "calm"
    with open(path, encoding="utf-8") as f:
        head = f.read(1 << 16)
    s = head.lstrip()
    if not s:
        raise BenchmarkFormatError(f"{path}: empty file; expected a JSON array or JSON Lines of benchmark records")
    first = None
    if s.startswith("["):
        dec = json.JSONDecoder()
        try:
            body = s[1:].lstrip()
            first, _ = dec.raw_decode(body)
        except json.JSONDecodeError:
            try:
                data = json.loads(Path(path).read_text(encoding="utf-8"))
                first = data[0] if data else None
            except (json.JSONDecodeError, IndexError) as e:
                raise BenchmarkFormatError(f"{path}: not valid JSON ({e}); cannot tell its benchmark format") from e
    elif s.startswith("{"):
        try:
            first = json.loads(s.splitlines()[0])
        except json.JSONDecodeError as e:
            raise BenchmarkFormatError(f"{path}: line 1: invalid JSON ({e.msg}); cannot tell its format") from e
    if s.startswith("[") and first is None and s[1:].lstrip().startswith("]"):
        raise BenchmarkFormatError(f"{path}: an empty JSON array; expected benchmark records")
    if not isinstance(first, dict):
        raise BenchmarkFormatError(f"{path}: expected a JSON array or JSON Lines of objects; cannot tell its format")
    keys = set(first)
    if {"id", "task", "prompt", "gold"} <= keys:
        return "whygym"
    if {"problem", "answer", "Type"} <= keys:
        return "caugym"
    if {"given_info", "question", "answer", "meta"} <= keys:
        return "cladder"
    if "gt_answer" in keys:
        raise BenchmarkFormatError(f"{path}: looks like a CaLM record but the file name is not "
                                   "<CODE>-<P|B|C|O>_<name>_<EN|CN>.json, which CaLM needs to know the task")
    raise BenchmarkFormatError(f"{path}: first record has keys {sorted(keys)[:12]}; expected CaLM, CauGym "
                               "(problem/answer/Type), CLadder (given_info/question/answer/meta) or whygym items")


def _load_file(path: Path, benchmark: str | None = None, subset: str | None = None, parse: bool = True
               ) -> list[Item]:
    fmt = sniff_format(path)
    if fmt == "calm":
        return list(iter_calm_file(path, benchmark=benchmark or "calm", subset=subset, parse=parse))
    if fmt == "caugym":
        return load_caugym(path, parse=parse)
    if fmt == "cladder":
        return load_cladder(path, benchmark=benchmark or "cladder")
    return list(read_jsonl(path))


def load_benchmark(name_or_path: str | os.PathLike, limit: int | None = None, parse: bool = True) -> list[Item]:
    """Load a registered benchmark (``"calm-lite:probability-en"``, ``"caugym:base"``, ...) or any path.

    Paths: a file in CaLM, CauGym, CLadder or whygym-items format (sniffed), or a folder (every
    loadable file in it). A malformed file raises ``ValueError`` naming the file and line/index.
    ``parse=False`` skips the structure parser (graph/query/given stay empty; faster).
    """
    s = str(name_or_path)
    p = Path(s)
    if p.exists():
        files = [p] if p.is_file() else (calm_files(p) or sorted(p.glob("*_dataset.json")) or sorted(p.glob("*.json")))
        bench, subset = None, None
    else:
        files = resolve(s)
        bench, _, subset = s.partition(":")
    items: list[Item] = []
    for f in files:
        got = _load_file(f, bench, subset or None, parse)
        if bench:
            for it in got:
                it.meta["benchmark"] = bench
                if subset:
                    it.meta["subset"] = subset
        items.extend(got)
        if limit is not None and len(items) >= limit:
            return items[:limit]
    return items

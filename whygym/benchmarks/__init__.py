"""Loaders for external causal-reasoning benchmarks (CaLM, CauGym, CLadder), all returning :class:`Item`.

>>> from whygym.benchmarks import load_benchmark          # doctest: +SKIP
>>> items = load_benchmark("calm-lite:probability-en")    # doctest: +SKIP
>>> items[0].task, items[0].given                         # doctest: +SKIP

See :mod:`whygym.benchmarks.registry` for the names and :mod:`whygym.benchmarks.parse` for how
``graph``/``query``/``given`` are recovered from the item text.
"""

from whygym.benchmarks._io import BenchmarkFormatError, data_root
from whygym.benchmarks.calm import CALM_REQUESTS, calm_prompt, calm_skipped, load_calm
from whygym.benchmarks.caugym import INSUFFICIENT_INSTRUCTION, load_caugym
from whygym.benchmarks.cladder import load_cladder
from whygym.benchmarks.parse import parse_calm_record, parse_prompt
from whygym.benchmarks.registry import list_benchmarks, load_benchmark, resolve, sniff_format

__all__ = ["load_calm", "load_caugym", "load_cladder", "load_benchmark", "list_benchmarks", "resolve",
           "sniff_format", "calm_skipped", "calm_prompt", "data_root", "parse_calm_record", "parse_prompt",
           "BenchmarkFormatError", "CALM_REQUESTS", "INSUFFICIENT_INSTRUCTION"]

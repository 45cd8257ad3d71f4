"""Evaluation: run a model on benchmark, generated or suite items; write results.json and samples.jsonl.

>>> from whygym.eval import EvalConfig, run_eval
>>> import tempfile
>>> cfg = EvalConfig(model="mock:text={\\"PROB\\": \\"0.5\\"}", benchmarks=["gen:ATE:3:0"],
...                  out=tempfile.mkdtemp())
>>> doc = run_eval(cfg, progress=False, echo=None)
>>> doc["results"]["overall"]["n"], doc["results"]["overall"]["parse_fail_rate"]
(3, 0.0)

* :func:`run_eval` / :class:`EvalConfig` -- the run (cache, batching, scoring, files); ``whygym eval`` calls it.
* :func:`load_items` -- a ``--benchmark`` value to items (names, ``gen:``, ``suite:``, paths).
* :func:`summarize` -- per-benchmark / per-task / overall figures from sample records.
* :func:`gold_nonzero` -- whether a record's gold is a non-zero number (the ``gold_nonzero`` blocks).
* :func:`format_table` -- the printed table; :func:`markdown_summary` -- one Markdown row per benchmark.
"""

from whygym.eval._run import SCHEMA, EvalConfig, build_backend, gold_nonzero, run_eval, summarize
from whygym.eval._sources import SOURCE_HELP, load_items
from whygym.eval._table import format_table, markdown_summary

__all__ = ["EvalConfig", "run_eval", "build_backend", "summarize", "gold_nonzero", "load_items", "format_table",
           "markdown_summary", "SCHEMA", "SOURCE_HELP"]

"""A static HTML report of run folders: ``whygym report RUN_DIR... --out DIR``.

>>> from whygym.report import build_report, discover      # doctest: +SKIP
>>> build_report(["runs/demo"], "runs/demo/report")        # doctest: +SKIP
PosixPath('runs/demo/report/report.html')

* :func:`discover` -- eval runs (``results.json`` + ``samples.jsonl``), training runs (``train_log.jsonl``,
  ``train_summary.json``) and attribution results (``attribution.json``) anywhere under the given folders,
  labelled by relative path; ``before``/``after`` eval folders with one parent are a pair.
* :func:`build_report` -- ``report.html`` (inline CSS and JS, opens from disk) and its PNG plots, rendered by
  the jinja2 templates in ``templates/`` from the typed records of :mod:`whygym.report._records`.
"""

from whygym.report._discover import AttributionRun, EvalRun, Found, TrainRun, discover


def __getattr__(name: str):
    # The page builder pulls in matplotlib: load it on first use, not when the CLI builds its parser.
    if name in ("REPORT_FILE", "build_report", "render"):
        from whygym.report import _build

        return getattr(_build, name)
    raise AttributeError(f"module 'whygym.report' has no attribute {name!r}")


__all__ = ["build_report", "render", "discover", "Found", "EvalRun", "TrainRun", "AttributionRun", "REPORT_FILE"]

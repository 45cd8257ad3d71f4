"""``whygym report``: one static HTML page from eval, training and attribution run folders.

Example::

    whygym report runs/demo --out runs/demo/report          # then open runs/demo/report/report.html
    whygym report runs/sft runs/grpo --out runs/compare     # one series per run, methods side by side
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from whygym.cliargs import COMMANDS

_DESCRIPTION = """\
Write DIR/report.html, a static page (no server, no internet: open it from disk) with its PNG plots beside it:
headline tables, accuracy per task before/after with 95% intervals, training curves (reward, loss,
zero-signal groups), prompt-component attribution with bootstrap intervals, layer rankings, a samples
table filterable by run, task and outcome, and the exact commands and package versions.

RUN_DIR may hold any mix of: an eval run (results.json, samples.jsonl from `whygym eval`), a before/ and
after/ pair of eval runs, a training run (train_log.jsonl, train_summary.json from `whygym train`), an
attribution result (attribution.json from `whygym attribute`), or a folder with several of these in
subfolders; everything is found recursively and labelled by its relative path.
"""

_EXAMPLES = """examples:
  whygym report runs/demo --out runs/demo/report         # one folder holding before/, after/, train/, attr/
  whygym report runs/sft runs/grpo --out runs/compare    # several methods side by side
  whygym report runs/sft/before runs/sft/after --out r   # two eval runs named before/after pair up
"""


def register(sub) -> None:
    p = sub.add_parser("report", help=COMMANDS["report"].help,
                       description=_DESCRIPTION, epilog=_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folders written by whygym eval / train / attribute")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder for report.html and its PNG files")
    p.add_argument("--title", default=None, help="page title (default: the run folders' names)")
    p.add_argument("--max-samples", type=int, default=1000, metavar="N",
                   help="samples per eval run shown in the samples table (default 1000)")
    p.add_argument("--top-layers", type=int, default=15, metavar="N",
                   help="modules shown per layer-ranking plot and table (default 15)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from whygym.errors import UserError
    from whygym.report._build import build_report
    from whygym.report._discover import discover

    if args.max_samples < 0:
        raise UserError(f"--max-samples must be >= 0, got {args.max_samples}")
    if args.top_layers < 1:
        raise UserError(f"--top-layers must be >= 1, got {args.top_layers}")
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {args.out!r} is a file; pass a folder (it is created if missing)")
    try:
        found = discover(args.run_dirs, skip=[out], max_samples=args.max_samples)
    except FileNotFoundError as e:
        raise UserError(f"RUN_DIR {str(e)!r} does not exist; pass a folder written by whygym eval, train or "
                        "attribute (check the path)") from None
    for root in found.roots:
        r = root.resolve()
        paths = [x.path for x in (*found.evals, *found.trains, *found.attributions)]
        if not any(p.resolve() == r or r in p.resolve().parents for p in paths):
            probs = [p for p in found.problems if str(p).startswith(str(root))]
            extra = (" Files found but unusable: " + "; ".join(probs[:3]) + ".") if probs else ""
            raise UserError(
                f"nothing to report in RUN_DIR {str(root)!r}: no results.json (from whygym eval), train_log.jsonl "
                f"or train_summary.json (from whygym train), or attribution.json (from whygym attribute) in it or "
                f"any subfolder.{extra} Pass the folder one of those commands wrote with --out, or run one of "
                f"them first, e.g. whygym eval --model M --benchmark gen:ATE:20:0 --out {root}/before")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {args.out!r}: cannot create the folder ({e}); pick a writable place") from None
    cmd = shlex.join(["whygym"] + sys.argv[1:]) if sys.argv and sys.argv[1:2] == ["report"] else None
    try:
        path = build_report(args.run_dirs, out, title=args.title, top_layers=args.top_layers, command=cmd,
                            found=found)
    except OSError as e:
        raise UserError(f"--out {args.out!r}: cannot write the report ({e}); pick a writable place") from None
    for p in found.problems:
        print(f"whygym report: warning: {p}", file=sys.stderr)
    n_eval = sum(not r.part_of_attribution for r in found.evals)
    print(f"wrote {path} ({n_eval} eval run(s), {len(found.trains)} training run(s), "
          f"{len(found.attributions)} attribution result(s)); open it in a browser: {path.resolve().as_uri()}")
    return 0

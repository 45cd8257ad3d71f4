"""Attribution figures on a model (default: SmolLM2-135M-Instruct on CPU), as reported in docs/results.md.

Run (all three parts, ~15-30 min on 2 shared CPU cores; cached, so a rerun is fast):

    .venv/bin/python bench/attribution.py --out runs/attribution
    .venv/bin/python bench/attribution.py --out runs/attribution --only prompt     # or layers / discovery / check

Parts (each is one ``whygym attribute`` call; this script only strings them together and times them):

* ``check``     the scripted model that needs names only: CAK must be 1 and CAD 0 (pipeline sanity)
* ``prompt``    names x data factorial on 16 base items (ATE, NDE), greedy, 48 new tokens
* ``layers``    mean ablation and patching (counterfactual names=fake) of all 60 modules on 3 items
* ``discovery`` the study's six settings on 8 binary 4-node problems and 8 Laplace pairs
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from whygym.cli import main as whygym


def _run(argv: list[str]) -> float:
    t = time.perf_counter()
    print("$ whygym " + " ".join(argv), flush=True)
    rc = whygym(argv)
    if rc:
        raise SystemExit(rc)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/attribution")
    ap.add_argument("--model", default="default")
    ap.add_argument("--only", choices=["check", "prompt", "layers", "discovery"], default=None)
    args = ap.parse_args()
    out = Path(args.out)
    times = {}
    parts = [args.only] if args.only else ["check", "prompt", "layers", "discovery"]
    if "check" in parts:
        times["check"] = _run(["attribute", "--model", "scripted:names", "--benchmark", "gen:ATE,NDE:8:0",
                               "--components", "names,data", "--out", str(out / "check"), "--quiet"])
        st = json.loads((out / "check" / "attribution.json").read_text())["results"]["correct"]["study"]
        assert st["CAK"]["point"] == 1.0 and st["CAD"]["point"] == 0.0, st
    if "prompt" in parts:
        times["prompt"] = _run(["attribute", "--model", args.model, "--benchmark", "gen:ATE,NDE:8:0",
                                "--components", "names,data", "--max-new-tokens", "48", "--out", str(out / "model")])
    if "layers" in parts:
        times["layers"] = _run(["attribute", "--layers", "--model", args.model, "--benchmark", "gen:ATE,NDE:8:0",
                                "--layer-items", "3", "--counterfactual", "names=fake", "--n-boot", "1000",
                                "--out", str(out / "model")])
    if "discovery" in parts:
        for kind, extra in (("binary", ["--nodes", "4", "--rows", "12"]), ("pairwise-laplace", ["--rows", "12"])):
            times[f"discovery-{kind}"] = _run(["attribute", "--discovery", kind, "--model", args.model,
                                               "--trials", "8", "--max-new-tokens", "64", *extra,
                                               "--out", str(out / "model")])
    print("seconds per part: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))


if __name__ == "__main__":
    main()

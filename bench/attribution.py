"""Attribution figures on a model (default: SmolLM2-135M-Instruct on CPU), as reported in docs/results.md.

Run (all parts, ~30 min on 2 shared CPU cores; cached, so a rerun of the prompt and discovery parts is fast):

    OMP_NUM_THREADS=1 .venv/bin/python bench/attribution.py --out runs/attribution
    OMP_NUM_THREADS=1 .venv/bin/python bench/attribution.py --out runs/attribution --only layers

On a machine shared with other jobs use one thread: with the load average at ~15 on 2 cores, a 2-thread
torch run spent 9x the CPU time and 5x the wall time of a 1-thread run on the same 4 log-likelihoods
(OpenMP threads spin at barriers while their partner is descheduled). All runs ask for bf16 autocast (the measured figures come from an Intel CPU with AMX; on a CPU without native bf16
they fall back to fp32 with a warning and take several times longer).

Parts (each is one ``whygym attribute`` call; this script only strings them together and times them):

* ``check``     the scripted model that needs names only: CAK must be 1 and CAD 0 (pipeline sanity)
* ``prompt``    names x data factorial on 12 base items (ATE, NDE), greedy, 40 new tokens -> OUT/model
* ``layers``    mean ablation and patching (counterfactual names=fake) of all 60 modules on 3 items -> OUT/layers
* ``discovery`` the study's six settings on 6 binary 4-node problems and 6 Laplace pairs -> OUT/discovery
* ``plan``      the precision fine-tuning plan from OUT/model + OUT/layers -> OUT/precision_plan.json
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
    ap.add_argument("--only", choices=["check", "prompt", "layers", "discovery", "plan"], default=None)
    args = ap.parse_args()
    out = Path(args.out)
    times = {}
    parts = [args.only] if args.only else ["check", "prompt", "layers", "discovery", "plan"]
    if "check" in parts:
        times["check"] = _run(["attribute", "--model", "scripted:names", "--benchmark", "gen:ATE,NDE:8:0",
                               "--components", "names,data", "--out", str(out / "check"), "--quiet"])
        st = json.loads((out / "check" / "attribution.json").read_text())["results"]["correct"]["study"]
        assert st["CAK"]["point"] == 1.0 and st["CAD"]["point"] == 0.0, st
    if "prompt" in parts:
        times["prompt"] = _run(["attribute", "--model", args.model, "--bf16", "--benchmark", "gen:ATE,NDE:6:0",
                                "--components", "names,data", "--max-new-tokens", "40", "--out", str(out / "model")])
    if "layers" in parts:
        times["layers"] = _run(["attribute", "--layers", "--model", args.model, "--bf16", "--benchmark",
                                "gen:ATE,NDE:6:0", "--layer-items", "3", "--counterfactual", "names=fake",
                                "--n-boot", "1000", "--out", str(out / "layers")])
    if "discovery" in parts:
        for kind, extra in (("binary", ["--nodes", "4", "--rows", "12"]), ("pairwise-laplace", ["--rows", "12"])):
            times[f"discovery-{kind}"] = _run(["attribute", "--discovery", kind, "--model", args.model, "--bf16",
                                               "--trials", "6", "--max-new-tokens", "64", *extra,
                                               "--out", str(out / "discovery")])
    if "plan" in parts:
        from whygym.attribution.precision import plan_from_attribution
        from whygym.items import atomic_write_text

        doc = json.loads((out / "model" / "attribution.json").read_text())
        doc["layers"] = json.loads((out / "layers" / "attribution.json").read_text())["layers"]
        plan = plan_from_attribution(doc)
        atomic_write_text(out / "precision_plan.json", json.dumps(plan, indent=2) + "\n")
        print("\n".join(plan["rationale"]))
    print("seconds per part: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))


if __name__ == "__main__":
    main()

"""``whygym demo`` end to end on a tiny model saved to disk: every stage runs for real (eval, SFT,
eval, attribution before/after, report), a rerun skips what is done, and the headline table prints."""

from __future__ import annotations

import json


def test_demo_runs_every_stage_and_resumes(tiny_dir, tmp_path, capsys):
    from whygym.cli import main

    out = tmp_path / "demo"
    argv = ["demo", "--quick", "--model", str(tiny_dir), "--minutes", "0.05", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for stage in ("before/results.json", "train/final/config.json", "after/results.json", "after-plain/results.json",
                  "attribution_before/attribution.json", "attribution_after/attribution.json", "report/report.html",
                  "demo.json"):
        assert (out / stage).exists(), stage
    assert "PROB exact, before" in printed and "report:" in printed
    summary = json.loads((out / "demo.json").read_text())
    assert [s["stage"] for s in summary["stages"]][:4] == [
        "evaluate the base model", "post-train (recipe, 0.05 min)", "evaluate the post-trained model (calculator)",
        "evaluate the post-trained model (no calculator)"]
    assert "gold!=0, after, no calc" in printed
    # the error breakdown before and after: one column per run, its counts those of results.json
    assert "Where the reasoning breaks" in printed and summary["breakdown"].startswith("first wrong step")
    after_steps = json.loads((out / "after" / "results.json").read_text())["results"]["overall"]["steps"]
    n_rows = [ln for ln in summary["breakdown"].splitlines()[2:] if not ln.startswith("verified")]
    assert sum(int(ln.split("|")[2]) for ln in n_rows) == after_steps["n"]
    after = json.loads((out / "after" / "results.json").read_text())
    assert after["config"]["tools"] == "calculator" and (out / "train" / "ppo" / "final").is_dir()
    assert all(s.get("rc", 0) == 0 for s in summary["stages"])
    before = json.loads((out / "before" / "results.json").read_text())
    assert before["results"]["overall"]["n"] == 7 * 2  # --quick: 2 held-out items per task
    # a rerun finds every stage done and only rebuilds the report
    assert main(argv) == 0
    again = json.loads((out / "demo.json").read_text())
    assert all(s.get("skipped") for s in again["stages"])


def test_demo_rejects_bad_budget(tmp_path):
    from whygym.cli import main

    assert main(["demo", "--quick", "--minutes", "0", "--out", str(tmp_path / "d")]) == 2


def test_demo_with_ppo(tiny_dir, tmp_path):
    from whygym.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--model", str(tiny_dir), "--method", "ppo", "--minutes", "0.01",
                 "--no-attribution", "--out", str(out)]) == 0
    trained = json.loads((out / "train" / "train_summary.json").read_text())
    assert trained["stopped_by_budget"] and trained["steps"] >= 1
    assert trained["config"]["max_new_tokens"] == 48  # the --quick profile's answer length
    assert (out / "after" / "results.json").exists() and (out / "report" / "report.html").exists()

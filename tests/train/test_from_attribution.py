"""``whygym train METHOD --from-attribution FILE``: precision fine-tuning from an attribution result."""

from __future__ import annotations

import json


def test_sft_from_attribution_writes_plan_and_trains(tiny_dir, tmp_path):
    from whygym.cli import main

    attr = tmp_path / "attr"
    # a scripted model that reads only the names: the plan must push the mix toward fake names
    assert main(["attribute", "--model", "scripted:names", "--benchmark", "gen:ATE,NDE:4:0", "--components",
                 "names,data", "--n-boot", "200", "--quiet", "--out", str(attr)]) == 0
    out = tmp_path / "sft"
    assert main(["train", "sft", "--from-attribution", str(attr / "attribution.json"), "--model", str(tiny_dir),
                 "--steps", "1", "--n_train", "3", "--heldout_n", "2", "--batch_size", "2", "--out", str(out)]) == 0
    plan = json.loads((out / "precision_plan.json").read_text())
    # the model leaned on names only, so most of the mix removes the knowledge (fake or reversed names)
    removed = sum(m["weight"] for m in plan["mix"] if m["intervene"]["names"] != "real")
    assert plan["signals"]["conditional"]["names"] > 0.9 and removed > 0.8
    assert (out / "final" / "config.json").exists()
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 1


def test_from_attribution_missing_file_is_a_clear_error(tiny_dir, tmp_path, capsys):
    from whygym.cli import main

    assert main(["train", "sft", "--from-attribution", str(tmp_path / "nope.json"), "--model", str(tiny_dir),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err

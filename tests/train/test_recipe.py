"""`whygym train recipe`: the stages run in order on a tiny model saved to disk, within their budgets, leave
OUT/final pointing at the last stage's model, and a rerun skips finished stages."""

import json

from whygym.cli import main


def test_recipe_stages_final_link_and_rerun(tmp_path, tiny_dir, capsys):
    out = tmp_path / "r"
    argv = ["train", "recipe", "--out", str(out), "--model", str(tiny_dir), "--minutes", "0.02",
            "--n_train", "2", "--heldout_n", "1", "--tasks", "[ATE, PN]", "--max_length", "4096",
            "--rl_batch_size", "2", "--rl_mini_batch_size", "2", "--rl_max_new_tokens", "8", "--rl_minutes", "0.001"]
    assert main(argv) == 0
    s = json.loads((out / "recipe_summary.json").read_text())
    assert [st["stage"] for st in s["stages"]] == ["sft-small", "sft", "ppo"]
    assert all(st["steps"] >= 1 for st in s["stages"])
    assert s["stages"][0]["nodes"] == [3, 4] and s["stages"][1]["nodes"] == [3, 6]
    assert (out / "final").resolve() == (out / "ppo" / "final").resolve()
    assert (out / "final" / "config.json").is_file()
    # each SFT stage starts from the one before; PPO from the second
    sft2 = json.loads((out / "sft" / "train_summary.json").read_text())
    assert str(out / "sft-small" / "final") in json.dumps(sft2)
    ppo_cfg = json.loads((out / "ppo" / "train_summary.json").read_text())
    assert ppo_cfg.get("config", {}).get("tools", "calculator") == "calculator"
    mtime = (out / "sft" / "final" / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert main(argv) == 0  # finished stages are skipped
    assert (out / "sft" / "final" / "model.safetensors").stat().st_mtime_ns == mtime


def test_recipe_bad_settings(tmp_path, capsys):
    assert main(["train", "recipe", "--out", str(tmp_path), "--reward_weights", "{speed: 1}"]) == 2
    assert "reward_weights" in capsys.readouterr().err
    assert main(["train", "recipe", "--out", str(tmp_path), "--sft_share", "0"]) == 2
    assert "sft_share" in capsys.readouterr().err

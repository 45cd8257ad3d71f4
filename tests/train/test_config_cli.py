"""Configs: every YAML in configs/ loads into its dataclass; unknown keys name the nearest field; the CLI help
lists the fields; ppo is wired to whygym.train.ppo lazily."""

import dataclasses
from pathlib import Path

import pytest

from whygym.cli import UserError, main
from whygym.train.config import METHOD_CONFIGS, GRPOArgs, SFTArgs, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("method", sorted(METHOD_CONFIGS))
def test_yaml_loads_into_dataclass(method):
    cfg = load_config(METHOD_CONFIGS[method], CONFIGS / f"{method}.yaml")
    assert cfg.model == "default" and cfg.steps >= 1 and cfg.lr > 0
    for f in dataclasses.fields(cfg):
        assert f.metadata.get("help"), f"{method}.{f.name} has no help text"


def test_ppo_yaml_has_the_interface_fields():
    import yaml

    doc = yaml.safe_load((CONFIGS / "ppo.yaml").read_text())
    assert {"model", "lr", "steps", "batch_size", "ppo_epochs", "clip_range", "vf_coef", "kl_coef", "gamma", "lam",
            "max_new_tokens", "temperature", "seed", "lora", "minutes", "heldout_n", "heldout_seed"} == set(doc)
    from whygym.train.ppo_config import PPOConfig

    load_config(PPOConfig, CONFIGS / "ppo.yaml", method="ppo")


def test_unknown_key_in_file_names_nearest(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("learning_rat: 0.1\nlr: 0.1\n")
    with pytest.raises(UserError, match=r"c.yaml: unknown setting 'learning_rat'"):
        load_config(SFTArgs, p)
    p.write_text("numgenerations: 2\n")
    with pytest.raises(UserError, match="did you mean 'num_generations'"):
        load_config(GRPOArgs, p)


def test_overrides_are_typed():
    cfg = load_config(GRPOArgs, CONFIGS / "grpo.yaml",
                      {"steps": "7", "lr": "2e-6", "lora": "true", "tasks": "[ATE, PN]",
                       "reward_weights": "{accuracy: 1}", "num_generations": "2", "batch_size": "4"})
    assert (cfg.steps, cfg.lr, cfg.lora, cfg.tasks, cfg.reward_weights) == (7, 2e-6, True, ["ATE", "PN"],
                                                                          {"accuracy": 1})
    with pytest.raises(UserError, match="steps must be a int"):
        load_config(SFTArgs, None, {"steps": "many"})
    with pytest.raises(UserError, match="multiple of num_generations"):
        load_config(GRPOArgs, None, {"batch_size": 3, "num_generations": 2})
    with pytest.raises(UserError, match="derivation"):
        load_config(SFTArgs, None, {"derivation": "verbose"})


def test_cli_help_lists_fields(capsys):
    for method, cls in METHOD_CONFIGS.items():
        with pytest.raises(SystemExit) as e:
            main(["train", method, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        for f in dataclasses.fields(cls):
            assert f"--{f.name.replace('_', '-')}" in out  # one spelling per concept: hyphens, as every command
            if "_" in f.name:
                assert f"--{f.name} " not in out  # the YAML key's spelling is a hidden alias
        assert "--config" in out and "--out" in out and "--resume" in out


def test_cli_old_spelling_is_a_deprecated_alias(capsys, tmp_path):
    from whygym.cli import build_parser

    p = build_parser()
    new = p.parse_args(["train", "sft", "--out", "x", "--max-length", "77", "--n-train", "5"])
    assert "deprecated" not in capsys.readouterr().err
    old = p.parse_args(["train", "sft", "--out", "x", "--max_length", "77", "--n_train", "5"])
    err = capsys.readouterr().err
    assert "--max_length is deprecated; use --max-length" in err and "--n_train is deprecated; use --n-train" in err
    assert vars(new) == vars(old) and new.field__max_length == "77"
    with pytest.raises(SystemExit):
        p.parse_args(["train", "sft", "--out", "x", "--max-lenght", "3"])
    assert "did you mean --max-length?" in capsys.readouterr().err
    # whygym attribute: --limit, as whygym eval (--n was its old name)
    a = p.parse_args(["attribute", "--out", str(tmp_path), "--n", "4"])
    assert a.limit == 4 and "--n is deprecated; use --limit" in capsys.readouterr().err


def test_cli_unknown_option_names_nearest(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "sft", "--out", "x", "--stpes", "3"])
    assert e.value.code == 2
    assert "did you mean --steps?" in capsys.readouterr().err


def test_cli_vllm_guard(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    code = main(["train", "grpo", "--out", str(tmp_path / "o"), "--use_vllm", "true", "--n_train", "1",
                 "--tasks", "[ATE]", "--heldout_n", "1", "--model", str(tmp_path / "m")])
    assert code == 2
    assert "the vllm package is not installed" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before any work


def test_cli_ppo_calls_train_ppo_with_generated_rl_rows(tmp_path, monkeypatch, capsys):
    import whygym.train.ppo as ppo

    seen = {}

    def fake_train_ppo(cfg, out_dir, *, model=None, tokenizer=None, dataset=None, reward_fn=None, resume=False):
        seen.update(cfg=cfg, out=out_dir, dataset=dataset, resume=resume)
        return {"steps": cfg.steps}

    monkeypatch.setattr(ppo, "train_ppo", fake_train_ppo)
    assert main(["train", "ppo", "--config", str(CONFIGS / "ppo.yaml"), "--out", str(tmp_path), "--steps", "3"]) == 0
    assert isinstance(seen["cfg"], ppo.PPOConfig) and seen["cfg"].steps == 3
    ds = seen["dataset"]
    assert set(ds.column_names) == {"prompt", "gold", "task", "reason", "given", "names", "values"} and len(ds) > 0
    assert ds[0]["prompt"][0]["role"] == "user"
    assert main(["train", "ppo", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert seen["resume"] is False


def test_renamed_ppo_settings_still_work(tmp_path, capsys):
    """PPO's settings carry the names every trainer uses (save_steps, save_total_limit, logging_steps,
    lora_targets); the old names still work in YAML and on the command line, with a deprecation line."""
    from whygym.cli import build_parser
    from whygym.train.ppo_config import PPOConfig

    f = tmp_path / "old.yaml"
    f.write_text("save_every: 7\nkeep_checkpoints: 1\nlog_every: 0\nlora_target_modules: [q_proj]\n")
    cfg = load_config(PPOConfig, f, method="ppo")
    assert (cfg.save_steps, cfg.save_total_limit, cfg.logging_steps, cfg.lora_targets) == (7, 1, 0, ["q_proj"])
    assert "setting 'save_every' is deprecated; use 'save_steps'" in capsys.readouterr().err
    a = build_parser().parse_args(["train", "ppo", "--out", "x", "--save-every", "5", "--log_every", "2"])
    err = capsys.readouterr().err
    assert a.field__save_steps == "5" and a.field__logging_steps == "2"
    assert "--save-every is deprecated; use --save-steps" in err and "--log_every is deprecated" in err
    assert PPOConfig.from_dict({"keep_checkpoints": 3}).save_total_limit == 3


def test_every_trainer_config_is_one_run_args():
    """One contract: the TRL methods' configs and PPO's are RunArgs, so every shared setting (model, data,
    budget, LoRA, checkpoints) has one definition; PPO's data settings are checked as every trainer's."""
    from whygym.train.config import RunArgs
    from whygym.train.ppo_config import PPOConfig

    shared = {f.name for f in dataclasses.fields(RunArgs)}
    for cls in [*METHOD_CONFIGS.values(), PPOConfig]:
        assert issubclass(cls, RunArgs), cls
        assert shared <= {f.name for f in dataclasses.fields(cls)}, cls
    base = {f.name: f.metadata["help"] for f in dataclasses.fields(RunArgs)}
    ppo = {f.name: f.metadata["help"] for f in dataclasses.fields(PPOConfig)}
    assert ppo["tasks"] == base["tasks"] and ppo["lora_targets"] == base["lora_targets"]
    with pytest.raises(UserError, match="unknown task"):
        load_config(PPOConfig, None, {"tasks": "[ATE, XYZ]"}, method="ppo")
    with pytest.raises(UserError, match="nodes must be"):
        load_config(PPOConfig, None, {"nodes": "[2, 40]"}, method="ppo")
    assert PPOConfig.method == "ppo" and load_config(PPOConfig, None, {"lr": "3e-6"}).lr == 3e-6

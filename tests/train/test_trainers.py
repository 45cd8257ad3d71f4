"""Each trainer runs 2 steps on a tiny Llama, moves the weights, and leaves a final checkpoint that loads and
generates; logs and summary are written; --resume continues from the last checkpoint."""

import json
import random

import pytest
import torch

from whygym.errors import UserError
from whygym.train.config import METHOD_CONFIGS, load_config
from whygym.train.trainers import train

SMALL = {"steps": 2, "n_train": 2, "tasks": ["ATE", "PN"], "batch_size": 2, "lr": 1e-3, "max_length": 1024,
         "heldout_n": 2, "save_steps": 100}
GRPO = {"num_generations": 2, "max_completion_length": 8}


def _weight(model):
    return model.model.layers[0].mlp.down_proj.weight.detach().clone()


def _varied_reward(completions, **kw):
    # the tiny model never earns whygym's reward; this one differs inside every group, so GRPO has a signal
    return [float(sum(map(ord, c[0]["content"])) % 7) for c in completions]


def _check_final(out):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    final = out / "final"
    model = AutoModelForCausalLM.from_pretrained(final)
    tok = AutoTokenizer.from_pretrained(final)
    assert tok.chat_template
    ids = tok.apply_chat_template([{"role": "user", "content": "does a cause b"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    gen = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]


@pytest.mark.parametrize("method", ["sft", "dpo", "kto", "grpo"])
def test_two_steps_change_weights_and_save(method, tiny, tmp_path):
    model, tok = tiny
    before = _weight(model)
    cfg = load_config(METHOD_CONFIGS[method], None, {**SMALL, **(GRPO if method == "grpo" else {})})
    summary = train(method, cfg, tmp_path, model=model, tokenizer=tok,
                    reward_fn=_varied_reward if method == "grpo" else None)
    assert summary["steps"] == 2
    assert not torch.equal(before, _weight(model)), f"{method} did not change the weights"
    _check_final(tmp_path)
    log = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2]
    assert all("step_time_s" in r for r in log if "loss" in r)
    saved = json.loads((tmp_path / "train_summary.json").read_text())
    assert saved["method"] == method and saved["data"]["rows"] > 0
    assert (tmp_path / "data" / "train.jsonl").is_file()
    if method == "grpo":
        assert all("zero_signal_frac" in r for r in log if "loss" in r)
        assert saved["zero_signal_frac_mean"] is not None
        rewards = [r["reward"] for r in log if "reward" in r]
        assert len(rewards) == 2  # fewer than 5 steps: both means cover every step
        assert saved["reward_first"] == pytest.approx(sum(rewards) / 2) == saved["reward_last"]


def test_grpo_whygym_reward_logs_zero_signal(tiny, tmp_path):
    """With whygym's own reward the untrained tiny model earns 0 everywhere: every group is zero-signal."""
    model, tok = tiny
    cfg = load_config(METHOD_CONFIGS["grpo"], None, {**SMALL, **GRPO, "steps": 1})
    s = train("grpo", cfg, tmp_path, model=model, tokenizer=tok)
    log = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["zero_signal_frac"] == 1.0 == log[0]["frac_reward_zero_std"]
    assert s["zero_signal_frac_mean"] == 1.0
    # each reward is its own TRL reward function, logged apart
    for name in ("format_reward", "accuracy_reward", "closeness_reward"):
        assert f"rewards/{name}/mean" in log[0], sorted(log[0])


def test_lora_final_is_merged(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    model, tok = tiny
    cfg = load_config(METHOD_CONFIGS["sft"], None, {**SMALL, "lora": True, "lora_r": 4, "lora_alpha": 8})
    train("sft", cfg, tmp_path, model=model, tokenizer=tok)
    names = [n for n, _ in AutoModelForCausalLM.from_pretrained(tmp_path / "final").named_parameters()]
    assert not any("lora" in n for n in names)
    assert not (tmp_path / "final" / "adapter_config.json").exists()
    _check_final(tmp_path)


def test_resume_continues_from_last_checkpoint(tiny, tmp_path):
    from whygym.cli import UserError
    import copy

    model, tok = tiny
    with pytest.raises(UserError, match="no checkpoint"):
        train("sft", load_config(METHOD_CONFIGS["sft"], None, SMALL), tmp_path, model=model, tokenizer=tok,
              resume=True)
    cfg = load_config(METHOD_CONFIGS["sft"], None, {**SMALL, "save_steps": 1})
    train("sft", cfg, tmp_path, model=model, tokenizer=tok)
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir()
    model2, tok2 = copy.deepcopy(model), tok
    cfg = load_config(METHOD_CONFIGS["sft"], None, {**SMALL, "save_steps": 1, "steps": 3})
    s = train("sft", cfg, tmp_path, model=model2, tokenizer=tok2, resume=True)
    assert s["steps"] == 3 and s["resumed_from"].endswith("checkpoint-2")
    steps = [json.loads(x)["step"] for x in (tmp_path / "train_log.jsonl").read_text().splitlines()
             if "loss" in json.loads(x)]
    assert steps == [1, 2, 3]


def test_time_budget_stops_training(tiny, tmp_path):
    model, tok = tiny
    cfg = load_config(METHOD_CONFIGS["sft"], None, {**SMALL, "steps": 1000, "minutes": 1e-9})
    s = train("sft", cfg, tmp_path, model=model, tokenizer=tok)
    assert s["stopped_by_budget"] and s["steps"] == 1


def test_rows_longer_than_max_length_are_dropped_not_truncated(default_tokenizer):
    from whygym.tasks import generate
    from whygym.train.data import dpo_rows, sft_rows
    from whygym.train.trainers import drop_long_rows

    items = list(generate(["NDE", "ATE"], n=6, seed=3))
    rows = sft_rows(items, "calm")
    lengths = [len(default_tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True,
                                                         return_dict=True)["input_ids"]) for r in rows]
    cut = sorted(lengths)[len(lengths) // 2]
    kept, dropped = drop_long_rows(rows, "sft", default_tokenizer, cut)
    assert dropped == sum(n > cut for n in lengths) > 0 and len(kept) + dropped == len(rows)
    kept, dropped = drop_long_rows(dpo_rows(items), "dpo", default_tokenizer, 10_000)
    assert dropped == 0 and kept


def test_grpo_calculator_rollout_inserts_exact_values_and_masks_them(memorised, tmp_path):
    """GRPO with ``tools: calculator``: the rollouts hold the calculator's value (the policy had memorised a
    wrong one), TRL gets the inserted tokens masked (env_mask 0) and the policy's own tokens kept, and a
    training step runs on them."""
    from datasets import Dataset

    model, tok = memorised
    seen = []

    def record(completions, **kw):
        seen.extend(c[0]["content"] for c in completions)
        return [float(i % 2) for i in range(len(completions))]  # a signal inside every group

    rows = Dataset.from_list([{"prompt": [{"role": "user", "content": "ATE?"}], "gold": '{"prob": -0.0751}',
                               "task": "ATE"}] * 2)
    cfg = load_config(METHOD_CONFIGS["grpo"], None, {**SMALL, "steps": 1, "num_generations": 2,
                                                      "max_completion_length": 40, "temperature": 0.3,
                                                      "tools": "calculator"})
    s = train("grpo", cfg, tmp_path, model=model, tokenizer=tok, dataset=rows, reward_fn=record)
    assert s["steps"] == 1 and seen
    assert all("<<0.8315-0.9066=-0.0751>>" in t for t in seen), seen

    # the rollout itself: exactly the inserted tokens are masked
    from types import SimpleNamespace

    from accelerate import Accelerator
    from transformers import GenerationConfig

    from whygym.train.rollout import ToolRollout

    gen = GenerationConfig(do_sample=True, temperature=0.3, max_new_tokens=40, pad_token_id=tok.pad_token_id,
                           eos_token_id=tok.eos_token_id)
    trainer = SimpleNamespace(processing_class=tok, accelerator=Accelerator(cpu=True), model_wrapped=model,
                              generation_config=gen, eos_token_ids=[tok.eos_token_id])
    out = ToolRollout("calculator")([[{"role": "user", "content": "ATE?"}]] * 2, trainer)
    inserted = tok("-0.0751>>", add_special_tokens=False)["input_ids"]
    assert len(out["completion_ids"]) == 2 and out["logprobs"] is None
    for ids, mask in zip(out["completion_ids"], out["env_mask"]):
        assert "<<0.8315-0.9066=-0.0751>>" in tok.decode(ids, skip_special_tokens=True)
        holes = [i for i, m in enumerate(mask) if m == 0]
        assert [ids[i] for i in holes] == inserted and holes == list(range(holes[0], holes[0] + len(inserted)))
    with pytest.raises(Exception, match="tools"):
        load_config(METHOD_CONFIGS["grpo"], None, {"tools": "abacus"})
    with pytest.raises(Exception, match="vLLM"):
        load_config(METHOD_CONFIGS["grpo"], None, {"tools": "calculator", "use_vllm": True})


@pytest.mark.parametrize("method", ["grpo", "ppo"])
def test_rl_training_data_carries_the_process_rewards_columns(method):
    """The rows an RL trainer gets hold what the step verifier reads: the process reward applies to them
    (it was once silently None because these columns were dropped on the way)."""
    from whygym.scoring import process_reward
    from whygym.train.trainers import _to_dataset, build_dataset

    cfg = load_config(METHOD_CONFIGS["grpo"], None, {"n_train": 2, "tasks": ["ATE", "PN"], "heldout_n": 2})
    rows, _ = build_dataset(cfg, method)
    ds = _to_dataset(rows, method)
    assert {"reason", "given", "names", "values"} <= set(ds.column_names)
    batch = ds[:len(ds)]
    r = process_reward()(["no idea"] * len(ds), **{k: v for k, v in batch.items() if k != "prompt"})
    assert all(x is not None for x in r), r


def test_group_by_length_batches_rows_of_similar_length(tiny, tmp_path, monkeypatch):
    """SFT's group_by_length hands the trainer transformers' LengthGroupedSampler over the tokenized rows: a
    batch holds rows whose lengths are neighbours in the sorted order of their mega-batch, so it pads less
    than random batches of the same rows do on average; other methods refuse the setting."""
    import transformers.trainer as hf_trainer

    seen = []

    class Recording(hf_trainer.LengthGroupedSampler):
        def __init__(self, batch_size, dataset=None, lengths=None, model_input_name=None, **kw):
            super().__init__(batch_size, dataset=dataset, lengths=lengths, model_input_name=model_input_name, **kw)
            seen.append(self)

    monkeypatch.setattr(hf_trainer, "LengthGroupedSampler", Recording)
    model, tok = tiny
    cfg = load_config(METHOD_CONFIGS["sft"], None, {**SMALL, "group_by_length": True, "n_train": 8})
    assert train("sft", cfg, tmp_path, model=model, tokenizer=tok)["steps"] == 2
    assert len(seen) == 1 and seen[0].batch_size == cfg.batch_size
    lengths = seen[0].lengths
    order = list(iter(seen[0]))
    assert sorted(order) == list(range(len(lengths)))  # every row once

    def padding(idx):
        b = cfg.batch_size
        return sum(max(lengths[i] for i in idx[k:k + b]) * len(idx[k:k + b]) - sum(lengths[i] for i in idx[k:k + b])
                   for k in range(0, len(idx), b))

    rng = random.Random(0)
    shuffles = [rng.sample(range(len(lengths)), len(lengths)) for _ in range(20)]
    assert padding(order) < sum(padding(o) for o in shuffles) / len(shuffles)  # random batches pad more
    with pytest.raises(UserError, match="group_by_length is an SFT setting"):
        load_config(METHOD_CONFIGS["dpo"], None, {"group_by_length": True})

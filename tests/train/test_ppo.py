"""PPO (whygym.train.ppo): GAE, losses and whitening against hand computations; a toy task that PPO
learns; and train_ppo end to end with the rule-based reward, checkpoints and resume. CPU, offline."""

import json
import math

import numpy as np
import pytest
import torch

from whygym.train.ppo import (AdaptiveKLController, PPOConfig, compute_gae, compute_gae_reference,
                              masked_mean, masked_whiten, ppo_policy_loss, token_rewards, train_ppo,
                              value_loss)


@pytest.fixture(autouse=True)
def _one_thread():
    """The models here are tiny: one thread is faster than two, and much faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ----------------------------------------------------------------------------------------------
# unit tests

def test_gae_hand_computed_three_steps():
    # gamma = 0.9, lam = 0.8, r = (0, 0, 1), V = (0.5, 0.6, 0.7), V_3 = 0
    # delta_2 = 1 - 0.7 = 0.3;  delta_1 = 0 + 0.9*0.7 - 0.6 = 0.03;  delta_0 = 0 + 0.9*0.6 - 0.5 = 0.04
    # A_2 = 0.3;  A_1 = 0.03 + 0.72*0.3 = 0.246;  A_0 = 0.04 + 0.72*0.246 = 0.21712
    r = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    v = torch.tensor([[0.5, 0.6, 0.7, 9.0]])  # the last position is padding: ignored
    m = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    adv, ret = compute_gae(r, v, m, gamma=0.9, lam=0.8)
    assert adv[0].tolist() == pytest.approx([0.21712, 0.246, 0.3, 0.0], abs=1e-6)
    assert ret[0].tolist() == pytest.approx([0.71712, 0.846, 1.0, 0.0], abs=1e-6)


def test_gae_matches_slow_reference_on_random_padded_batches():
    g = torch.Generator().manual_seed(0)
    for gamma, lam in [(1.0, 0.95), (0.99, 1.0), (0.9, 0.0), (0.5, 0.7)]:
        B, T = 5, 9
        r = torch.randn(B, T, generator=g, dtype=torch.float64)
        v = torch.randn(B, T, generator=g, dtype=torch.float64)
        lens = [9, 1, 4, 7, 2]
        m = torch.zeros(B, T, dtype=torch.float64)
        for i, n in enumerate(lens):
            m[i, :n] = 1
        adv, ret = compute_gae(r, v, m, gamma, lam)
        for i, n in enumerate(lens):
            a_ref, g_ref = compute_gae_reference(r[i, :n].tolist(), v[i, :n].tolist(), gamma, lam)
            np.testing.assert_allclose(adv[i, :n].numpy(), a_ref, atol=1e-10)
            np.testing.assert_allclose(ret[i, :n].numpy(), g_ref, atol=1e-10)
            assert adv[i, n:].abs().sum() == 0 and ret[i, n:].abs().sum() == 0


def test_clipped_policy_loss_hand_values():
    eps = 0.2
    old = torch.zeros(1, 1)

    def loss(ratio, a):
        lp = torch.log(torch.tensor([[ratio]]))
        val, st = ppo_policy_loss(lp, old, torch.tensor([[a]]), torch.ones(1, 1), eps)
        return val.item(), st["clip_frac"]

    # inside the clip range: -r A
    assert loss(1.1, 2.0) == (pytest.approx(-2.2, abs=1e-6), 0.0)
    assert loss(0.9, -1.0) == (pytest.approx(0.9, abs=1e-6), 0.0)
    # outside, the clipped term binds when it is the pessimistic one: -min(1.5*2, 1.2*2) = -2.4
    assert loss(1.5, 2.0) == (pytest.approx(-2.4, abs=1e-6), 1.0)
    assert loss(0.5, -1.0) == (pytest.approx(0.8, abs=1e-6), 1.0)   # -min(-0.5, -0.8)
    # outside, the unclipped term is the pessimistic one: no clipping of the loss
    assert loss(1.5, -1.0) == (pytest.approx(1.5, abs=1e-6), 1.0)   # -min(-1.5, -1.2)
    assert loss(0.5, 2.0) == (pytest.approx(-1.0, abs=1e-6), 1.0)   # -min(1.0, 1.6)


def test_clipped_policy_loss_masked_mean_and_gradients():
    lp = torch.log(torch.tensor([[1.1, 1.5, 7.0]])).requires_grad_(True)
    adv = torch.tensor([[2.0, 2.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    val, st = ppo_policy_loss(lp, torch.zeros(1, 3), adv, mask, 0.2)
    assert val.item() == pytest.approx((-2.2 - 2.4) / 2, abs=1e-6)
    assert st["clip_frac"] == pytest.approx(0.5)
    val.backward()
    # d/dlogp of -r A / n = -r A / n inside the range; 0 where clipped or masked
    assert lp.grad[0].tolist() == pytest.approx([-1.1, 0.0, 0.0], abs=1e-6)


def test_value_loss_clipping():
    old = torch.tensor([[0.0, 0.0]])
    ret = torch.tensor([[1.0, -1.0]])
    new = torch.tensor([[0.5, 0.1]])
    val, st = value_loss(new, old, ret, torch.ones(1, 2), clip_range_value=0.2)
    # token 0: max((0.5-1)^2, (0.2-1)^2) = 0.64; token 1: max((0.1+1)^2, (0.1+1)^2) = 1.21
    assert val.item() == pytest.approx(0.5 * (0.64 + 1.21) / 2, abs=1e-6)
    assert st["value_clip_frac"] == pytest.approx(0.5)


def test_masked_whiten():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 5.0, -50.0, 7.0]])
    m = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    w = masked_whiten(x, m)
    vals = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    expect = (vals - vals.mean()) / math.sqrt(vals.var(ddof=1) + 1e-8)
    got = w[m.bool()].numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-5)
    assert w[~m.bool()].abs().sum() == 0
    assert masked_mean(w, m).item() == pytest.approx(0.0, abs=1e-6)
    kept = masked_whiten(x, m, shift_mean=False)[m.bool()].numpy()
    np.testing.assert_allclose(kept, expect + vals.mean(), rtol=1e-5)


def test_token_rewards_and_kl_controller():
    logp = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -2.0, -2.0], [-1.0, -1.0, -1.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    r, kl = token_rewards(torch.tensor([1.0, 0.5]), logp, ref, mask, kl_coef=0.1)
    torch.testing.assert_close(kl, torch.tensor([[0.5, 0.0, -1.0], [0.0, 0.0, 0.0]]))
    torch.testing.assert_close(r, torch.tensor([[-0.05, 0.0, 1.1], [0.5, 0.0, 0.0]]))
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=100)
    assert ctl.update(12.0, n=10) == pytest.approx(0.1 * (1 + 0.2 * 0.1))  # error clipped to +0.2
    assert ctl.update(3.0, n=10) == pytest.approx(0.102 * (1 - 0.2 * 0.1))


def test_config_has_help_and_validates():
    from dataclasses import fields

    for f in fields(PPOConfig):
        assert f.metadata.get("help"), f.name
    with pytest.raises(ValueError):
        PPOConfig(mini_batch_size=16, batch_size=8).validate()
    with pytest.raises(ValueError):
        PPOConfig.from_dict({"nope": 1})


# ----------------------------------------------------------------------------------------------
# a toy task: reward 1 when the completion starts with "yes"

def _toy_model_and_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>", "a", "b", "c", "d", "e", "f", "yes"]
    raw = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.decoder = decoders.WordPiece(prefix="##")
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      pad_token_id=0, eos_token_id=1, bos_token_id=None, tie_word_embeddings=False)
    return LlamaForCausalLM(cfg).eval(), tok


def _starts_with_yes(completions, **_):
    return [1.0 if c.split()[:1] == ["yes"] else 0.0 for c in completions]


_TOY_PROMPTS = ["a b", "c d", "e f", "b a", "d c", "f e", "a c", "b d"]


def _toy_run(out, *, steps, lr, kl_coef=0.0, vf_coef=0.5, seed=0, reward_fn=_starts_with_yes):
    """PPO on the toy task; returns the trained model, its tokenizer and the per-step log."""
    model, tok = _toy_model_and_tokenizer()
    cfg = PPOConfig(model="unused", lr=lr, steps=steps, batch_size=32, mini_batch_size=8, ppo_epochs=4,
                    max_new_tokens=3, kl_coef=kl_coef, vf_coef=vf_coef, save_steps=0, logging_steps=0, seed=seed)
    summary = train_ppo(cfg, out, model=model, tokenizer=tok, dataset=[{"prompt": p} for p in _TOY_PROMPTS],
                        reward_fn=reward_fn)
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    return model, tok, log, summary


def _p_yes(model, tok) -> np.ndarray:
    """pi(first token = "yes" | prompt) for every toy prompt."""
    yes = tok.convert_tokens_to_ids("yes")
    with torch.no_grad():
        return np.array([torch.softmax(model(tok(x, return_tensors="pt")["input_ids"]).logits[0, -1], -1)[yes].item()
                         for x in _TOY_PROMPTS])


# The toy PPO tests assert on what PPO converges to, with margins measured under two float-kernel sets
# (ATEN_CPU_CAPABILITY=default and =avx2, seeds 0-4, on an AMD EPYC): from the start (first-5 reward
# 0.15-0.23) the last-10 reward reaches 0.91-0.97 and the mean pi(yes) over the prompts 0.88-0.97 at
# lr 1e-3, 40 steps. A 30-step, lr 5e-3 run oscillated (last-5 reward 0.72 on one kernel set, 0.98 on the
# other), which is why the old short-window threshold failed on some CPUs.
def _learns_yes(log, p_yes) -> tuple[bool, str]:
    reward = [r["reward"] for r in log]
    first, last = float(np.mean(reward[:5])), float(np.mean(reward[-10:]))
    detail = f"reward first5 {first:.3f} last10 {last:.3f}, mean pi(yes) {p_yes.mean():.3f}"
    return (first < 0.35 and last > 0.8 and last - first > 0.5 and p_yes.mean() > 0.75), detail


def test_toy_task_policy_learns_the_rewarded_first_word(tmp_path):
    model, tok, log, summary = _toy_run(tmp_path, steps=40, lr=1e-3)
    assert len(log) == 40 and [r["step"] for r in log] == list(range(1, 41))
    ok, detail = _learns_yes(log, _p_yes(model, tok))
    print("toy:", detail)
    assert ok, detail
    assert summary["reward_last"] == pytest.approx(float(np.mean([r["reward"] for r in log[-5:]])))
    for r in log:
        assert set(r) >= {"reward", "kl", "policy_loss", "value_loss", "clip_frac", "approx_kl",
                          "explained_variance", "entropy", "step_time_s", "wall_s"}


@pytest.mark.parametrize("broken", ["advantage_sign_flipped", "policy_update_removed"])
def test_toy_task_check_fails_on_a_broken_ppo(tmp_path, monkeypatch, broken):
    """The learning check above is able to fail: the same run with the policy gradient reversed or
    removed does not pass it."""
    import whygym.train.ppo as ppo

    real = ppo.ppo_policy_loss

    def flipped(logp, old_logp, advantages, mask, clip):
        return real(logp, old_logp, -advantages, mask, clip)

    def removed(logp, old_logp, advantages, mask, clip):
        loss, stats = real(logp, old_logp, advantages, mask, clip)
        return loss * 0.0, stats

    monkeypatch.setattr(ppo, "ppo_policy_loss", flipped if broken == "advantage_sign_flipped" else removed)
    model, tok, log, _ = _toy_run(tmp_path, steps=40, lr=1e-3)
    ok, detail = _learns_yes(log, _p_yes(model, tok))
    print(broken, detail)
    assert not ok, detail


def _reward_by_prompt(completions, prompts=None, **_):
    """A reward the policy cannot change: 1 for prompts that start with a or b."""
    return [1.0 if str(p).startswith(("a", "b")) else 0.0 for p in prompts]


@pytest.mark.parametrize("vf_coef", [0.5, 0.0])
def test_critic_learns_a_reward_that_depends_on_the_prompt_only(tmp_path, vf_coef):
    """With the reward a function of the prompt, the return is known from the first token: a working
    critic explains most of its variance (measured 0.75-0.90 over the last 5 steps, both kernel sets,
    seeds 0-2) and its loss falls to under half; with ``vf_coef = 0`` (no critic update) it does not."""
    _, _, log, _ = _toy_run(tmp_path, steps=20, lr=5e-3, vf_coef=vf_coef, reward_fn=_reward_by_prompt)
    vloss = [r["value_loss"] for r in log]
    ev = float(np.mean([r["explained_variance"] for r in log[-5:]]))
    falls = np.mean(vloss[-5:]) < 0.6 * np.mean(vloss[:5])
    print("vf_coef", vf_coef, "explained variance last5", round(ev, 3), "value loss first5",
          round(float(np.mean(vloss[:5])), 4), "last5", round(float(np.mean(vloss[-5:])), 4))
    if vf_coef:
        assert ev > 0.5 and falls
    else:
        assert ev < 0.3 and not falls


def test_kl_penalty_holds_the_policy_near_the_regularised_optimum(tmp_path):
    """With reward R = [first token is "yes"] and per-token KL penalty beta, the optimum of
    E[R] - beta KL(pi || pi_ref) keeps later tokens at the reference and sets
    pi*(yes) = p e^(1/beta) / (p e^(1/beta) + 1 - p), p = pi_ref(yes | prompt): the mean reward must
    settle there (~0.45 for beta = 0.5 here), far below what the unpenalised run reaches (> 0.8).
    Measured over the last 20 of 40 steps (both kernel sets, seeds 0-3): 0.35-0.48; the band below is
    [optimum - 0.15, optimum + 0.1]."""
    model, tok = _toy_model_and_tokenizer()
    p = _p_yes(model, tok)
    beta = 0.5
    star = float(np.mean(p * math.exp(1 / beta) / (p * math.exp(1 / beta) + 1 - p)))
    _, _, log, _ = _toy_run(tmp_path, steps=40, lr=2e-3, kl_coef=beta)
    settled = float(np.mean([r["reward"] for r in log[-20:]]))
    print("beta", beta, "p_ref", round(float(p.mean()), 3), "optimum", round(star, 3), "reward last20",
          round(settled, 3))
    assert 0.3 < star < 0.6 and star - 0.15 < settled < star + 0.1
    assert all(r["kl_coef"] == beta for r in log)


def test_toy_tests_pass_under_other_cpu_kernels():
    """Seeded float trajectories differ between CPUs (AVX-512, AVX2, none): rerun the toy tests with
    torch's kernels pinned to the other capability levels this CPU offers, so a threshold that holds
    under one kernel set only fails here and not first on another machine."""
    import os
    import subprocess
    import sys

    current = torch.backends.cpu.get_cpu_capability().lower()
    levels = ["default"] + (["avx2"] if torch.cpu._is_avx2_supported() and current != "avx2" else [])
    for level in levels:
        env = dict(os.environ, ATEN_CPU_CAPABILITY=level)
        res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
                              "toy_task_policy_learns or critic_learns or kl_penalty_holds"],
                             env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"under ATEN_CPU_CAPABILITY={level}:\n{res.stdout[-3000:]}"


# ----------------------------------------------------------------------------------------------
# end to end with the rule-based reward: 2 steps, final/, resume

def _ate_rows(n=4):
    from whygym.tasks import generate

    return [{"prompt": [{"role": "user", "content": it.prompt}], "gold": json.dumps(it.gold), "task": it.task}
            for it in generate(["ATE"], n=n, seed=0)]


def test_train_ppo_real_reward_final_and_resume(tmp_path):
    from transformers import AutoModelForCausalLM

    from whygym.models import tiny_llama
    from whygym.scoring import combined_reward

    rows = _ate_rows()
    model, tok = tiny_llama(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = PPOConfig(model="unused", lr=1e-3, steps=2, batch_size=4, mini_batch_size=2, ppo_epochs=1,
                    max_new_tokens=8, max_prompt_length=200, save_steps=1, logging_steps=0, seed=0,
                    reward_weights={"format": 0.2, "accuracy": 0.4, "closeness": 0.4})
    seen = []

    def reward(completions, **cols):
        assert set(cols) >= {"gold", "task", "prompts"} and cols["task"] == ["ATE"] * len(completions)
        assert all(isinstance(c, list) and c[0]["role"] == "assistant" for c in completions)
        seen.append(len(completions))
        return combined_reward(cfg.reward_weights)(completions, **cols)

    s1 = train_ppo(cfg, tmp_path, model=model, tokenizer=tok, dataset=rows, reward_fn=reward)
    assert seen == [4, 4] and s1["steps_run"] == 2 and s1["start_step"] == 0
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "PPO changed no policy parameter"
    log = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]
    assert all(0.0 <= r["reward"] <= 1.0 and math.isfinite(r["policy_loss"]) for r in log)
    # the TRL methods' layout: OUT/checkpoints/checkpoint-N
    assert (tmp_path / "checkpoints" / "checkpoint-2" / "value_head.safetensors").is_file()
    assert (tmp_path / "checkpoints" / "checkpoint-2" / "optimizer.pt").is_file()
    assert json.loads((tmp_path / "train_summary.json").read_text())["steps_run"] == 2

    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "final")
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k

    # resume: a fresh copy of the initial model, more steps; continues from step 2
    model2, tok2 = tiny_llama(seed=0)
    cfg.steps = 3
    s2 = train_ppo(cfg, tmp_path, model=model2, tokenizer=tok2, dataset=rows, reward_fn=reward, resume=True)
    assert s2["start_step"] == 2 and s2["steps_run"] == 1 and s2["resumed_from"].endswith("checkpoint-2")
    log = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]
    ckpts = tmp_path / "checkpoints"
    assert (ckpts / "checkpoint-3").is_dir() and not (ckpts / "checkpoint-1").exists()  # keeps 2
    # the resumed model started from the step-2 weights, not from the initial ones
    assert any(not torch.equal(v, before[k]) for k, v in model2.state_dict().items())
    final_mtime = (tmp_path / "final" / "model.safetensors").stat().st_mtime_ns
    # called again with the steps already reached: nothing to run; the trained model given as the
    # "initial" one is noticed (it would become the KL reference)
    with pytest.warns(RuntimeWarning, match="differs from the initial model"):
        s3 = train_ppo(cfg, tmp_path, model=model2, tokenizer=tok2, dataset=rows, reward_fn=reward, resume=True)
    assert s3["steps_run"] == 0 and s3["start_step"] == 3
    assert (tmp_path / "final" / "model.safetensors").stat().st_mtime_ns == final_mtime


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    model, tok = _toy_model_and_tokenizer()
    rows = [{"prompt": p} for p in ["a b", "c d", "e f"]]
    cfg = PPOConfig(model="unused", lr=5e-3, steps=3, batch_size=4, mini_batch_size=2, ppo_epochs=2,
                    max_new_tokens=3, kl_coef=0.1, adaptive_kl=True, kl_horizon=10, save_steps=2, logging_steps=0,
                    seed=3)
    train_ppo(cfg, tmp_path / "straight", model=model, tokenizer=tok, dataset=rows, reward_fn=_starts_with_yes)
    straight = {k: v.clone() for k, v in model.state_dict().items()}

    cfg.steps = 2
    model, tok = _toy_model_and_tokenizer()
    train_ppo(cfg, tmp_path / "pieces", model=model, tokenizer=tok, dataset=rows, reward_fn=_starts_with_yes)
    cfg.steps = 3
    model, tok = _toy_model_and_tokenizer()
    s = train_ppo(cfg, tmp_path / "pieces", model=model, tokenizer=tok, dataset=rows, reward_fn=_starts_with_yes,
                  resume=True)
    assert s["start_step"] == 2
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, straight[k], rtol=0, atol=0, msg=k)
    a = [json.loads(x) for x in (tmp_path / "straight" / "train_log.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "pieces" / "train_log.jsonl").read_text().splitlines()]
    for ra, rb in zip(a, b, strict=True):
        timing = ("step_time_s", "wall_s")
        assert {k: v for k, v in ra.items() if k not in timing} == {k: v for k, v in rb.items() if k not in timing}
    assert a[-1]["kl_coef"] != 0.1  # the adaptive controller moved and was restored


def test_wall_clock_budget_stops_after_the_step_that_passes_it(tmp_path):
    model, tok = _toy_model_and_tokenizer()
    rows = [{"prompt": p} for p in ["a b", "c d", "e f"]]
    cfg = PPOConfig(model="unused", lr=5e-3, steps=50, batch_size=2, mini_batch_size=2, ppo_epochs=1,
                    max_new_tokens=3, save_steps=0, logging_steps=0, seed=0, minutes=1e-9)
    s = train_ppo(cfg, tmp_path, model=model, tokenizer=tok, dataset=rows, reward_fn=_starts_with_yes)
    # a budget already spent at the first step: that step runs, is saved, and the run stops
    assert s["stopped_by_budget"] and s["steps"] == 1 and s["steps_run"] == 1 and s["steps_target"] == 50
    assert s["mean_step_s"] > 0
    assert (tmp_path / "checkpoints" / "checkpoint-1" / "optimizer.pt").is_file() and (tmp_path / "final").is_dir()
    # no budget: the run goes to the target
    cfg.minutes, cfg.steps = 0.0, 2
    model, tok = _toy_model_and_tokenizer()
    s = train_ppo(cfg, tmp_path / "full", model=model, tokenizer=tok, dataset=rows, reward_fn=_starts_with_yes)
    assert not s["stopped_by_budget"] and s["steps"] == 2 and s["steps_run"] == 2
    with pytest.raises(ValueError, match="minutes >= 0"):
        PPOConfig(minutes=-1).validate()


def test_train_ppo_lora_merges_final(tmp_path):
    from transformers import AutoModelForCausalLM

    from whygym.models import tiny_llama

    rows = _ate_rows(2)
    model, tok = tiny_llama(seed=1)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = PPOConfig(model="unused", lr=1e-2, steps=2, batch_size=2, mini_batch_size=2, ppo_epochs=2,
                    max_new_tokens=6, max_prompt_length=200, save_steps=1, logging_steps=0, seed=0,
                    lora=True, lora_r=4, lora_alpha=8, lora_targets=["q_proj", "v_proj"])
    s = train_ppo(cfg, tmp_path, model=model, tokenizer=tok, dataset=rows,
                  reward_fn=lambda completions, **_: [0.0, 1.0])
    assert s["steps_run"] == 2
    assert (tmp_path / "checkpoints" / "checkpoint-2" / "policy" / "adapter_model.safetensors").is_file()
    final = AutoModelForCausalLM.from_pretrained(tmp_path / "final")
    sd = final.state_dict()
    assert set(sd) == set(base)  # merged: plain llama keys, no lora_ keys
    assert not torch.equal(sd["model.layers.0.self_attn.q_proj.weight"], base["model.layers.0.self_attn.q_proj.weight"])
    assert torch.equal(sd["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"])


def test_rollout_with_the_calculator_leaves_its_tokens_out_of_the_policy_loss(memorised):
    """PPO rollouts with ``tools='calculator'``: the completion holds the calculator's value (the policy had
    memorised a wrong one), and exactly the inserted tokens are missing from the action mask."""
    from whygym.train.ppo import PolicyWithValue, ValueHead, _hidden_size, rollout

    model, tok = memorised
    cfg = PPOConfig(model="unused", batch_size=2, mini_batch_size=2, max_new_tokens=40, temperature=0.3,
                    tools="calculator")
    wrapped = PolicyWithValue(model, ValueHead(_hidden_size(model)))
    rows = [{"prompt": [{"role": "user", "content": "ATE?"}], "gold": "{}"}] * 2
    ro = rollout(wrapped, model, tok, rows, lambda completions, **_: [0.0] * len(completions), cfg, "cpu")
    inserted = tok("-0.0751>>", add_special_tokens=False)["input_ids"]
    for r, text in enumerate(ro.texts):
        assert "<<0.8315-0.9066=-0.0751>>" in text, text
        holes = ((ro.mask[r] == 1) & (ro.action_mask[r] == 0)).nonzero().squeeze(-1).tolist()
        assert len(holes) == len(inserted)
        P = ro.input_ids.shape[1] - ro.mask.shape[1]
        assert ro.input_ids[r, P + holes[0]:P + holes[-1] + 1].tolist() == inserted
    with pytest.raises(ValueError, match="tools"):
        PPOConfig(tools="abacus").validate()

"""Layer attribution on a tiny Llama: shapes, hooks removed, weights unchanged, patching semantics."""

from types import SimpleNamespace

import pytest
import torch

from whygym.attribution.layers import (component_modules, gold_logprob, intervene_module, layer_attribution,
                                       lora_targets_for, module_means)
from whygym.models import tiny_llama

ITEMS = [SimpleNamespace(prompt="does A cause B ?", answer="yes"),
         SimpleNamespace(prompt="is X a cause of Y ? answer yes or no", answer="no the answer is no")]
CFS = [SimpleNamespace(prompt="does C cause B ?", answer="yes"),
       SimpleNamespace(prompt="what is the effect of Y on Z", answer="no the answer is no")]


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(seed=1, num_layers=3)


def test_shapes_hooks_and_weights(tiny):
    model, tok = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks_before = _hook_count(model)
    res = layer_attribution(model, tok, ITEMS, counterfactuals=CFS, n_boot=50)
    assert _hook_count(model) == hooks_before == 0
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert res["modules"] == [f"model.layers.{i}.{k}" for i in range(3) for k in ("self_attn", "mlp")]
    assert len(res["rows"]) == 6
    for row in res["rows"]:
        for m in ("mean_ablation", "patching"):
            assert len(row[m]["per_item"]) == len(ITEMS)
            assert row[m]["low"] <= row[m]["point"] <= row[m]["high"]
    assert sorted(res["ranking"]["patching"]) == sorted(res["modules"])
    assert len(res["baseline"]["clean_logp"]) == len(ITEMS)


def test_hooks_removed_on_error(tiny):
    model, tok = tiny
    mod = component_modules(model)["model.layers.0.mlp"]
    with pytest.raises(RuntimeError):
        intervene_module(model, mod, [1, 2, 3], 1, value=torch.zeros(7))  # wrong hidden size
    assert _hook_count(model) == 0


def test_self_patching_is_a_no_op(tiny):
    model, tok = tiny
    res = layer_attribution(model, tok, ITEMS, counterfactuals=ITEMS, methods=["patching"], n_boot=20)
    for row in res["rows"]:
        assert max(abs(x) for x in row["patching"]["per_item"]) < 1e-4


def test_module_means_shape_and_mean_ablation_changes_output(tiny):
    model, tok = tiny
    means = module_means(model, tok, [it.prompt for it in ITEMS])
    assert all(v.shape == (model.config.hidden_size,) for v in means.values())
    base = gold_logprob(model, tok, ITEMS[0].prompt, ITEMS[0].answer)
    res = layer_attribution(model, tok, ITEMS[:1], methods=["mean_ablation"], n_boot=10)
    assert any(abs(r["mean_ablation"]["point"]) > 1e-4 for r in res["rows"])
    assert res["baseline"]["clean_logp"][0] == pytest.approx(base)


def test_gold_logprob_matches_backend(tiny):
    from whygym.models import TransformersBackend

    model, tok = tiny
    be = TransformersBackend(model, tok, batch_size=2)
    want = be.loglikelihood([it.prompt for it in ITEMS], [it.answer for it in ITEMS])
    got = [gold_logprob(model, tok, it.prompt, it.answer) for it in ITEMS]
    assert got == pytest.approx(want, abs=1e-4)


def test_lora_target_names_exist(tiny):
    model, _ = tiny
    names = dict(model.named_modules())
    for m in component_modules(model):
        for t in lora_targets_for(m):
            assert isinstance(names[t], torch.nn.Linear)


def test_bf16_autocast_option(tiny, monkeypatch):
    from whygym.attribution import layers

    # the bf16 code path on any CPU (emulated bf16 is slow, but the model is tiny); the decision to fall
    # back where bf16 is not native is tested in tests/models/test_precision.py
    monkeypatch.setenv("WHYGYM_BF16", "force")
    model, tok = tiny
    res = layer_attribution(model, tok, ITEMS[:1], counterfactuals=CFS[:1], n_boot=10, bf16=True)
    assert res["precision"] == "bf16-autocast" and layers._AUTOCAST["on"] is False
    assert _hook_count(model) == 0
    assert all(row["patching"]["n"] == 1 for row in res["rows"])

"""Precision fine-tuning plan: mix weighted toward the weak component, LoRA targets from top layers."""

import pytest

from whygym.attribution.precision import (GOLD_PRESERVING, build_precision_dataset, plan_from_attribution,
                                          precision_overrides)
from whygym.attribution.scripted import visible_components


def _doc(cond, layers=None, metric="correct"):
    res = {metric: {"conditional": {c: {"point": v, "low": v, "high": v} for c, v in cond.items()}}}
    d = {"kind": "prompt", "results": res, "tasks": ["ATE", "NDE"], "model": {"name": "m"}}
    if layers:
        d["layers"] = layers
    return d


def _share(plan, comp, level):
    return sum(e["weight"] for e in plan["mix"] if e["intervene"][comp] == level)


def test_weak_data_use_gets_more_knowledge_removed_items():
    knows = plan_from_attribution(_doc({"names": 0.6, "data": 0.0}))
    uses_data = plan_from_attribution(_doc({"names": 0.0, "data": 0.6}))
    fake_k = _share(knows, "names", "fake") + _share(knows, "names", "anticommonsense")
    fake_d = _share(uses_data, "names", "fake") + _share(uses_data, "names", "anticommonsense")
    assert fake_k > 0.8 and fake_d < 0.2
    assert sum(e["weight"] for e in knows["mix"]) == pytest.approx(1.0)


def test_instruction_reliance_gets_more_omitted_items():
    hi = plan_from_attribution(_doc({"names": 0.1, "data": 0.1, "instruction": 0.5}))
    lo = plan_from_attribution(_doc({"names": 0.1, "data": 0.1, "instruction": 0.0}))
    assert _share(hi, "instruction", "omitted") > 0.5 > _share(lo, "instruction", "omitted")


def test_mix_only_gold_preserving_levels():
    plan = plan_from_attribution(_doc({"names": 0.3, "data": -0.1, "graph": 0.2, "instruction": 0.2}))
    for e in plan["mix"]:
        for c, lvl in e["intervene"].items():
            assert lvl in GOLD_PRESERVING[c]
    bad = dict(plan, mix=[{"weight": 1.0, "intervene": {"names": "real", "data": "withheld", "graph": "present",
                                                        "instruction": "present"}}])
    with pytest.raises(ValueError, match="gold"):
        build_precision_dataset(bad, 2, 0)


def test_lora_targets_from_top_layers():
    rows = [{"module": f"model.layers.{i}.{k}", "patching": {"point": p}}
            for i, (k, p) in enumerate([("mlp", -0.1), ("self_attn", -2.0), ("mlp", 1.5), ("self_attn", 0.01)])]
    plan = plan_from_attribution(_doc({"names": 0.2, "data": 0.1}, layers={"rows": rows}), top_k=2)
    assert plan["lora"]["modules"] == ["model.layers.1.self_attn", "model.layers.2.mlp"]
    assert "model.layers.2.mlp.down_proj" in plan["lora"]["target_modules"]
    assert "model.layers.1.self_attn.o_proj" in plan["lora"]["target_modules"]
    ov = precision_overrides(plan)
    assert ov["lora"] is True and ov["lora_targets"] == plan["lora"]["target_modules"]
    assert plan_from_attribution(_doc({"names": 0.2}))["lora"]["target_modules"] is None


def test_loglik_fallback_when_accuracy_is_flat():
    d = _doc({"names": 0.0, "data": 0.0})
    d["results"]["label"] = {"conditional": {"names": {"point": 0.1, "low": 0.0, "high": 0.3}}}  # not significant
    d["results"]["loglik"] = {"conditional": {"names": {"point": 3.0, "low": 2.0, "high": 4.0},
                                              "data": {"point": 0.2, "low": -0.1, "high": 0.5}}}
    plan = plan_from_attribution(d)
    assert plan["signals"]["metric"] == "loglik"
    assert plan["signals"]["knowledge_removed_share"] > 0.8


def test_build_dataset_follows_plan():
    plan = plan_from_attribution(_doc({"names": 0.6, "data": 0.0, "instruction": 0.5}))
    items = build_precision_dataset(plan, 40, seed=3)
    assert len(items) == 40 and len({it.id for it in items}) == 40
    assert {it.task for it in items} == {"ATE", "NDE"}
    assert items == build_precision_dataset(plan, 40, seed=3)  # deterministic
    no_names = sum("names" not in visible_components(it.prompt) for it in items)
    anti = sum(it.meta["precision"]["names"] == "anticommonsense" for it in items)
    assert no_names + anti >= 25  # ~88% knowledge-removed (fake or anticommonsense)
    for it in items:
        vis = visible_components(it.prompt)
        assert "data" in vis and "graph" in vis
        assert ("instruction" in vis) == (it.meta["precision"]["instruction"] == "present")


def test_plan_reads_files(tmp_path):
    import json

    (tmp_path / "attribution.json").write_text(json.dumps(_doc({"names": 0.1, "data": 0.2})))
    assert plan_from_attribution(tmp_path)["generator"]["tasks"] == ["ATE", "NDE"]
    with pytest.raises(FileNotFoundError):
        plan_from_attribution(tmp_path / "nope.json")


def test_precision_train_items_drops_heldout_overlap():
    from whygym.attribution.precision import precision_train_items

    doc = _doc({"names": 0.5, "data": 0.0})
    items, plan = precision_train_items(doc, ["ATE"], 6, seed=0)
    assert len(items) == 6 and plan["generator"]["tasks"] == ["ATE"]
    kept, _ = precision_train_items(doc, ["ATE"], 6, seed=0, heldout=items[:2])
    assert len(kept) <= 4

"""The real default model (SmolLM2-135M-Instruct, converted from the shipped GGUF) on a handful of items:
the whole path runs, the numbers are consistent, and a rerun is served from the cache with identical files."""

import json

import pytest

from whygym.eval import EvalConfig, run_eval


@pytest.mark.slow
def test_default_model_few_items_and_cached_rerun(tmp_path):
    cfg = EvalConfig(model="default", benchmarks=["caugym:base"], out=str(tmp_path), limit=3, max_new_tokens=16,
                     batch_size=3)
    doc = run_eval(cfg, progress=False, echo=None)
    o = doc["results"]["overall"]
    assert o["n"] == 3 and o["correct"] + o["wrong"] + o["unparsed"] == 3
    assert doc["model"]["config"]["backend"] == "transformers" and doc["model"]["config"]["precision"] == "float32"
    assert doc["run"]["samples_generated"] == 3
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert all(0 < s["tokens"]["completion"] <= 16 and s["tokens"]["prompt"] > 100 for s in samples)
    assert o["completion_tokens"] == sum(s["tokens"]["completion"] for s in samples)
    first = (tmp_path / "samples.jsonl").read_bytes()

    again = run_eval(cfg, progress=False, echo=None)
    assert again["run"]["samples_generated"] == 0 and again["run"]["samples_from_cache"] == 3
    assert (tmp_path / "samples.jsonl").read_bytes() == first
    assert again["results"] == doc["results"]

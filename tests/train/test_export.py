"""verl parquet and OpenRLHF JSONL exports round-trip; the reward adapters score golden outputs."""

import json

import pyarrow.parquet as pq
import pytest
import torch

from whygym.tasks import generate
from whygym.train import export as ex


@pytest.fixture(scope="module")
def items():
    return list(generate(["ATE", "PN"], n=3, seed=5))


def test_verl_parquet_round_trip(items, tmp_path):
    path = tmp_path / "train.parquet"
    assert ex.write_verl(items, path) == len(items)
    rows = pq.read_table(path).to_pylist()
    assert len(rows) == len(items)
    for r, it in zip(rows, items):
        assert set(r) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
        assert r["data_source"] == "whygym"
        assert r["prompt"] == [{"role": "user", "content": it.prompt}]
        assert r["reward_model"]["style"] == "rule"
        assert json.loads(r["reward_model"]["ground_truth"]) == it.gold
        assert r["extra_info"]["task"] == it.task and r["extra_info"]["id"] == it.id
        # the adapter on this row: the canonical answer is right, the format example from the prompt is not
        assert ex.compute_score(r["data_source"], it.answer, r["reward_model"]["ground_truth"], r["extra_info"]) == 1.0
        assert ex.compute_score(r["data_source"], "no idea", r["reward_model"]["ground_truth"], r["extra_info"]) == 0.0


def test_openrlhf_jsonl_and_reward_func(items, tmp_path):
    path = tmp_path / "train.jsonl"
    assert ex.write_openrlhf(items, path) == len(items)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert all({"input", "label"} <= set(r) for r in rows)
    prompts = [f"<|im_start|>user\n{r['input'][0]['content']}<|im_end|>\n<|im_start|>assistant\n" for r in rows]
    answers = [it.answer for it in items]
    queries = [p + a + "<|im_end|>" for p, a in zip(prompts, answers)]
    r = ex.reward_func(queries, prompts, [row["label"] for row in rows])
    assert isinstance(r, torch.Tensor) and r.dtype == torch.float32 and r.shape == (len(items),)
    assert torch.all(r == 1.0)
    # an empty response scores 0 even though the prompt shows an example answer JSON
    r0 = ex.reward_func(prompts, prompts, [row["label"] for row in rows])
    assert torch.all(r0 == 0.0)
    # a prompt that is not a prefix of the query: the response is what follows the last assistant marker
    r1 = ex.reward_func([queries[0]], ["(rendered differently)"], [rows[0]["label"]])
    assert r1.tolist() == [1.0]


def test_wrong_answer_gets_partial_or_no_credit(items):
    it = next(i for i in items if i.task == "ATE" and not i.meta["structural_zero"])
    wrong = json.dumps({"ANSWER": "No" if it.gold["label"] == "yes" else "Yes", "PROB": "0.9999"})
    s = ex.compute_score("whygym", wrong, json.dumps(it.gold), {"task": "ATE"})
    assert 0.0 <= s < 0.5


def test_export_cli(tmp_path):
    from whygym.cli import main

    out = tmp_path / "x.parquet"
    assert main(["train", "export", "--format", "verl", "--out", str(out), "--n_train", "2",
                 "--tasks", "[ATE]", "--heldout_n", "2"]) == 0
    assert pq.read_table(out).num_rows == 2
    out = tmp_path / "x.jsonl"
    assert main(["train", "export", "--format", "openrlhf", "--out", str(out), "--n_train", "2",
                 "--tasks", "[PS]"]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert main(["train", "export", "--format", "trlx", "--out", str(out)]) == 2

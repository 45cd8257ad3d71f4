"""End to end on a scripted model with known answers: counts, accuracy, Wilson intervals, parse failures,
and the match modes (strict vs caugym vs calm) where they must differ."""

import json
import math

import pytest

from whygym.eval import EvalConfig, format_table, load_items, run_eval
from whygym.items import Item, write_jsonl
from whygym.models import MockBackend


def wilson(k, n, z=1.959963984540054):
    # Written out again here on purpose: the test must not reuse the code it checks.
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (0.0 if k == 0 else c - h), (1.0 if k == n else c + h)


# 10 hand-made items, ATE (prob + yes/no label) and PN (prob only) interleaved, golds on and off the 4-dp grid.
GOLDS = [0.12344, 0.5, -0.0843, 0.29953917, 0.1, 0.0, 0.61117, 0.25, -0.30006, 0.77771]
SPEC = None  # set by the items fixture: the path of the items file (a path is a valid --benchmark)


def _edge_pred(g):
    """A prediction within 5e-5 of ``g`` that rounds to another 4-dp value (None if ``g`` sits on the grid)."""
    r = round(g, 4)
    d = abs(g - r)
    if d < 2e-6:
        return None
    eps = min(1e-6, d / 2)
    pred = r + 5e-5 + eps if g > r else r - 5e-5 - eps
    assert abs(pred - g) < 5e-5 and round(pred, 4) != round(g, 4)
    return pred


def _script(items):
    """Answer text per prompt and the outcome each mode must give: (text, strict, caugym, calm)."""
    kinds = ["exact", "exact", "off3e-4", "think", "unparsed", "wrong", "exact", "off3e-4", "exact", "exact"]
    # One item, off the 4-dp grid, gets the rounding-edge answer (strict and caugym: correct; calm: wrong).
    edge = max(i for i, it in enumerate(items) if kinds[i] == "exact" and _edge_pred(it.gold["prob"]) is not None)
    kinds[edge] = "round-edge"
    plan = {}
    for it, kind in zip(items, kinds):
        g = it.gold["prob"]
        lab = {"yes": "Yes", "no": "No"}.get(it.gold.get("label"), "Yes")
        if kind == "exact":
            t = json.dumps({"ANSWER": lab, "PROB": f"{g:.4f}"})
            plan[it.prompt] = (t, "correct", "correct", "correct")
        elif kind == "off3e-4":  # within CauGym's 5e-4, outside strict's 5e-5
            t = json.dumps({"ANSWER": lab, "PROB": f"{g + 3e-4:.4f}"})
            plan[it.prompt] = (t, "wrong", "correct", "wrong")
        elif kind == "think":  # the right number only inside <think>, a wrong final answer
            t = "<think>" + json.dumps({"PROB": f"{g:.4f}"}) + "</think>" + json.dumps({"ANSWER": lab, "PROB": "0.9999"})
            plan[it.prompt] = (t, "wrong", "correct", "wrong")
        elif kind == "unparsed":
            plan[it.prompt] = ("I am not sure.", "unparsed", "unparsed", "unparsed")
        elif kind == "wrong":
            plan[it.prompt] = (json.dumps({"ANSWER": lab, "PROB": f"{g + 0.2:.4f}"}), "wrong", "wrong", "wrong")
        else:  # round-edge
            t = json.dumps({"ANSWER": lab, "PROB": repr(_edge_pred(g))})
            plan[it.prompt] = (t, "correct", "correct", "wrong")
    return plan


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    global SPEC
    made = []
    for i, g in enumerate(GOLDS):
        task = "ATE" if i % 2 == 0 else "PN"
        gold = {"prob": g, "label": "yes" if g > 0 else "no"} if task == "ATE" else {"prob": g}
        made.append(Item(id=f"k{i}", task=task, rung=2, prompt=f"Question {i}: what is the {task}?", answer="",
                         gold=gold))
    path = tmp_path_factory.mktemp("known") / "items.jsonl"
    write_jsonl(made, path)
    SPEC = str(path)
    return load_items(SPEC)


@pytest.mark.parametrize("mode, col", [("strict", 1), ("caugym", 2), ("calm", 3)])
def test_counts_intervals_and_modes(tmp_path, items, mode, col):
    plan = _script(items)
    be = MockBackend({p: v[0] for p, v in plan.items()}, name="scripted-known")
    doc = run_eval(EvalConfig(model="mock:scripted-known", benchmarks=[SPEC], out=str(tmp_path), match=mode),
                   backend=be, progress=False, echo=None)
    want = [plan[it.prompt][col] for it in items]
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [s["outcome"] for s in samples] == want
    assert [s["id"] for s in samples] == [it.id for it in items]
    assert all(s["prompt"] == it.prompt and s["output"] == plan[it.prompt][0] for s, it in zip(samples, items))

    o = doc["results"]["benchmarks"][SPEC]["overall"]
    k, n, u = want.count("correct"), len(want), want.count("unparsed")
    assert (o["n"], o["correct"], o["wrong"], o["unparsed"]) == (n, k, n - k - u, u)
    assert o["accuracy"] == pytest.approx(k / n) and o["parse_fail_rate"] == pytest.approx(u / n)
    assert (o["ci_low"], o["ci_high"]) == pytest.approx(wilson(k, n))
    assert o["pass@1"] == o["accuracy"]
    for task in ("ATE", "PN"):
        t = doc["results"]["benchmarks"][SPEC]["tasks"][task]
        tw = [w for w, it in zip(want, items) if it.task == task]
        kt = tw.count("correct")
        assert (t["n"], t["correct"]) == (len(tw), kt)
        assert (t["ci_low"], t["ci_high"]) == pytest.approx(wilson(kt, len(tw)))
    # Label accuracy only where gold has a label (ATE): all scripted labels are the gold label except the
    # unparsed one (no answer: counted as a wrong label).
    ate = [(it, plan[it.prompt][0]) for it in items if it.task == "ATE"]
    assert o["label_n"] == len(ate)
    assert o["label_correct"] == sum(1 for it, txt in ate if txt != "I am not sure.")
    assert doc["results"]["overall"]["correct"] == k
    # The same accuracy over the items whose gold is not 0 at 4 decimals (GOLDS has one 0.0 item).
    nz = [w for w, g in zip(want, GOLDS) if abs(g) >= 5e-5]
    assert len(nz) == n - 1
    z = o["gold_nonzero"]
    assert (z["n"], z["correct"]) == (len(nz), nz.count("correct"))
    assert z["accuracy"] == pytest.approx(nz.count("correct") / len(nz))
    assert (z["ci_low"], z["ci_high"]) == pytest.approx(wilson(nz.count("correct"), len(nz)))
    assert "acc% gold!=0" in format_table(doc).splitlines()[1]  # the column is printed
    assert f"({nz.count('correct')}/{len(nz)})" in format_table(doc)


def test_expected_mode_differences(items):
    plan = _script(items)
    strict = [v[1] for v in plan.values()]
    caugym = [v[2] for v in plan.values()]
    calm = [v[3] for v in plan.values()]
    # The script is built so each mode counts differently: 5 / 8 / 4 correct of 10.
    assert (strict.count("correct"), caugym.count("correct"), calm.count("correct")) == (5, 8, 4)


def test_samples_scored_each_and_pass_at_k(tmp_path, items):
    g0 = items[0]

    def respond(prompt, sample_index=0):
        it = next(i for i in items if i.prompt == prompt)
        good = json.dumps({"PROB": f"{it.gold['prob']:.4f}"})
        bad = json.dumps({"PROB": "0.9999"}) if sample_index != 2 else "??"
        # item 0: samples 0 and 1 right; others: only sample 1 right for ATE items
        if it is g0:
            return good if sample_index in (0, 1) else bad
        return good if (it.task == "ATE" and sample_index == 1) else bad

    be = MockBackend(respond, name="scripted-samples")
    doc = run_eval(EvalConfig(model="mock:scripted-samples", benchmarks=[SPEC], out=str(tmp_path), samples=3,
                              temperature=0.8), backend=be, progress=False, echo=None)
    o = doc["results"]["overall"]
    n_ate = sum(it.task == "ATE" for it in items)
    correct = 1 + n_ate  # item 0 (ATE) has 2 right, the other ATE items 1 each
    assert o["n"] == 30 and o["n_items"] == 10 and o["correct"] == correct
    assert o["pass@1"] == pytest.approx(correct / 30)
    assert o["per_sample_accuracy"] == pytest.approx([1 / 10, n_ate / 10, 0.0])
    assert sum(o["per_sample_accuracy"]) / 3 == pytest.approx(o["pass@1"])
    assert o["pass@3"] == pytest.approx(n_ate / 10)
    assert o["unparsed"] == 10  # sample 2 is "??" everywhere
    assert doc["config"]["temperature"] == 0.8
    lines = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 30 and [json.loads(x)["sample"] for x in lines[:3]] == [0, 1, 2]

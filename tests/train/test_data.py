"""Data builders: SFT targets end with the gold answer, DPO/KTO rejected answers are wrong and labelled,
the KTO ratio holds, and training items never share a graph and question with the held-out test items."""

import json
import re
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whygym.scoring import extract, score
from whygym.tasks import generate
from whygym.tasks.dedup import find_overlap
from whygym.train import data

TASKS = ["ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS"]


@pytest.fixture(scope="module")
def items():
    return list(generate(TASKS, n=8, seed=11))


@pytest.mark.parametrize("style", ["calm", "spelled", "named", "answer"])
def test_sft_target_ends_with_gold_answer(items, style):
    rows = data.sft_rows(items, style)
    assert len(rows) == len(items)
    for row, it in zip(rows, items):
        assert row["prompt"] == [{"role": "user", "content": it.prompt}]
        text = row["completion"][0]["content"]
        assert row["completion"][0]["role"] == "assistant"
        assert text.splitlines()[-1] == it.answer
        assert score(text, it.gold).correct
        assert json.loads(row["gold"]) == it.gold and row["task"] == it.task


def test_spelled_arithmetic_reaches_the_stated_results(items):
    """Every worked expression ends with the value the engine's step states (and the last one is the answer)."""
    checked = 0
    for it in items:
        text = data.render_target(it.reason, it.answer, "spelled")
        lines = text.splitlines()
        for k, line in enumerate(lines):
            if line.startswith("rounded to 4 decimals: "):
                # the nearest step line above states EXPR=RESULT
                src = next(x for x in reversed(lines[:k]) if not x.startswith("Work: ") and "=" in x
                           and not x[:1].isdigit() and not x.startswith(("-", "(", "min", "max")))
                assert line.split(": ")[1] in src.replace("=", " = ").split(" = ")[-1] or \
                    line.split(": ")[1] in src, (line, src)
                checked += 1
        if not it.meta["structural_zero"] and it.task in ("ATE", "NDE", "NIE"):
            rounded = [x for x in lines if x.startswith("rounded to 4 decimals: ")]
            assert rounded and float(rounded[-1].split(": ")[1]) == float(extract(it.answer).final.prob)
    assert checked > 10


def test_dpo_rejected_is_wrong_and_labelled(items):
    rep = data.DataReport()
    rows = data.dpo_rows(items, report=rep)
    assert rows and rep.rows == len(rows) and rep.skipped + len(rows) == len(items)
    by_id = {it.id: it for it in items}
    for r in rows:
        it = by_id[r["id"]]
        chosen, rejected = r["chosen"][0]["content"], r["rejected"][0]["content"]
        assert chosen != rejected
        assert score(chosen, it.gold).outcome == "correct"
        assert score(rejected, it.gold).outcome == "wrong"
        assert r["error_type"] in data.ERROR_TYPES
    assert set(rep.error_types) == set(data.ERROR_TYPES), rep.error_types  # every kind occurs on 56 items


@pytest.mark.parametrize("error", data.ERROR_TYPES)
def test_each_error_type_scores_wrong(items, error):
    made = 0
    for it in items:
        got = data.rejected_derivation(it, error, random.Random(0))
        if got is None:
            continue
        made += 1
        steps, answer = got
        text = data.render_target(steps, answer)
        assert score(text, it.gold).outcome == "wrong"
        assert steps != it.reason
    assert made >= 3


def test_policy_sample_becomes_rejected(items, tmp_path):
    it = next(i for i in items if i.task == "ATE" and not i.meta["structural_zero"])
    p = tmp_path / "samples.jsonl"
    p.write_text(json.dumps({"id": it.id, "completion": it.answer}) + "\n"  # right: not used
                 + json.dumps({"id": it.id, "completion": '{"ANSWER": "Yes", "PROB": "0.9999"}'}) + "\n")
    rows = data.dpo_rows([it], policy_samples=data.read_policy_samples(str(p)))
    assert rows[0]["error_type"] == "policy_sample"
    assert rows[0]["rejected"][0]["content"] == '{"ANSWER": "Yes", "PROB": "0.9999"}'


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5])
def test_kto_ratio_honoured(items, ratio):
    rows = data.kto_rows(items, desirable_ratio=ratio)
    des = sum(r["label"] for r in rows)
    und = len(rows) - des
    assert und > 0 and des == round(und * ratio)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))  # an item never appears with both labels
    by_id = {it.id: it for it in items}
    for r in rows:
        want = "correct" if r["label"] else "wrong"
        assert score(r["completion"][0]["content"], by_id[r["id"]].gold).outcome == want


def test_rl_rows_carry_gold_and_task(items):
    rows = data.rl_rows(items)
    assert set(rows[0]) == {"id", "task", "gold", "prompt", "reason", "given", "names", "values"}  # the process reward reads these
    assert all(isinstance(r["gold"], str) and json.loads(r["gold"]) for r in rows)


def test_train_items_drop_heldout_overlap():
    test = data.heldout_items(TASKS, 5, seed=1000)
    # the same seed gives the same graphs and questions: everything overlaps and is dropped
    rep = data.DataReport()
    assert data.train_items(TASKS, 5, seed=1000, heldout=test, report=rep) == []
    assert rep.dropped_overlap == rep.generated == 35
    # another seed: whatever collides is dropped, the rest is disjoint
    rep = data.DataReport()
    train = data.train_items(TASKS, 60, seed=1, heldout=test, report=rep)
    assert len(train) == rep.generated - rep.dropped_overlap
    assert find_overlap(train, test) == [] and find_overlap(test, train) == []


def test_build_dataset_reports_overlap_drops():
    from whygym.train.config import SFTArgs, load_config
    from whygym.train.trainers import build_dataset

    cfg = load_config(SFTArgs, None, {"n_train": 40, "tasks": ["ATE"], "heldout_n": 40, "train_seed": 1000,
                                      "heldout_seed": 1000})
    with pytest.raises(Exception, match="no training rows"):
        build_dataset(cfg)
    cfg = load_config(SFTArgs, None, {"n_train": 40, "tasks": ["CDE"], "heldout_n": 40})
    rows, rep = build_dataset(cfg)
    assert rep["generated"] == 40 and rep["rows"] == len(rows) == 40 - rep["dropped_overlap"]


def test_calculator_style_agrees_with_the_tool_and_the_gold():
    """Every computation of a calculator target is a call whose value is the tool's, the target's answer is
    strict-correct, and items with a non-zero gold compute (the path check stays the first step)."""
    from whygym.models.tools import fill_calls
    from whygym.scoring import score
    from whygym.tasks import generate
    from whygym.train.data import sft_rows

    items = list(generate(["ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS"], n=25, seed=3))
    for it in items:
        text = sft_rows([it], style="calculator")[0]["completion"][0]["content"]
        assert fill_calls(text) == text, text
        assert score(text, it.gold).outcome == "correct", text
        assert text.startswith("Step 1: ")
        if not it.meta.get("structural_zero") and it.gold.get("prob"):
            assert "<<" in text and ">>" in text, text
            calc = text.split("<<")[1].split("=")[0]
            assert not any(c.isalpha() for c in calc.replace("min", "").replace("max", "")), calc  # numbers only
        # the calm text is the same derivation: taking the calls out of the calculator text gives it back
        # up to the recomputed values
        calm = sft_rows([it], style="calm")[0]["completion"][0]["content"]
        assert text.count("Step ") == calm.count("Step ")
        # the named style is the same text with the variables' names in place of the letters
        from whygym.items import with_letters

        named = sft_rows([it], style="named")[0]["completion"][0]["content"]
        assert fill_calls(named) == named and score(named, it.gold).outcome == "correct"
        assert with_letters(named, it.graph["names"]) == text and named != text
        # the worded style is the named text with each value's word in place of its 0/1
        from whygym.items import value_words, with_value_numbers

        worded = sft_rows([it], style="worded")[0]["completion"][0]["content"]
        assert fill_calls(worded) == worded and score(worded, it.gold).outcome == "correct"
        assert with_value_numbers(worded, it.graph["names"], value_words(it.graph)) == named


# ------------------------------------------------------------------------------------------ suites in the mix
def test_suite_mix_rows_are_right_answers():
    """Suite items join the SFT rows; every target (a LACK_CONDITION one included) scores correct against its
    gold, a LACK_CONDITION target stops where the withheld number is needed, and the others verify step by
    step in the worded style."""
    from whygym.scoring import score, verify
    from whygym.train.config import SFTArgs
    from whygym.train.data import lack_target, suite_items
    from whygym.train.trainers import build_dataset

    mix = {"insufficient": 0.5, "rephrased": 0.25}
    cfg = SFTArgs(tasks=["ATE", "NIE", "PN"], n_train=8, heldout_n=2, nodes=[3, 5], derivation="worded",
                  suite_mix=mix)
    rows, rep = build_dataset(cfg, "sft")
    items = suite_items(mix, cfg.tasks, cfg.n_train, cfg.train_seed + 100)
    assert len(items) == 3 * (4 + 2) and any("suite insufficient" in n for n in rep["notes"])
    by_id = {r["id"]: r for r in rows}
    lack = 0
    for it in items:
        if it.id not in by_id:  # dropped for held-out overlap
            continue
        text = by_id[it.id]["completion"][0]["content"]
        assert score(text, it.gold).outcome == "correct", (it.id, text)
        if it.gold.get("label") == "LACK_CONDITION":
            lack += 1
            steps, answer = lack_target(it)
            assert answer == "LACK_CONDITION" and "is not stated" in list(steps.values())[-1]
            assert not re.search(re.escape(it.meta["withheld"]) + r"=\d", " ".join(steps.values()))
        else:
            assert verify(text, it).correct, (it.id, text)
    assert lack > 0


def test_suite_mix_settings_are_checked(tmp_path):
    from whygym.errors import UserError
    from whygym.train.config import DPOArgs, SFTArgs
    from whygym.train.trainers import build_dataset

    with pytest.raises(UserError, match="did you mean insufficient"):
        SFTArgs(suite_mix={"insuficient": 0.1}).validate()
    with pytest.raises(UserError, match="in \\[0, 1\\]"):
        SFTArgs(suite_mix={"rephrased": 2}).validate()
    with pytest.raises(UserError, match="suite_mix is for SFT"):
        build_dataset(DPOArgs(tasks=["ATE"], n_train=2, heldout_n=0, suite_mix={"rephrased": 0.5}), "dpo")


def test_lack_rows_get_no_process_reward():
    from whygym.scoring import process_reward
    from whygym.train.data import rl_rows, suite_items

    items = [it for it in suite_items({"insufficient": 1.0}, ["ATE"], 6, seed=4)]
    rows = rl_rows(items)
    cols = {k: [r[k] for r in rows] for k in ("reason", "gold", "task", "given", "names", "values")}
    got = process_reward()(["LACK_CONDITION"] * len(rows), **cols)
    for it, g in zip(items, got):
        assert (g is None) == (it.gold.get("label") == "LACK_CONDITION")


@st.composite
def _dags(draw):
    n = draw(st.integers(2, 7))
    letters = "ABCDEFG"[:n]
    edges = [(letters[i], letters[j]) for i in range(n) for j in range(i + 1, n) if draw(st.booleans())]
    order = draw(st.permutations(letters))  # letters not in topological order
    rename = dict(zip(letters, order))
    return [(rename[u], rename[v]) for u, v in edges], draw(st.sampled_from(order)), draw(st.sampled_from(order))


@settings(max_examples=200, deadline=None)
@given(_dags())
def test_reach_listing_is_the_graph_search(case):
    """Against networkx: the listed edges are the graph's, they reach exactly the nodes reachable from the
    source without passing the stop node, and the stop node is listed iff a directed path reaches it."""
    edges, source, stop = case
    g = nx.DiGraph(edges)
    g.add_nodes_from([source, stop])
    listed = data.reach_edges(edges, source, stop=stop)
    assert set(listed) <= set(edges) and len(set(listed)) == len(listed)
    cut = g.copy()
    cut.remove_edges_from(list(g.out_edges(stop)))
    reached = nx.descendants(cut, source) if source != stop else set()
    assert {v for _, v in listed} == reached
    assert {u for u, _ in listed} <= reached | {source}
    assert (stop in {v for _, v in listed}) == (source != stop and nx.has_path(g, source, stop))
    assert [u for u, _ in listed][:1] in ([], [source])


def test_calculator_targets_trace_edges_and_list_bound_terms():
    """The traced style traces the treatment's edges before every path check; the calculator styles list a
    bound's terms with their numbers (the number of its do-term the one Step 1 computed); the CaLM style
    does neither."""
    for it in generate(TASKS, n=6, seed=5):
        text = data.sft_rows([it], "calculator")[0]["completion"][0]["content"]
        calm = data.sft_rows([it], "calm")[0]["completion"][0]["content"]
        traced = data.sft_rows([it], "traced")[0]["completion"][0]["content"]
        assert "onward" not in calm and "onward" not in text
        assert traced.splitlines()[-1] == it.answer
        if it.task in ("PN", "PS"):
            lines = text.split("\n")
            listing = next(line for line in lines if line.startswith("Step 2: "))
            do_value = lines[lines.index(listing) - 1].rsplit("=", 1)[1].rstrip(">")  # Step 1's result
            terms = dict(t.rsplit("=", 1) for t in listing[len("Step 2: "):].split("\t"))
            assert len(terms) == 3 and do_value in terms.values()
            formula = lines[lines.index(listing) + 1]
            assert all(t in formula for t in terms)
        else:
            x = it.graph["names"][it.query["treatment"]]
            assert f"Edges from {x} onward: " in traced.split("\n")[0]

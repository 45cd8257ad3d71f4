"""The generator against the exact engine, the prompt against its own numbers, determinism."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whygym.items import read_jsonl, read_parquet, write_jsonl, write_parquet
from whygym.scm import effects
from whygym.tasks import DEFAULT_TASKS, GenConfig, GivenLookup, Problem, generate, get_task
from whygym.tasks.core import parse_term_key
from whygym.tasks.generate import sample_item


def exact_value(item, scm, p: Problem) -> float:
    """The quantity an item asks for, computed by the engine on the true SCM (no rounding)."""
    q = p.query
    X, Y = q["treatment"], q["outcome"]
    t = item.task
    if t == "ATE":
        return effects.average_treatment_effect(scm, X, Y, q["x"], q["y"])
    if t == "CDE":
        return effects.controlled_direct_effect(scm, X, Y, q["fixed"], q["x"], q["y"])
    if t == "ETT":  # CaLM's PROB: E[Y_{x_f} - Y_{x_c} | X = x_f]
        return effects.effect_of_treatment_on_treated(scm, X, Y, q["x_factual"], q["y"])
    if t == "NDE":
        return effects.natural_direct_effect(scm, X, Y, q["x"], q["y"])
    if t == "NIE":
        return effects.natural_indirect_effect(scm, X, Y, q["x"], q["y"])
    b = effects.pn_bounds(scm, X, Y, q["x_factual"], q["y_factual"])  # PN and PS share the form
    return b.upper if q["bound"] == "upper" else b.lower


def check_item(item, scm, p):
    # 1. the gold is what the stated numbers give: re-derive it from item.given alone
    spec = get_task(item.task)
    for exhaustive in (False, True):
        d = spec.derive(p, GivenLookup(item.given, item.graph["nodes"]), exhaustive=exhaustive)
        assert d.value == pytest.approx(item.gold["prob"], abs=1e-12)
    # 2. the gold is the true quantity up to the rounding of the stated numbers
    exact = exact_value(item, scm, p)
    if item.meta["structural_zero"]:
        assert abs(exact) < 1e-12, (item.id, exact)
        assert item.gold["prob"] == 0.0
    elif item.task in ("PN", "PS"):
        q = p.query
        den = scm.prob({q["treatment"]: q["x_factual"], q["outcome"]: q["y_factual"]})
        assert abs(item.gold["prob"] - exact) <= 4e-4 / den + 1e-9, (item.id, item.gold, exact, den)
        assert 0.0 <= item.gold["prob"] <= 1.0
    else:
        tol = 1e-4 * (len(item.given) + 1)
        assert abs(item.gold["prob"] - exact) <= tol, (item.id, item.gold, exact)
    # 3. the answer JSON states the gold at 4 decimals, with the label
    ans = json.loads(item.answer)
    assert abs(float(ans["PROB"]) - item.gold["prob"]) < 5e-5
    if spec.yesno:
        assert ans["ANSWER"].lower() == item.gold["label"]
        v = round(item.gold["prob"], 4)
        if item.task == "ETT":  # Yes when the imagined treatment makes the outcome more likely
            assert (item.gold["label"] == "yes") == (v < 0)
        else:
            assert (item.gold["label"] == "yes") == (v > 0)


def parse_prompt_numbers(item) -> dict[str, float]:
    """Read the stated probabilities back out of the prompt's words, independently of the renderer:
    names and value words map back to node ids and 0/1 through item.graph."""
    g = item.graph
    name_to_id = {v: k for k, v in g["names"].items()}
    data = item.prompt.split("\n")[1]
    out = {}
    for sent in re.findall(r"(.*?) is (\d\.\d{4})\. ", data):
        text, val = sent
        m = re.match(r"For those with (.*), the probability of (.*)$", text.strip())
        cond_s, ev_s = (m.group(1), m.group(2)) if m else ("", re.match(r"The probability of (.*)$", text.strip()).group(1))

        def pairs(s):
            res = []
            for part in re.split(r", | and ", s):
                name, word = part.rsplit(" being ", 1)
                node = name_to_id[name]
                res.append(f"{node}={g['values'][node].index(word)}")
            return res

        ev = pairs(ev_s)
        key = f"P({','.join(ev)}" + (f"|{','.join(pairs(cond_s))})" if cond_s else ")")
        out[key] = float(val)
    return out


@pytest.mark.parametrize("task", DEFAULT_TASKS)
def test_items_agree_with_engine(task):
    for i in range(40):
        check_item(*sample_item(task, seed=11, index=i))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=st.sampled_from(DEFAULT_TASKS), seed=st.integers(0, 10**6), lo=st.integers(3, 7),
       extra=st.integers(0, 2), density=st.floats(0.2, 0.9), names=st.sampled_from(["fake", "real", "random",
                                                                                       "anticommonsense", "mix"]),
       coupling=st.sampled_from(["comonotone", "independent"]))
def test_items_agree_with_engine_property(task, seed, lo, extra, density, names, coupling):
    cfg = GenConfig(nodes=(lo, min(8, lo + extra)), density=density, names=names, coupling=coupling)
    check_item(*sample_item(task, seed, 0, cfg))


def test_prompt_numbers_parse_back():
    for item in generate(DEFAULT_TASKS, n=15, seed=5):
        parsed = parse_prompt_numbers(item)
        ids = item.graph["nodes"]
        want = {parse_term_key(k, ids).key: v for k, v in item.given.items()}
        got = {parse_term_key(k, ids).key: v for k, v in parsed.items()}
        assert got == want, item.id
        assert item.prompt.startswith("Input Info: Imagine a self-contained, hypothetical world")
        lines = item.prompt.split("\n")
        assert lines[2].startswith("Instruction: Consider the ") and lines[3].startswith("Question: ")
        assert lines[4].startswith("Provide the calculation result to four decimal places")


def test_prompt_layout_matches_calm_fields():
    for item in generate(DEFAULT_TASKS, n=3, seed=2):
        c = item.meta["calm"]
        fmt = item.prompt.split("\n")[-1]
        assert item.prompt == (f"Input Info: {c['given_info']}\n{c['data_info']}\nInstruction: {c['Instruction']}\n"
                               f"Question: {c['Question']}\n{fmt}")
        assert c["data_info_math"].count(";") == len(item.given)


def test_determinism_and_stable_ids(tmp_path):
    a = list(generate(DEFAULT_TASKS, n=8, seed=42))
    b = list(generate(DEFAULT_TASKS, n=8, seed=42))
    write_jsonl(a, tmp_path / "a.jsonl")
    write_jsonl(b, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    # item i does not depend on how many are asked for
    c = list(generate(DEFAULT_TASKS, n=3, seed=42))
    assert [x.id for x in c] == [x.id for x in a[: len(c)]]
    assert len({x.id for x in a}) == len(a)
    d = list(generate(DEFAULT_TASKS, n=8, seed=43))
    assert {x.id for x in a}.isdisjoint({x.id for x in d})


def test_roundtrip_formats(tmp_path):
    items = list(generate(["ATE", "PN"], n=4, seed=1))
    write_jsonl(items, tmp_path / "x.jsonl")
    assert list(read_jsonl(tmp_path / "x.jsonl")) == items
    write_parquet(items, tmp_path / "x.parquet")
    assert read_parquet(tmp_path / "x.parquet") == items
    from whygym.items import to_hf_dataset
    ds = to_hf_dataset(items)
    assert len(ds) == len(items) and ds[0]["id"] == items[0].id


def test_controls():
    cfg = GenConfig(nodes=(9, 12), names="fake", no_path_rate=0.0, bound="upper")
    items = list(generate(DEFAULT_TASKS, n=4, seed=3, config=cfg))
    assert all(9 <= it.meta["n_nodes"] <= 12 for it in items)
    assert not any(it.meta["structural_zero"] for it in items)
    assert all(it.query["bound"] == "upper" for it in items if it.task in ("PN", "PS"))
    assert all(it.meta["mode"] == "FAKE" for it in items)
    zeros = list(generate(["ATE", "NIE"], n=6, seed=3, config=GenConfig(no_path_rate=1.0)))
    assert all(it.meta["structural_zero"] and it.gold["prob"] == 0.0 for it in zeros)
    for mode in ("real", "random", "anticommonsense"):
        it = next(generate(["ATE"], n=1, seed=0, config=GenConfig(names=mode)))
        assert it.meta["mode"] == mode.upper()
    with pytest.raises(ValueError, match="nodes"):
        GenConfig(nodes=(2, 5)).validate()
    with pytest.raises(KeyError, match="did you mean ATE"):
        get_task("ATF")


def test_anticommonsense_reverses_story():
    from whygym.tasks.vocab import STORIES
    it = next(generate(["ATE"], n=1, seed=4, config=GenConfig(names="anticommonsense", nodes=(5, 5))))
    story = [v[0] for v in STORIES[it.meta["story"]]]
    order = [story.index(it.graph["names"][k]) for k in it.graph["nodes"]]
    assert order == sorted(order, reverse=True)  # every edge now runs from effect to cause


def test_generate_cli(tmp_path, capsys):
    from whygym.cli import main
    out = tmp_path / "d.jsonl"
    assert main(["generate", "--tasks", "ATE,PS", "--n", "3", "--seed", "1", "--out", str(out), "--quiet"]) == 0
    assert "wrote 6 items" in capsys.readouterr().out
    assert len(list(read_jsonl(out))) == 6
    assert main(["generate", "--n", "3", "--out", str(tmp_path / "d.csv"), "--quiet"]) == 2
    assert "unknown format" in capsys.readouterr().err
    assert main(["generate", "--tasks", "XTE", "--n", "3", "--out", str(out), "--quiet"]) == 2
    with pytest.raises(SystemExit):
        main(["generate", "--nodes", "2-20", "--out", str(out)])

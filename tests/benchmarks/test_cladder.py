"""CLadder loader: the sample parses with gold, prompt, meta and graph; big files load fast."""

import json
import time

import pytest

from whygym.benchmarks import load_cladder


def test_sample(root):
    items = load_cladder(root / "cladder_sample" / "cladder_sample.json")
    assert len(items) == 45
    assert {i.task for i in items} == {"ate", "backadj", "collider_bias", "correlation", "ett", "exp_away",
                                       "marginal", "nde", "nie"}
    for it in items:
        assert it.gold["label"] in ("yes", "no")
        assert it.prompt.endswith('\n\nStart your answer with "Yes" or "No", followed by additional reasoning or '
                                  'evidence to support your explanation.')
        for k in ("query_type", "rung", "graph_id", "story_id", "question_id"):
            assert k in it.meta
        assert it.rung == it.meta["rung"] in (1, 2, 3)
    it = items[0]
    assert it.prompt.startswith("For normal weight people, the probability of long lifespan is 86%. For obese "
                                "people, the probability of long lifespan is 57%. Will obesity increase the chance "
                                "of long lifespan?\n\n")
    calm_style = load_cladder(root / "cladder_sample" / "cladder_sample.json", style="calm")[0]
    assert calm_style.prompt.startswith("Input Info: ") and calm_style.prompt.endswith("\nAnswer (Yes or No ?):")
    assert it.graph["names"]["X"] == "obesity" and ["X", "Y"] in it.graph["edges"]
    assert it.query == {"query_type": "ate", "treatment": "X", "outcome": "Y"}
    assert sum("parse_error" not in i.meta for i in items) >= 40


def test_thousands_load_fast(root, tmp_path):
    recs = json.loads((root / "cladder_sample" / "cladder_sample.json").read_text(encoding="utf-8"))
    big = [dict(r, question_id=i) for i in range(112) for r in recs]  # 5,040 records
    f = tmp_path / "cladder-big.json"
    f.write_text(json.dumps(big), encoding="utf-8")
    t = time.perf_counter()
    items = load_cladder(f)
    assert len(items) == len(big)
    assert time.perf_counter() - t < 10.0  # ~0.4 s on an idle 2-core machine


def test_malformed(tmp_path, root):
    recs = json.loads((root / "cladder_sample" / "cladder_sample.json").read_text(encoding="utf-8"))
    bad = [recs[0], dict(recs[1], answer="maybe")]
    f = tmp_path / "c.json"
    f.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match=r"c\.json: index 1: answer 'maybe'; expected yes or no"):
        load_cladder(f)


def test_calm_cladder_derived_sets_get_cladder_structure(calm_lite):
    corr = [i for i in calm_lite if i.meta["calm_task"] == "CORR-B"]
    assert len(corr) == 200 and all(i.graph["nodes"] and i.query["query_type"] == "correlation" for i in corr)
    en = next(i for i in corr if i.meta["language"] == "EN")
    assert en.given == {"P(X=1)": 0.78, "P(Y=1,X=0)": 0.07, "P(Y=1,X=1)": 0.3}  # "P(X=1=1) = 0.78" read as P(X=1)
    # BAS-B records carry no reasoning: recorded, not raised
    assert all("parse_error" in i.meta for i in calm_lite if i.meta["calm_task"] == "BAS-B")

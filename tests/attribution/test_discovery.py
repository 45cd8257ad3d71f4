"""The study's discovery setting: metrics against hand-computed cases, parser, reverse relabelling."""

import numpy as np
import pytest

from whygym.attribution.discovery import (SETTINGS, binary_trial, discovery_attribution, discovery_metrics,
                                          pairwise_trial, parse_edges, relabel_reverse, run_discovery,
                                          setting_prompts, shd)


def test_metrics_hand_computed():
    true = [("a", "b"), ("b", "c"), ("a", "c")]
    # found a->b, reversed c->b, extra c->d ... d unknown to truth but a valid node name
    pred = [("a", "b"), ("c", "b"), ("c", "d")]
    m = discovery_metrics(true, pred)
    assert m["tdr"] == pytest.approx(1 / 3)      # one of three true edges
    assert m["fdr"] == pytest.approx(2 / 3)      # two of three predictions false
    prec = 1 / 3
    assert m["f1"] == pytest.approx(2 * prec * (1 / 3) / (prec + 1 / 3))
    # skeleton extra {c,d}, missing {a,c}, reversed b-c: 3
    assert m["shd"] == 3


def test_metrics_edge_cases():
    assert discovery_metrics([("a", "b")], []) == {"tdr": 0.0, "fdr": 0.0, "f1": 0.0, "shd": 1, "n_pred": 0,
                                                   "n_true": 1}
    perfect = discovery_metrics([("a", "b"), ("b", "c")], [("b", "c"), ("a", "b")])
    assert (perfect["tdr"], perfect["fdr"], perfect["f1"], perfect["shd"]) == (1.0, 0.0, 1.0, 0)
    assert shd([("a", "b")], [("b", "a")]) == 1           # reversal counts once
    assert shd([("a", "b")], [("a", "b"), ("b", "a")]) == 1  # both directions: one reversed
    assert shd([("a", "b"), ("c", "d")], []) == 2
    assert shd([], [("a", "b")]) == 1


def test_parser_formats():
    names = ["smoking", "lung cancer", "age"]
    text = ("Here are the pairs:\n1. Smoking -> Lung cancer\n- `age` → smoking\n* age causes lung cancer\n"
            "smoking -> smoking\nfoo -> age\nLung Cancer => Age; age -> lung cancer")
    assert parse_edges(text, names) == [("smoking", "lung cancer"), ("age", "smoking"), ("age", "lung cancer"),
                                        ("lung cancer", "age")]
    assert parse_edges("A -> B -> C", ["A", "B", "C"]) == [("A", "B"), ("B", "C")]
    assert parse_edges("nothing here", names) == []


def test_reverse_relabelling():
    names = ["season", "rainfall", "soil moisture", "crop yield"]
    edges = [(0, 1), (1, 2), (0, 3), (2, 3)]
    shown, truth = relabel_reverse(names, edges)
    assert shown == ["crop yield", "soil moisture", "rainfall", "season"]
    # node 0's data (season) is titled "crop yield"; the data's edge 0->1 reads crop yield -> soil moisture
    assert truth == [("crop yield", "soil moisture"), ("soil moisture", "rainfall"), ("crop yield", "season"),
                     ("rainfall", "season")]


def test_settings_prompts_and_truths():
    tr = binary_trial(4, 10, 0)
    sp = setting_prompts(tr)
    assert list(sp) == list(SETTINGS)
    real = [(tr.names[u], tr.names[v]) for u, v in tr.edges]
    assert sp["raw"]["truth"] == real and sp["omit_data"]["truth"] == real and sp["reverse_orig"]["truth"] == real
    assert sp["reverse"]["prompt"] == sp["reverse_orig"]["prompt"]
    assert sp["reverse"]["truth"] == relabel_reverse(tr.names, tr.edges)[1]
    for s in ("raw", "omit_knowledge", "reverse"):
        assert "0" in sp[s]["prompt"].split("\n", 2)[2]  # a data table
    for s in ("omit_data", "random"):
        assert "Variables:" in sp[s]["prompt"]
    assert not any(n in sp["omit_knowledge"]["prompt"] for n in tr.names)
    # data rows identical across the data settings (only the header differs)
    rows = {s: sp[s]["prompt"].splitlines()[2:-1] for s in ("raw", "omit_knowledge", "reverse")}
    assert rows["raw"] == rows["omit_knowledge"] == rows["reverse"]


def test_binary_data_follow_the_scm_joint():
    from whygym.scm import random_scm
    import random

    tr = binary_trial(3, 4000, 7)
    rng = random.Random("discovery-binary|7")
    scm = random_scm(3, 0.5, rng)
    joint = scm.joint()
    emp = np.zeros((2, 2, 2))
    for r in tr.data:
        emp[tuple(r)] += 1
    emp /= len(tr.data)
    assert np.abs(emp - joint).max() < 0.03


def test_pairwise_is_linear_non_gaussian():
    tr = pairwise_trial(5000, 1, "laplace", coef=1.5)
    x, y = tr.data[:, 0], tr.data[:, 1]
    assert np.polyfit(x, y, 1)[0] == pytest.approx(1.5, abs=0.05)
    kurt = ((x - x.mean()) ** 4).mean() / x.var() ** 2
    assert kurt > 4.5  # Laplace excess kurtosis 3 -> kurtosis 6
    tu = pairwise_trial(5000, 1, "uniform")
    xu = tu.data[:, 0]
    assert ((xu - xu.mean()) ** 4).mean() / xu.var() ** 2 < 2.2  # uniform: 1.8


def test_attribution_from_scripted_knowledge_model():
    """A model that outputs the true edges whenever real names are shown, else guesses nothing."""
    from whygym.models import MockBackend

    trials = [binary_trial(4, 8, s) for s in range(6)]
    truth = {}
    for tr in trials:
        sp = setting_prompts(tr)
        for s in ("raw", "omit_data", "reverse_orig"):
            # names carry knowledge: list the real-name graph whenever the real names appear
            truth[sp[s]["prompt"]] = "\n".join(f"{u} -> {v}" for u, v in sp["raw"]["truth"])

    be = MockBackend(lambda p: truth.get(p, "no idea"))
    res = run_discovery(be, trials=6, n_nodes=4, rows=8, n_boot=200)
    s = res["summary"]
    assert s["settings"]["raw"]["tdr"]["point"] == 1.0
    assert s["settings"]["omit_knowledge"]["tdr"]["point"] == 0.0
    assert s["settings"]["reverse_orig"]["tdr"]["point"] == 1.0   # follows the names, not the data
    a = s["attribution"]
    assert a["CAK"]["point"] == 1.0 and a["MAK"]["point"] == 1.0
    assert a["CAD"]["point"] == 0.0 and a["MAD"]["point"] == 0.0


def test_discovery_attribution_definitions():
    per = [{s: {"tdr": v, "fdr": 0.0, "f1": 0.0, "shd": 0} for s, v in zip(SETTINGS, [0.9, 0.6, 0.5, 0.1, 0.7, 0.2])}]
    a = discovery_attribution(per, n_boot=10)["attribution"]
    assert a["CAK"]["point"] == pytest.approx(0.4) and a["CAD"]["point"] == pytest.approx(0.3)
    assert a["MAK"]["point"] == pytest.approx(0.4) and a["MAD"]["point"] == pytest.approx(0.3)

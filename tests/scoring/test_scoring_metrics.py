"""Wilson interval against hand-computed values; accuracy tables; bootstrap determinism."""

import math

import numpy as np
import pytest

from whygym.scoring import (Z95, accuracy, bootstrap_ci, group_accuracy, paired_bootstrap_diff, score,
                            wilson_interval)


# Hand computation with z = 1.96 (z^2 = 3.8416):
#   8/10:   denom = 1 + 0.38416 = 1.38416; center = (0.8 + 0.19208) / 1.38416 = 0.716766
#           half = 1.96 * sqrt(0.016 + 0.009604) / 1.38416 = 0.226580  -> [0.4902, 0.9433]
#   0/10:   center = 0.19208 / 1.38416 = 0.138770, half = 1.96 * 0.098 / 1.38416 = 0.138770 -> [0, 0.2775]
#   50/100: denom = 1.038416; center = 0.5; half = 1.96 * sqrt(0.0025 + 0.00009604) / 1.038416 = 0.096170
#   1/1:    denom = 4.8416; center = (1 + 1.9208) / 4.8416 = 0.603272, half = 1.96 * 0.98 / 4.8416 = 0.396728
HAND = [
    (8, 10, 0.4902, 0.9433),
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (50, 100, 0.4038, 0.5962),
    (1, 1, 0.2065, 1.0),
]


@pytest.mark.parametrize("k,n,lo,hi", HAND)
def test_wilson_hand_values(k, n, lo, hi):
    a, b = wilson_interval(k, n, z=1.96)
    assert a == pytest.approx(lo, abs=1e-4) and b == pytest.approx(hi, abs=1e-4)


def test_wilson_endpoints_solve_the_score_equation():
    # The Wilson bounds are the roots of (phat - p)^2 = z^2 p (1 - p) / n.
    for k, n in [(3, 7), (17, 40), (1, 100), (99, 100)]:
        ph = k / n
        for p in wilson_interval(k, n):
            assert (ph - p) ** 2 == pytest.approx(Z95 ** 2 * p * (1 - p) / n, rel=1e-9, abs=1e-15)


def test_wilson_symmetry_and_edges():
    for k in range(0, 21):
        lo, hi = wilson_interval(k, 20)
        lo2, hi2 = wilson_interval(20 - k, 20)
        assert lo == pytest.approx(1 - hi2) and hi == pytest.approx(1 - lo2)
        assert 0 <= lo <= k / 20 <= hi <= 1
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_accuracy_counts():
    a = accuracy(["correct"] * 8 + ["wrong", "unparsed"])
    assert (a.n, a.correct, a.wrong, a.unparsed) == (10, 8, 1, 1)
    assert a.accuracy == 0.8 and a.parse_fail_rate == 0.1
    assert (a.ci_low, a.ci_high) == wilson_interval(8, 10)
    assert accuracy([True, False]).accuracy == 0.5
    assert accuracy([]).accuracy is None and accuracy([]).n == 0
    with pytest.raises(ValueError):
        accuracy(["maybe"])


def test_accuracy_from_outcomes_with_labels():
    g = {"prob": 0.25, "label": "yes"}
    outs = [score(t, g) for t in ['{"ANSWER": "Yes", "PROB": "0.25"}', '{"ANSWER": "No", "PROB": "0.25"}',
                                  '{"ANSWER": "Yes", "PROB": "0.3"}', "?"]]
    a = accuracy(outs)
    assert (a.correct, a.wrong, a.unparsed) == (2, 1, 1)
    assert (a.label_n, a.label_correct) == (4, 2)
    dicts = [o.to_dict() for o in outs]
    assert accuracy(dicts) == a


def test_group_accuracy():
    outs = [{"task": "ATE", "outcome": "correct"}, {"task": "ATE", "outcome": "unparsed"},
            {"task": "PN", "outcome": "correct"}, {"task": "PN", "outcome": "correct"},
            {"task": "PN", "outcome": "wrong"}, {"task": "PN", "outcome": "correct"}]
    r = group_accuracy(outs, "task")
    assert list(r.groups) == ["ATE", "PN"]
    assert r.groups["ATE"].accuracy == 0.5 and r.groups["ATE"].parse_fail_rate == 0.5
    assert r.groups["PN"].accuracy == 0.75 and r.groups["PN"].n == 4
    assert r.overall.accuracy == pytest.approx(4 / 6) and r.overall.n == 6
    assert r.macro_accuracy == pytest.approx(0.625)
    rows = r.to_rows("task")
    assert [row["task"] for row in rows] == ["ATE", "PN", "ALL"]
    r2 = group_accuracy([o["outcome"] for o in outs], [o["task"] for o in outs])
    assert r2.groups == r.groups
    r3 = group_accuracy(outs, lambda o: o["task"].lower())
    assert set(r3.groups) == {"ate", "pn"}
    with pytest.raises(ValueError):
        group_accuracy(["correct"], ["a", "b"])


def test_bootstrap_deterministic_and_sane():
    rng = np.random.default_rng(123)
    x = (rng.random(200) < 0.6).astype(float)
    a = bootstrap_ci(x, n=1000, seed=7)
    b = bootstrap_ci(x, n=1000, seed=7)
    c = bootstrap_ci(x, n=1000, seed=8)
    assert a == b and a != c
    assert a.point == pytest.approx(x.mean())
    assert a.low < a.point < a.high
    # close to the Wilson interval for a proportion at n = 200
    lo, hi = wilson_interval(int(x.sum()), len(x))
    assert a.low == pytest.approx(lo, abs=0.02) and a.high == pytest.approx(hi, abs=0.02)
    # a custom statistic goes through the generic path, same seed, same result
    m1 = bootstrap_ci(x, lambda v: float(np.median(v)), n=300, seed=3)
    assert m1 == bootstrap_ci(x, lambda v: float(np.median(v)), n=300, seed=3)


def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    base = (rng.random(300) < 0.5).astype(float)
    better = np.maximum(base, (rng.random(300) < 0.2).astype(float))  # only ever adds correct answers
    ci = paired_bootstrap_diff(better, base, n=1000, seed=1)
    assert ci == paired_bootstrap_diff(better, base, n=1000, seed=1)
    assert ci.point == pytest.approx(better.mean() - base.mean())
    assert 0 < ci.low <= ci.point <= ci.high
    # pairing matters: the paired interval is narrower than resampling the two arms independently
    ind_a = bootstrap_ci(better, n=1000, seed=1)
    ind_b = bootstrap_ci(base, n=1000, seed=2)
    indep_width = math.hypot(ind_a.high - ind_a.low, ind_b.high - ind_b.low)
    assert ci.high - ci.low < indep_width
    with pytest.raises(ValueError):
        bootstrap_ci(([1, 2], [1]), lambda a, b: 0.0)
    empty = bootstrap_ci([])
    assert all(math.isnan(v) for v in empty)

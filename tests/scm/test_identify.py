"""The ID algorithm's identifiability decision (whygym.scm.identify) against textbook graphs and, on random
semi-Markovian graphs, against Tian and Pearl's (2002) theorem for P(v|do(x)) with one treatment: it is
identified iff no bidirected path joins X to one of its children."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from whygym.scm.identify import c_components, identified


def test_textbook_graphs():
    assert identified({"Y"}, {"X"}, [("X", "Y"), ("Z", "X"), ("Z", "Y")], [])              # back door, observed Z
    assert not identified({"Y"}, {"X"}, [("X", "Y")], [("X", "Y")])                        # bow
    assert identified({"Y"}, {"X"}, [("X", "M"), ("M", "Y")], [("X", "Y")])                # front door
    assert not identified({"Y"}, {"X"}, [("X", "M"), ("M", "Y"), ("X", "Y")], [("X", "Y")])  # front door + X->Y
    assert not identified({"Y"}, {"X"}, [("Z", "X"), ("X", "Y")], [("X", "Y")])            # instrument: not by ID
    assert identified({"Y"}, {"X"}, [("W1", "W2"), ("W2", "X"), ("X", "Y")], [("W1", "X"), ("W1", "Y")])  # napkin
    assert not identified({"Y"}, {"X"}, [("X", "Z"), ("Z", "Y")], [("X", "Z")])            # X <-> its child on the way
    assert identified({"Y"}, {"X"}, [("Y", "X")], [("X", "Y")])                            # X not an ancestor of Y
    assert identified({"X"}, {"X"}, [("X", "Y")], [("X", "Y")])                            # do(x) fixes X


@st.composite
def _graphs(draw):
    n = draw(st.integers(2, 6))
    names = [chr(65 + i) for i in range(n)]
    directed = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if draw(st.booleans())]
    bidirected = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if draw(st.integers(0, 3)) == 0]
    return names, directed, bidirected, draw(st.sampled_from(names))


@settings(max_examples=300, deadline=None)
@given(_graphs())
def test_single_treatment_agrees_with_tians_theorem(case):
    names, directed, bidirected, x = case
    children = {b for a, b in directed if a == x}
    district = next(c for c in c_components(names, bidirected) if x in c)
    expect = not (children & district)
    assert identified(set(names) - {x}, {x}, directed, bidirected, nodes=names) == expect


@settings(max_examples=200, deadline=None)
@given(_graphs())
def test_without_latent_confounders_everything_is_identified(case):
    names, directed, _, x = case
    for y in names:
        if y != x:
            assert identified({y}, {x}, directed, [], nodes=names)

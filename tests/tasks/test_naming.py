"""Variable naming in derivations (:func:`whygym.items.with_names`, :func:`whygym.items.with_letters`).

Oracles: the round trip letters -> names -> letters gives back the engine's own text, for generated items
(random, fake and real names) and for hypothesis-drawn names of one to three words, cases mixed; and a
letter the names map lacks is never touched.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from whygym.items import with_letters, with_names
from whygym.tasks import generate

TASKS = ("ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS")
ITEMS = [it for t in TASKS for it in generate([t], n=30, seed=5)]


def test_round_trip_on_generated_items():
    for it in ITEMS:
        names = it.graph["names"]
        for step in it.reason.values():
            named = with_names(step, names)
            assert with_letters(named, names) == step, (it.id, step, named)
            # no letter of the graph survives in a formula (P(...), do(...), sets, paths)
            inside = re.findall(r"P\(([^)]*)\)", named)
            assert not any(re.search(rf"(?<![A-Za-z]){v}(?=[=|,)])", s) for s in inside for v in names), named


def test_notation_is_not_a_variable():
    names = {"A": "smoking", "E": "exercise", "P": "pressure"}
    assert with_names("E[B_{A=0}|A=1]=P(B=1|A=0)", names) == "E[B_{smoking=0}|smoking=1]=P(B=1|smoking=0)"
    assert with_names("ATE and PN, Node E, {A, E}, A->E", names) == "ATE and PN, Node exercise, {smoking, exercise}, smoking->exercise"
    assert with_letters("Node Exercise and SMOKING->exercise", names) == "Node E and A->E"
    # a one-character name cannot be told from notation: left alone
    assert with_letters("P(x=1)", {"A": "x"}) == "P(x=1)"


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8)
_name = st.lists(_word, min_size=1, max_size=3).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(k=st.integers(0, len(ITEMS) - 1), drawn=st.lists(_name, min_size=10, max_size=10, unique=True),
       upper=st.lists(st.booleans(), min_size=10, max_size=10))
def test_round_trip_with_any_names(k, drawn, upper):
    it = ITEMS[k]
    letters = list(it.graph["names"])
    prose = " ".join(it.reason.values()).lower()
    names = {}
    for v, n, up in zip(letters, drawn, upper):
        # a name that is a word of the derivation's own prose would be read as the variable: out of scope
        if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", prose) for w in n.split()):
            return
        names[v] = n.title() if up else n
    for step in it.reason.values():
        assert with_letters(with_names(step, names), names) == step

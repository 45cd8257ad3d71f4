"""Variable naming in derivations (:func:`whygym.items.with_names`, :func:`whygym.items.with_letters`) and
value words (:func:`whygym.items.with_value_words`, :func:`whygym.items.with_value_numbers`).

Oracles: the round trip letters -> names -> letters gives back the engine's own text, for generated items
(random, fake and real names) and for hypothesis-drawn names of one to three words, cases mixed; and a
letter the names map lacks is never touched. Likewise 0/1 -> value words -> 0/1, with the item's own words
and hypothesis-drawn ones (several words, shared between variables, coded oppositely by two variables).
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from whygym.items import value_words, with_letters, with_names, with_value_numbers, with_value_words
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


# ---------------------------------------------------------------------------------------------- value words
def _worded(step, names, values):
    return with_names(with_value_words(step, values), names)


def _read(text, names, values):
    return with_letters(with_value_numbers(text, names, values), names)


def test_value_word_round_trip_on_generated_items():
    for it in ITEMS:
        names, values = it.graph["names"], value_words(it.graph)
        assert set(values) == set(names)
        for step in it.reason.values():
            worded = _worded(step, names, values)
            assert _read(worded, names, values) == step, (it.id, step, worded)
            # no assignment to 0/1 survives inside a probability
            assert not re.search(r"P\([^)]*=[01][|,)]", worded), worded


def test_value_words_are_read_per_variable():
    names = {"A": "road conditions", "B": "harvest quality"}
    values = {"A": ("good", "bad"), "B": ("poor", "good")}  # "good" is 0 for A and 1 for B
    text = "P(harvest quality=good|road conditions=good)-P(Harvest Quality = Poor|road conditions=BAD)"
    assert _read(text, names, values) == "P(B=1|A=0)-P(B=0|A=1)"
    # a word that is not one of the variable's values is left as written (the verifier then finds no term)
    assert _read("P(harvest quality=bad)", names, values) == "P(B=bad)"
    # a value the prompt never names has no word: the digit stays
    assert with_value_words("P(A=1|B=0)", {"A": ("low", None), "B": (None, "x")}) == "P(A=1|B=0)"


_vword = st.lists(_word, min_size=1, max_size=2).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(k=st.integers(0, len(ITEMS) - 1), pool=st.lists(_vword, min_size=3, max_size=6, unique=True),
       picks=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=10, max_size=10))
def test_value_word_round_trip_with_any_words(k, pool, picks):
    """Words drawn from a small pool, so that variables share words and code them differently."""
    it = ITEMS[k]
    names = it.graph["names"]
    prose = " ".join(it.reason.values()).lower() + " " + " ".join(names.values()).lower()
    if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", prose) for p in pool for w in p.split()):
        return  # a value word that is also a word of the prose or a name: out of scope
    values = {}
    for v, (i, j) in zip(names, picks):
        w0, w1 = pool[i % len(pool)], pool[j % len(pool)]
        if w0 == w1:
            w1 = pool[(j + 1) % len(pool)]
        values[v] = (w0, w1)
    for step in it.reason.values():
        assert _read(_worded(step, names, values), names, values) == step

"""Question phrasings (:mod:`whygym.tasks.phrasing`): one template renders a question and reads it back.

Oracles: for every task, language and phrasing, a question rendered from hypothesis-drawn names and value
words (several words, "the" in front, mixed case) is read back by the same template into exactly those
fields; the generator's questions are the first English phrasing (byte for byte what CaLM writes is pinned
by the generator and parser tests on the shared data); a sentence of another task is not read.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from whygym.tasks import TASKS, generate
from whygym.tasks.phrasing import pattern, question_fields, render
from whygym.tasks.core import problem_from_item

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=7)
_phrase = st.lists(_word, min_size=1, max_size=3).map(" ".join)
_cn = st.text(alphabet="甲乙丙丁戊己庚辛壬癸", min_size=1, max_size=4)


def _cases():
    return [(t, lang, k) for t, spec in sorted(TASKS.items()) for lang in ("en", "cn")
            for k in range(len(spec.phrasings.get(lang, ())))]


@settings(max_examples=300, deadline=None)
@given(case=st.sampled_from(_cases()), X=_phrase, Y=_phrase, x=_word, y=_word, xf=_word, yf=_word,
       cn=st.lists(_cn, min_size=6, max_size=6, unique=True), bound=st.sampled_from(["upper", "lower"]),
       upper=st.booleans())
def test_render_then_read_gives_the_fields_back(case, X, Y, x, y, xf, yf, cn, bound, upper):
    task, lang, k = case
    template = TASKS[task].phrasings[lang][k]
    if lang == "cn":
        X, Y, x, y, xf, yf = cn
        bound = {"upper": "上界", "lower": "下界"}[bound]
    if X == Y or (lang == "en" and (X.startswith("the ") or Y.startswith("the "))):
        return
    fields = {"X": X, "Y": Y, "x": x, "y": y, "xf": xf, "yf": yf, "bound": bound,
              "cond": f"{X}x being {x}", "cond_at": f"{X}x at {x}"}
    text = render(template, fields)
    if upper and lang == "en":
        text = text.upper()
    m = pattern(template, lang).fullmatch(text)
    assert m is not None, (template, text)
    got = {k: v.lower() for k, v in m.groupdict().items() if v is not None}
    want = {"T": X, "O": Y, "x": x, "y": y, "xf": xf, "yf": yf, "bound": bound, "fixed": fields["cond"]}
    for g, v in got.items():
        assert g not in want or v == want[g].lower() or (g == "fixed"), (g, v, want[g])


def test_the_generator_writes_the_first_english_phrasing():
    for task, spec in TASKS.items():
        for it in generate([task], n=5, seed=3):
            p = problem_from_item(it)
            q = render(spec.phrasings["en"][0], question_fields(p))
            assert f"Question: {q}\n" in it.prompt
            assert pattern(spec.phrasings["en"][0]).fullmatch(q)


def test_a_question_of_another_task_is_not_read():
    ate = next(generate(["ATE"], n=1, seed=1))
    q = ate.prompt.split("Question: ")[1].split("\n")[0]
    for task in ("CDE", "ETT", "NDE", "NIE", "PN", "PS"):
        assert not any(p.fullmatch(q) for p in TASKS[task].question_patterns("en")), task

"""Value words are read per item for every variable (issue 13, part 3), checked against the engine.

The generator makes the items and their gold (exact derivation from the stated numbers); the test
rewrites each item as a CaLM record (EN or CN) whose variables carry value words drawn at random from a
pool: words that several variables share ("healthy", "positive", "negative"), pairs that the default
lists read alike ("healthy"/"positive" are both 1 there) or do not know at all ("pale blue"/"deep red",
"城市"/"农村"), and either word meaning 0. The records go through the real loader (``load_calm`` on a
``-hard`` file name) and the auditor; every stated number must be read, i.e. the auditor's answer agrees
with the engine's gold on every item, whether the math is well formed, broken, absent, written in
another condition order, or accompanied by an unreadable sentence.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from whygym.benchmarks import load_calm, load_caugym
from whygym.benchmarks.audit import audit_items
from whygym.benchmarks.reading.coding import ValueCoding as _Values
from whygym.benchmarks.reading.lexicon import default_value
from whygym.benchmarks.reading.statements import pairs_from_words as _pairs_from_words
from whygym.tasks import DEFAULT_TASKS, GenConfig, generate
from whygym.tasks.core import Problem, join_and, parse_term_key
from whygym.tasks.generate import basic_text
from whygym.tasks.spec import get_task
from whygym.tasks.variants import problem_of

WORDS_EN = ["low", "high", "negative", "positive", "healthy", "unhealthy", "sick", "normal", "abnormal", "present",
            "absent", "yes", "no", "pale blue", "deep red", "on time", "late", "close", "far", "urban", "rural",
            "male", "female", "mild", "severe", "well-rested", "sleep-deprived", "zero", "good", "bad",
            "black and white", "not at all", "Very High"]
WORDS_CN = ["低", "高", "阴性", "阳性", "健康", "不健康", "正常", "异常", "存在", "不存在", "是", "否", "好", "差",
            "温和", "剧烈", "城市", "农村", "男", "女", "准时", "迟到", "浅蓝", "深红", "多", "少"]
CN_CHARS = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥山川风雨日月星云"
VARIANTS = ("math", "broken math", "no math", "math in another order", "unreadable sentence")


def _pairs(n: int, lang: str, rng: random.Random) -> list[tuple[str, str]]:
    pool = WORDS_EN if lang == "en" else WORDS_CN
    return [tuple(rng.sample(pool, 2)) for _ in range(n)]


def reword(item, lang: str, rng: random.Random, pairs: list[tuple[str, str]] | None = None) -> Problem:
    """The item's problem with new value words (value 0 first) and, in Chinese, Chinese names."""
    p = problem_of(item)
    names = list(p.names)
    if lang == "cn":
        names = []
        while len(names) < p.dag.n:
            nm = "".join(rng.choice(CN_CHARS) for _ in range(rng.randint(2, 4))) + rng.choice(["", "水平", "状况"])
            if all(nm not in o and o not in nm for o in names):
                names.append(nm)
    return Problem(p.task, p.dag, names, pairs or _pairs(p.dag.n, lang, rng), p.query, ids=p.ids)


def _cn_text(p: Problem, stated) -> tuple[str, str, str, str]:
    def pv(i, v):
        return f"{p.names[i]}为{p.word(i, v)}"

    sents = []
    for t, v in stated:
        lhs = "且".join(pv(i, a) for i, a in t.event)
        sents.append(f"在{'且'.join(pv(i, a) for i, a in t.cond)}的条件下, {lhs}的概率为{v:.4f}。" if t.cond
                     else f"{lhs}的概率为{v:.4f}。")
    q = p.query
    T, O = p.names[q["treatment"]], p.names[q["outcome"]]
    x, y = p.word(q["treatment"], q["x"]), p.word(q["outcome"], q["y"])
    xf, yf = p.word(q["treatment"], q.get("x_factual", 0)), p.word(q["outcome"], q.get("y_factual", 0))
    b = "上界" if q.get("bound") == "upper" else "下界"
    fixed = "且".join(pv(i, a) for i, a in q.get("fixed", {}).items())
    question = {"ATE": f"如果{T}被改变为{x}，那么{O}更有可能为{y}吗？",
                "CDE": f"在{fixed}的条件下，假如{T}为{x}，那么{O}更有可能为{y}吗？",
                "ETT": f"对于那些{T}为{xf}，假如{T}为{x}，那么{O}更有可能为{y}吗？",
                "NDE": f"假如所有中间变量保持不变，而{T}变化为{x}，那么{O}更有可能为{y}吗？",
                "NIE": f"假如{T}保持不变，而所有中间变量被改变为当它们在{T}变化为{x}下的取值，那么{O}更有可能为{y}吗？",
                "PN": f"给定{T}为{xf}且{O}为{yf}, 那么假如{T}为{x}，此时{O}为{y}的概率的{b}是多少？",
                "PS": f"给定{T}为{xf}且{O}为{yf}, 假如{T}为{x}，此时{O}为{y}的概率的{b}是多少？"}[p.task]
    gi = ("设想一个只有以下条件，而没有其他因素或因果关系的假设世界："
          + "".join(f"{p.names[u]}对{p.names[v]}有直接影响。" for u, v in p.dag.edges))
    return gi, "".join(sents), f"考虑{T}作用于{O}的效果。", question


def calm_record(item, p: Problem, lang: str, variant: str, rng: random.Random) -> dict:
    """A CaLM probability record stating the item's numbers with ``p``'s names and value words."""
    ids, n = p.ids, p.dag.n
    stated = [(parse_term_key(k, ids), v) for k, v in item.given.items()]
    edges = ", ".join(f"{ids[u]}->{ids[v]}" for u, v in p.dag.edges)
    if lang == "en":
        tx = basic_text(p, get_task(p.task), stated, 4)
        gi, data, ins, question = tx.given_info, tx.data_info, tx.instruction, tx.question
        graph = f"Given a causal graph with {n} nodes {', '.join(ids)}, and {len(p.dag.edges)} edges {edges}."
        rw = ("The real world meaning of each node is defined as follows: "
              + join_and([f"{ids[i]} represents {p.names[i]}" for i in range(n)]) + ". ")
    else:
        gi, data, ins, question = _cn_text(p, stated)
        graph = f"给定一个因果图，它具有{n}个节点{', '.join(ids)}和{len(p.dag.edges)}条边{edges}。"
        rw = "每个节点的真实世界含义如下：" + ", ".join(f"{ids[i]}代表{p.names[i]}" for i in range(n)) + "。"

    def key(t, order=1):
        ev, cd = list(t.event)[::order], list(t.cond)[::order]
        return ("P(" + ",".join(f"{ids[i]}={a}" for i, a in ev)
                + ("|" + ",".join(f"{ids[i]}={a}" for i, a in cd) if cd else "") + ")")

    math = "".join(f"{key(t)}={v:.4f}; " for t, v in stated)
    if variant == "no math":
        math = ""
    elif variant == "broken math":  # CaLM's CN files break the marginals this way ("P=0.2157")
        math = "".join(f"{key(t)}={v:.4f}; " if t.cond else f"P={v:.4f}; " for t, v in stated)
    elif variant == "math in another order":
        math = "".join(f"{key(t, -1)}={v:.4f}; " for t, v in stated)
    elif variant == "unreadable sentence" and stated:
        sep = "。" if lang == "cn" else ". "
        sents = [s for s in data.split(sep) if s.strip()]
        k = rng.randrange(len(sents))
        sents[k] = "Meanwhile " + sents[k].replace("probability", "chance").replace("概率", "机会")
        data = sep.join(sents) + sep
    return {"Background": {"graph": graph, "real_world_meaning": rw, "data_info": data, "data_info_math": math},
            "Instruction": ins, "Question": question, "given_info": gi, "Type": p.task,
            "gt_answer": item.gold["prob"]}


def _write_calm(tmp_path, records_by_task: dict[str, list[dict]], lang: str):
    for task, recs in records_by_task.items():
        f = tmp_path / f"{task}-P_{task}-hard_{lang.upper()}.json"
        f.write_text("".join(json.dumps({"index": i + 1, **r}, ensure_ascii=False) + "\n"
                             for i, r in enumerate(recs)), encoding="utf-8")
    return load_calm(tmp_path)


ITEMS = list(generate(DEFAULT_TASKS, n=12, seed=13, config=GenConfig(nodes=(3, 9), no_path_rate=0.1)))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("lang", ["en", "cn"])
def test_every_stated_number_is_read(tmp_path, lang, variant):
    rng = random.Random(f"{lang}|{variant}")
    recs: dict[str, list[dict]] = {}
    for it in ITEMS:
        recs.setdefault(it.task, []).append(calm_record(it, reword(it, lang, rng), lang, variant, rng))
    items = _write_calm(tmp_path, recs, lang)
    assert len(items) == len(ITEMS) == 84
    res = audit_items(items)
    bad = [(r.item_id, r.category, r.note) for r in res if r.status != "agree"]
    assert not bad, bad[:3]
    assert not any("not given" in r.note for r in res)


def test_caugym_prompts_with_reworded_values(tmp_path):
    """The same items as CauGym prompts (the prompt and the Reason are all there is)."""
    rng = random.Random(5)
    arr = []
    for it in ITEMS:
        rec = calm_record(it, reword(it, "en", rng), "en", "no math", rng)
        prompt = (f"Input Info: {rec['given_info']}\n{rec['Background']['data_info']}\nInstruction: "
                  f"{rec['Instruction']}\nQuestion: {rec['Question']}\nProvide the calculation result in JSON format:")
        arr.append({"problem": prompt, "answer": it.answer, "Type": it.task, "Reason": it.reason})
    f = tmp_path / "base_dataset.json"
    f.write_text(json.dumps(arr), encoding="utf-8")
    res = audit_items(load_caugym(f))
    assert [r for r in res if r.status != "agree"] == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=st.sampled_from(DEFAULT_TASKS), index=st.integers(0, 10_000), lang=st.sampled_from(["en", "cn"]),
       variant=st.sampled_from(["math", "no math", "broken math"]), data=st.data())
def test_any_value_words_property(tmp_path_factory, task, index, lang, variant, data):
    """Any per-variable pair of distinct words (shared, alike to the lists, unknown), either way round."""
    from whygym.tasks.generate import generate_item
    it = generate_item(task, 21, index, GenConfig(nodes=(3, 8), no_path_rate=0.1))
    pool = WORDS_EN if lang == "en" else WORDS_CN
    n = len(it.graph["nodes"])
    pairs = [tuple(data.draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2, unique=True)))
             for _ in range(n)]
    rng = random.Random(index)
    rec = calm_record(it, reword(it, lang, rng, pairs), lang, variant, rng)
    items = _write_calm(tmp_path_factory.mktemp("calm"), {task: [rec]}, lang)
    (r,) = audit_items(items)
    assert r.status == "agree", (pairs, r.note, items[0].meta.get("parse_error"))


def test_a_variables_two_words_always_get_two_values():
    v = _Values("en")
    # the default lists read both as 1 (and both "negative" and "low" as 0): per variable they differ
    assert {v.value("A", "healthy"), v.value("A", "positive")} == {0, 1}
    assert {v.value("B", "negative"), v.value("B", "low")} == {0, 1}
    # a word shared by several variables is coded per variable
    assert v.value("C", "positive") == 1 and v.value("C", "healthy") == 0 and v.value("A", "healthy") == 1
    # words no list knows
    assert {v.value("D", "pale blue"), v.value("D", "deep red")} == {0, 1} and v.assumed
    # a third word (a synonym) is coded like the coded word the lists read alike ...
    assert v.value("E", "low") == 0 and v.value("E", "high") == 1 and v.value("E", "higher") == 1
    # ... and not at all where the lists contradict the coding ("healthy" and "positive" differ for A)
    assert v.value("A", "unhealthy") is None
    # words the item settles (math) win, and the other word gets the other value
    s = _Values("en")
    s.learn("A", "healthy", 0)
    assert s.value("A", "positive") == 1 and s.settled("A", "positive") and s.guessed(["A"]) == []
    assert default_value("healthy") == default_value("positive") == 1


def test_a_chinese_value_word_may_end_like_a_separator():
    """"温和" ends with 和 ("and"): only a separator before the next pair is cut off."""
    assert _pairs_from_words("甲乙为温和且丙丁为高", "甲乙|丙丁", "cn") == [("甲乙", "温和", None), ("丙丁", "高", None)]
    assert _pairs_from_words("甲乙为高且丙丁为温和", "甲乙|丙丁", "cn") == [("甲乙", "高", None), ("丙丁", "温和", None)]


@pytest.mark.parametrize("lang", ["en", "cn"])
def test_yes_no_natural_sets_are_audited_by_their_conclusion(tmp_path, lang):
    """CaLM's *-B natural files ask the effect tasks as yes/no: the derivation's conclusion is compared with
    the label; a flipped label is a label error unless the effect lies in CaLM's band around 0."""
    rng = random.Random(f"natural|{lang}")
    yesno = [it for it in ITEMS if it.gold.get("label") in ("yes", "no")]
    assert len(yesno) >= 50
    for flip in (False, True):
        for task in {it.task for it in yesno}:
            recs = []
            for it in (i for i in yesno if i.task == task):
                r = calm_record(it, reword(it, lang, rng), lang, "no math", rng)
                lab = it.gold["label"] if not flip else {"yes": "no", "no": "yes"}[it.gold["label"]]
                recs.append({**r, "gt_answer": lab.capitalize()})
            f = tmp_path / f"{task}-B_{task}-natural_{lang.upper()}.json"
            f.write_text("".join(json.dumps({"index": i + 1, **r}, ensure_ascii=False) + "\n"
                                 for i, r in enumerate(recs)), encoding="utf-8")
        items = load_calm(tmp_path)
        res = audit_items(items)
        by_id = {it.id: it for it in items}
        for r in res:
            value = abs(float(r.solved.split("(")[1].rstrip(")"))) if "(" in (r.solved or "") else None
            if not flip:
                assert r.status == "agree", (r.item_id, r.note)
            elif value is not None and value < 0.001 and by_id[r.item_id].gold["label"] == "no":
                assert r.status == "agree"  # CaLM's "~=0 so the answer is No"
            else:
                assert r.category == "label error", (r.item_id, r.status, r.note)
        for f in tmp_path.glob("*.json"):
            f.unlink()

"""The structure parser on hand-written items it has never seen: bigger graphs, other names and words,
broken math, Chinese, inline letters, unknown phrasings."""

import json

from whygym.benchmarks import load_benchmark, load_calm
from whygym.benchmarks.parse import (default_value, parse_calm_record, parse_math, parse_prompt,
                                     parse_prose_graph, reason_label)

NAMES = {"A": "rock and roll exposure", "B": "hours of sleep", "C": "zqpw", "D": "test score (e.g. SAT)",
         "E": "mood", "F": "ffgh", "G": "income", "H": "crop yield"}


def _hard_record():
    edges = ["A->B", "A->D", "B->D", "C->D", "C->E", "D->F", "E->F", "F->G", "G->H", "B->H"]
    rw = ("The real world meaning of each node is defined as follows: "
          + ", ".join(f"{k} represents {v}" for k, v in list(NAMES.items())[:-1])
          + f" and H represents {NAMES['H']}. ")
    # story words: for B, "plenty" is 0 and "scarce" is 1 (against the default lists) -- only the math shows it
    di = ("For those with hours of sleep being plenty, rock and roll exposure being loud and zqpw being low, the "
          "probability of test score (e.g. SAT) being good is 0.1234. The probability of hours of sleep being scarce "
          "and rock and roll exposure being quiet is 0.2000. The probability of rock and roll exposure being loud "
          "is 0.4100. ")
    dm = "P(D=1|B=0,A=1,C=0)=0.1234; P(B=1,A=0)=0.2000; P(A=1)=0.4100; "
    gi = ("Imagine a self-contained, hypothetical world with only the following conditions, and without any "
          "unmentioned factors or causal relationships: "
          + " ".join(f"{NAMES[a][0].upper() + NAMES[a][1:]} has a direct effect on {NAMES[b]}."
                     for a, b in (e.split("->") for e in edges)))
    return {"index": 7, "Background": {
        "graph": f"Given a causal graph with 8 nodes A, B, C, D, E, F, G, H, and {len(edges)} edges {', '.join(edges)}.",
        "real_world_meaning": rw, "data_info": di, "data_info_math": dm},
        "Instruction": "Consider the controlled direct effect (CDE) of hours of sleep on test score (e.g. SAT).",
        "Question": "Conditioned on rock and roll exposure being loud and zqpw being low, if the hours of sleep had "
                    "been scarce, would the test score (e.g. SAT) have been more likely to be good?",
        "Reason": {"Step 1": "treatment (B) and outcome (D)", "Step 9": "CDE=0.0100>0 so the answer is Yes."},
        "Type": "CDE", "Mode": "REAL", "gt_answer": 0.01, "given_info": gi}


def test_hard_like_record_en():
    rec = _hard_record()
    graph, query, given, problems, info = parse_calm_record(rec, "CDE", "en")
    assert problems == []
    assert graph["nodes"] == list("ABCDEFGH") and ["G", "H"] in graph["edges"] and graph["names"] == NAMES
    assert given == {"P(D=1|B=0,A=1,C=0)": 0.1234, "P(B=1,A=0)": 0.2, "P(A=1)": 0.41}
    assert info == {"given_source": "data_info_math", "words_vs_math": "equal", "defaulted": []}
    # "scarce" is 1 for B in this item (learned from the math), although the default list says 0
    assert query == {"treatment": "B", "outcome": "D", "x": 1, "y": 1, "fixed": {"A": 1, "C": 0}}
    assert default_value("scarce") == 0


def test_words_only_when_math_is_broken():
    rec = _hard_record()
    rec["Background"]["data_info_math"] = "P=0.1234; P(B=1,A=0)=0.2000; P=0.41;"
    graph, query, given, problems, info = parse_calm_record(rec, "CDE", "en")
    assert info["given_source"] == "data_info words" and info["math_malformed"] == 2
    # B: 'scarce'=1 from the one good statement, 'plenty' its complement; A,C,D fall back to defaults
    assert given == {"P(D=1|B=0,A=1,C=0)": 0.1234, "P(B=1,A=0)": 0.2, "P(A=1)": 0.41}
    assert {tuple(d[:2]) for d in info["defaulted"]} >= {("D", "good"), ("C", "low")}


def test_chinese_words_from_the_brief():
    rec = {"Background": {
        "graph": "给定一个因果图，它具有3个节点A, B, C和2条边A->C, B->C。",
        "real_world_meaning": "每个节点的真实世界含义如下：A代表ysko, B代表fsar, C代表jmxb。",
        "data_info": "在ysko为高且fsar为低的条件下, jmxb为低的概率为0.3014。fsar为低的概率为0.2157。"
                     "ysko为低且jmxb为低的概率为0.0645。",
        "data_info_math": "P(C=0|A=1,B=0)=0.3014; P=0.2157; P(A=0,C=0)=0.0645; "},
        "Instruction": "考虑ysko作用于jmxb的必要性概率(probability of necessity, PN)。",
        "Question": "给定ysko为高且jmxb为高, 那么假如ysko为低，此时jmxb为低的概率的下界是多少？",
        "given_info": "设想一个只有以下条件，而没有其他因素或因果关系的假设世界：Ysko对jmxb有直接影响。Fsar对jmxb有直接影响。"}
    graph, query, given, problems, info = parse_calm_record(rec, "PN", "cn")
    assert problems == []
    assert given == {"P(C=0|A=1,B=0)": 0.3014, "P(B=0)": 0.2157, "P(A=0,C=0)": 0.0645}
    assert query == {"treatment": "A", "outcome": "C", "x": 0, "y": 0, "x_factual": 1, "y_factual": 1,
                     "bound": "lower"}
    assert {k: v for k, v in graph.items() if k != "values"} == {
        "nodes": ["A", "B", "C"], "edges": [["A", "C"], ["B", "C"]], "names": {"A": "ysko", "B": "fsar", "C": "jmxb"}}
    # value words per variable, as the math and the question settle them (fsar's 高 never occurs)
    assert graph["values"] == {"A": ["低", "高"], "B": ["低", None], "C": ["低", "高"]}


def test_prompt_only_with_inline_letters_and_long_names():
    prompt = ("Input Info: Imagine a self-contained, hypothetical world with only the following conditions, and "
              "without any unmentioned factors or causal relationships:Weather (e.g. wind) has a direct effect on "
              "fire risk.Fire risk has a direct effect on damage.Qqq has a direct effect on damage.\n"
              "For those with weather (e.g. wind) being calm (B=0), the probability of fire risk being high (C=1) is "
              "0.4172\nInstruction: Consider the average treatment effect (ATE) of weather (e.g. wind) on fire risk.\n"
              "Question: If weather (e.g. wind) is changed to be calm, will fire risk be more likely to be high?\n"
              'Provide the calculation result to four decimal places and a final "yes" or "no" answer in JSON format, '
              'like {"ANSWER": "Yes", "PROB": "0.1234"}:')
    graph, query, given, problems, info = parse_prompt(prompt, "ATE")
    assert problems == []
    assert graph["names"] == {"B": "weather (e.g. wind)", "C": "fire risk", "A": "damage", "D": "qqq"}
    assert graph["edges"] == [["B", "C"], ["C", "A"], ["D", "A"]]
    assert given == {"P(C=1|B=0)": 0.4172} and query == {"treatment": "B", "outcome": "C", "x": 0, "y": 1}
    assert info["node_ids"] == "stated letters + first-appearance"


def test_prose_graph_lists_and_chinese():
    names, edges = parse_prose_graph("Zuph has a direct effect on swoy and rixq. Rixq has a direct effect on xevu.")
    assert names == ["zuph", "swoy", "rixq", "xevu"] and ("zuph", "rixq") in edges
    names, edges = parse_prose_graph("设想……假设世界：Zuph 对 swoy 和 rixq 有直接影响。Swoy 对 xevu 也有直接影响。", "cn")
    assert ("Swoy", "xevu") in edges or ("swoy", "xevu") in [(a.lower(), b) for a, b in edges]


def test_unknown_phrasing_is_recorded_not_raised(tmp_path):
    rec = _hard_record()
    rec["Question"] = "Would test score rise if we forced hours of sleep to be scarce, holding the rest?"
    d = tmp_path / "intervention" / "controlled_direct_effect"
    d.mkdir(parents=True)
    f = d / "CDE-P_CDE-hard_EN.json"  # a full-CaLM "-hard" file name and folder layout
    f.write_text(json.dumps(rec) + "\n" + json.dumps(_hard_record()) + "\n", encoding="utf-8")
    items = load_calm(tmp_path)
    assert [i.id for i in items] == ["calm:CDE-P_CDE-hard_EN:7", "calm:CDE-P_CDE-hard_EN:7"] or len(items) == 2
    assert "question does not match the CDE phrasing" in items[0].meta["parse_error"]
    assert "parse_error" not in items[1].meta and items[1].given and items[1].rung == 2
    assert items[1].meta["reason_label"] == "yes" and items[1].meta["sign_label"] == "yes"
    assert len(load_benchmark(tmp_path)) == 2 and len(load_benchmark(f)) == 2


def test_math_and_reason_helpers():
    assert parse_math("P(B=0|A=0)=0.2210; P(A=0,B=0)=0.0613;")[1]["key"] == "P(A=0,B=0)"
    assert parse_math("P(B=0|do)=0.1") == [None]
    assert reason_label({"s": "ATE=-0.0843<0 so the answer is No."}) == "no"
    assert reason_label({"s": "ATE=-0.0843<0 所以答案为否。"}) == "no"
    assert default_value("a lot") == 1 and default_value("not proficient") == 0 and default_value("blue") is None

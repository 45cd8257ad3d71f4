"""CauGym loader: counts, gold, byte-for-byte equality with CaLM Lite EN prompts, insufficient instruction."""

import json
from collections import Counter

import pytest

from whygym.benchmarks import load_caugym


@pytest.fixture(scope="module")
def caugym(root):
    # rephrased/omitted prose is LLM-rewritten and mostly unparseable: load those without the parser
    return {s: load_caugym(root / "caugym" / f"{s}_dataset.json", parse=s in ("base", "insufficient"))
            for s in ("base", "rephrased", "omitted", "insufficient")}


def test_counts_and_tasks(caugym):
    for s, items in caugym.items():
        assert len(items) == 700, s
        assert Counter(i.task for i in items) == {t: 100 for t in ("ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS")}
        assert all(i.meta["subset"] == s and i.meta["benchmark"] == "caugym" for i in items)
        assert len({i.id for i in items}) == 700


def test_gold_from_answer_json(caugym, root):
    raw = json.loads((root / "caugym" / "base_dataset.json").read_text(encoding="utf-8"))
    for it, rec in zip(caugym["base"], raw):
        ans = json.loads(rec["answer"])
        assert it.gold["prob"] == float(ans["PROB"])
        if it.task in ("PN", "PS"):
            assert "label" not in it.gold
        else:
            assert it.gold["label"] == ans["ANSWER"].lower()
    assert all(i.gold == {"label": "LACK_CONDITION"} for i in caugym["insufficient"])


@pytest.fixture(scope="module")
def calm_en_by_prompt(calm_p):
    return {it.prompt: it for it in calm_p.values() if it.meta["language"] == "EN"}


def test_base_prompts_equal_calm_lite_en_byte_for_byte(caugym, calm_en_by_prompt):
    prompts = calm_en_by_prompt
    assert len(prompts) == 700
    same = sum(it.prompt.encode() in {p.encode() for p in [it.prompt]} and it.prompt in prompts
               for it in caugym["base"])
    assert same == 700
    # and in CaLM file order, task by task
    assert [prompts[it.prompt].task for it in caugym["base"]] == [it.task for it in caugym["base"]]


def test_insufficient_instruction_is_appended_once(caugym, root):
    ins = (root / "caugym" / "insuff_ins.txt").read_text(encoding="utf-8").strip()
    raw = json.loads((root / "caugym" / "insufficient_dataset.json").read_text(encoding="utf-8"))
    assert sum(ins in r["problem"] for r in raw) == 0  # the shipped problems do not contain it
    for it, r in zip(caugym["insufficient"], raw):
        assert it.prompt == r["problem"] + "\n" + ins and it.meta["instruction_appended"]
    for s in ("base", "rephrased", "omitted"):
        assert not any(i.meta.get("instruction_appended") for i in caugym[s])


def test_structure_from_prose(caugym, root):
    base_ok = sum("parse_error" not in i.meta for i in caugym["base"])
    ins_ok = sum("parse_error" not in i.meta for i in caugym["insufficient"])
    print(f"CauGym parsed without error: base {base_ok}/700, insufficient {ins_ok}/700")
    assert base_ok >= 690 and ins_ok >= 670
    it = caugym["insufficient"][0]
    assert it.given == {"P(D=1|C=0)": 0.4172}  # inline letters (C=0), (D=1) are kept
    assert it.query == {"treatment": "C", "outcome": "D", "x": 0, "y": 0, "x_factual": 1, "y_factual": 1,
                        "bound": "lower"}
    assert it.graph["names"]["C"] == "otnv" and ["C", "D"] in it.graph["edges"]
    reph = load_caugym(root / "caugym" / "rephrased_dataset.json", limit=5)
    assert all("parse_error" in i.meta for i in reph)  # recorded, not raised


def test_base_given_matches_calm_twin_up_to_renaming(caugym, calm_en_by_prompt):
    """Prose-only parsing of a base prompt equals the CaLM record's given after mapping node names."""
    calm = calm_en_by_prompt
    agree = n = 0
    for it in caugym["base"]:
        if "parse_error" in it.meta:
            continue
        twin = calm[it.prompt]
        rename = {k: twin_k for k, name in it.graph["names"].items()
                  for twin_k, twin_name in twin.graph["names"].items() if twin_name.lower() == name.lower()}
        def ren(key):
            import re
            return re.sub(r"([A-Z]\w*)=", lambda m: rename.get(m[1], "?") + "=", key)
        n += 1
        agree += {ren(k): v for k, v in it.given.items()} == twin.given
    print(f"base prose given == CaLM given on {agree}/{n}")
    assert agree >= n - 5


def test_reason_fixes_letters(caugym, root, calm_en_by_prompt):
    """With the Reason's P(..)=x statements, base items get CaLM's own letters; without, first-appearance ids."""
    calm = calm_en_by_prompt
    same = sum(it.given == calm[it.prompt].given for it in caugym["base"])
    alone = load_caugym(root / "caugym" / "base_dataset.json", use_reason=False, limit=200)
    print(f"base given == CaLM given (same letters): {same}/700 with the Reason")
    assert same >= 670
    assert all(i.meta["parse"].get("node_ids") == "first-appearance" for i in alone if "parse" in i.meta)


def test_malformed_caugym_errors(tmp_path):
    f = tmp_path / "base_dataset.json"
    f.write_text(json.dumps([{"problem": "x", "answer": '{"PROB": "0.1"}', "Type": "PN"}, [1, 2]]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"base_dataset\.json: index 1: list; expected a JSON object"):
        load_caugym(f)
    f.write_text(json.dumps([{"problem": "x", "answer": "{oops", "Type": "PN"}]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"index 0: answer '\{oops' is neither LACK_CONDITION nor a JSON object"):
        load_caugym(f)
    f.write_text('[{"problem": "x",\n "answer": }]', encoding="utf-8")
    with pytest.raises(ValueError, match=r"base_dataset\.json: line 2 column"):
        load_caugym(f)


def test_caugym_eval_user_message(root):
    """caugym_eval=True gives CauGym's eval/sample_generate.py user message: f"{problem}\\n{instruction}"."""
    raw = json.loads((root / "caugym" / "base_dataset.json").read_text(encoding="utf-8"))
    items = load_caugym(root / "caugym" / "base_dataset.json", caugym_eval=True, limit=3, parse=False)
    assert [i.prompt for i in items] == [r["problem"] + "\nLet's think step by step." for r in raw[:3]]
    ins = load_caugym(root / "caugym" / "insufficient_dataset.json", caugym_eval=True, limit=2, parse=False)
    assert all(i.prompt.endswith('output "LACK_CONDITION" as final answer.') for i in ins)

"""Recover the structure (graph, query, given) of a causal question from its own text.

The exact auditor re-derives every gold answer from ``item.graph``, ``item.query`` and ``item.given``;
this module fills them from what the benchmark item states, in English and Chinese.

Conventions (shared with the generator)
---------------------------------------
* ``graph = {"nodes": ["A", "B", ...], "edges": [["A", "C"], ...], "names": {"A": "smku", ...},
  "values": {"A": ["low", "high"], ...}}`` (``values``: the variables whose value words the item codes,
  None for a value it never names).
  Node ids are letters. When the item gives letters (CaLM ``Background.graph``, CauGym inline
  ``(C=0)`` annotations) those are used; when only prose is available ("X has a direct effect on Y."),
  the names get letters in order of first appearance (``meta["parse"]["node_ids"]``); letters stated
  inline or fixed by the Reason's ``P(..)=x`` statements take precedence.
* ``given = {"P(C=0|A=0)": 0.8445, "P(A=0,B=0)": 0.0613, ...}``: no spaces, outcome(s) first, then
  ``|`` and the conditions in the order the text states them.
* ``query = {"treatment": "B", "outcome": "D", "x": 1, "y": 0, ...}`` with task-specific keys
  (``fixed`` for CDE, ``x_factual`` for ETT, ``x_factual``/``y_factual``/``bound`` for PN and PS).

Value words
-----------
The text says "smku being low", "降雨量为大". Which word means 0 is only shown by the math
(``data_info_math``). For each item we align the worded statements with the math statements
(same probability, same variables on each side, in any order) and learn, per variable, word -> value;
a variable's other word gets the complementary value. Words the math does not settle get a coding per
variable that gives the variable's two words two different values, whatever lists or other variables
say: the first word its value in :data:`DEFAULT_ZERO_WORDS` / :data:`DEFAULT_ONE_WORDS` (low/no/bad/...
= 0, high/yes/good/... = 1) or, when the lists do not know it, 0 (``info["assumed"]``); the second
word the other value. Relabelling a binary variable's values everywhere changes no answer, so this
is exact whenever the numbers and the question are read from the same words. The words read from the
default lists are listed in ``info["defaulted"]``. When the given comes from the math and a queried
variable's word is not settled by it, the words' own reading is used if it is complete
(``info["words_over_math"]``), else the guess is recorded in ``info["guessed"]``.

Failures never raise: :func:`parse_calm_record` and :func:`parse_prompt` return the list of problems,
which loaders store in ``item.meta["parse_error"]``.

The readers of each part live in :mod:`whygym.benchmarks.reading` (lexicon, statements, graphs, coding,
questions); this module puts them together into the two record parsers and re-exports the public names.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from whygym.benchmarks.reading.coding import ValueCoding, default_word_agreement, given_from_words, learn_from_math
from whygym.benchmarks.reading.graphs import parse_letter_graph, parse_names, parse_prose_graph
from whygym.benchmarks.reading.lexicon import DEFAULT_ONE_WORDS, DEFAULT_ZERO_WORDS, default_value
from whygym.benchmarks.reading.questions import parse_question
from whygym.benchmarks.reading.statements import (MATH_STATEMENT, canonical_key, pairs_from_math, parse_math,
                                                  parse_worded_statements)
from whygym.items import PROB_TASKS, YESNO_PROB_TASKS

__all__ = ["ParsedItem", "default_word_agreement", "reason_label", "label_checks", "parse_calm_record", "parse_prompt",
           "parse_math", "parse_names", "parse_letter_graph",
           "parse_prose_graph", "parse_worded_statements", "default_value", "canonical_key",
           "split_calm_prompt", "DEFAULT_ZERO_WORDS", "DEFAULT_ONE_WORDS"]

class ParsedItem(NamedTuple):
    """What the record parsers read from an item (a tuple, so ``graph, query, given, problems, info = ...``).

    graph : ``{"nodes", "edges", "names", "values"}``; query : the question's structure; given : the stated
    probabilities by canonical key; problems : what could not be read (empty when everything was);
    info : how it was read (``given_source``, ``defaulted`` value words, ...).
    """

    graph: dict[str, Any]
    query: dict[str, Any]
    given: dict[str, float]
    problems: list[str]
    info: dict[str, Any]


_VALUE_WORD_PROBLEM = re.compile(r"cannot read .* \(value of \S+\) as 0/1$|cannot read .* being .* as a value"
                                 r"|word .* of \S+ read as both", re.S)


def _value_pairs(graph: dict, values: "ValueCoding", tentative: bool) -> dict[str, list[str]]:
    """letter -> [word for 0, word for 1] for the variables whose words the item codes (settled words;
    with ``tentative``, also the consistent per-variable coding used to read the numbers); a value no word
    of the item codes is None."""
    out = {}
    for var in graph.get("nodes", []):
        coded = dict(values.tentative.get(var, {})) if tentative else {}
        coded.update(values.learned.get(var, {}))
        by_value = {}
        for w, v in coded.items():
            by_value.setdefault(v, w)
        if by_value and by_value.get(0) != by_value.get(1):  # a variable the prompt states one value of: that word
            out[var] = [by_value.get(0), by_value.get(1)]
    return out


def _finish(graph, query, given, problems, values, info):
    if graph:  # the words a derivation may use for the values (the step verifier reads them)
        pairs = _value_pairs(graph, values, tentative=info.get("given_source") != "data_info_math")
        if pairs:
            graph["values"] = pairs
    problems = list(dict.fromkeys(problems + values.conflicts))  # each problem once, in order
    if problems:  # the auditor trusts the graph of an item whose only unread parts are value words
        info["only_value_word_problems"] = all(_VALUE_WORD_PROBLEM.match(p) for p in problems)
    info["defaulted"] = [list(t) for t in values.defaulted]
    if values.assumed:
        info["assumed"] = [list(t) for t in values.assumed]
    return ParsedItem(graph, query, given, problems, info)


# --- CaLM records ---------------------------------------------------------------------------------------
def parse_calm_record(rec: dict[str, Any], task: str, lang: str = "en", use_math: bool = True,
                      given_from: str = "auto") -> ParsedItem:
    """Parse a CaLM probability-style record (``Background``, ``Instruction``, ``Question``).

    Returns a :class:`ParsedItem` ``(graph, query, given, problems, info)``. ``given`` comes from
    ``data_info_math`` when every math statement is well formed and ``use_math``; otherwise from the words
    of ``data_info`` (value words learned from whatever math statements are well formed, then defaults).
    ``info`` records ``given_source``, ``words_vs_math`` (agreement of the two readings) and the
    value words that fell back to defaults. ``use_math=False`` ignores the math entirely (value words
    from the default lists only); ``given_from="words"`` always reports the words' reading (value words
    still learned from the math), to measure the word parser.
    """
    bg = rec.get("Background") or {}
    problems: list[str] = []
    info: dict[str, Any] = {}
    names = parse_names(bg.get("real_world_meaning", ""), lang)
    lg = parse_letter_graph(bg.get("graph", ""))
    graph: dict[str, Any] = {}
    if lg:
        nodes, edges = lg
        graph = {"nodes": nodes, "edges": edges, "names": {n: names.get(n, n) for n in nodes}}
        if names and set(names) != set(nodes):
            problems.append(f"real_world_meaning names {sorted(names)} but graph has nodes {nodes}")
    else:
        problems.append(f"cannot read the graph sentence {bg.get('graph', '')!r}")
    name2id = {v.lower(): k for k, v in names.items()}
    if len(name2id) != len(names):
        problems.append("two nodes share one name; names cannot be mapped back to letters")
    # cross-check the prose graph against the lettered one
    pg = parse_prose_graph(rec.get("given_info", ""), lang, list(names.values()))
    if pg and lg:
        pe = {(name2id.get(a.lower()), name2id.get(b.lower())) for a, b in pg[1]}
        if pe != {tuple(e) for e in lg[1]}:
            problems.append("the prose graph (given_info) and Background.graph disagree")
    values = ValueCoding(lang)
    math = parse_math(bg.get("data_info_math", "") or "")
    words, wp = parse_worded_statements(bg.get("data_info", "") or "", list(names.values()), lang)
    if use_math and math:
        learn_from_math(words, math, name2id, values)
    given_w, gp = given_from_words(words, name2id, values)
    query: dict[str, Any] = {}
    if task in PROB_TASKS:
        query, qp = parse_question(task, rec.get("Question", ""), rec.get("Instruction", ""), name2id, values, lang)
        problems += qp
        problems += _reason_check(rec.get("Reason") or {}, query)
    math_ok = bool(math) and all(s is not None for s in math)
    if use_math and math_ok and given_from != "words":
        given = {s["key"]: s["p"] for s in math}
        info["given_source"] = "data_info_math"
        info["words_vs_math"] = "equal" if given_w == given and not wp and not gp else "differ"
        if info["words_vs_math"] == "differ":
            info["words_problems"] = wp + gp
        # The question's words must be read with the math's own 0/1. A queried variable that the math
        # states but whose words no math statement settles would be read by a guess: then the words'
        # reading (one consistent coding for the numbers and the question) is used when it is complete.
        in_math = {v for s in math for v, _ in s["outs"] + s["conds"]}
        asked = {query.get("treatment"), query.get("outcome"), *(query.get("fixed") or {})} & in_math
        guessed = values.guessed(sorted(asked))
        if guessed and words and not wp and not gp:
            given = given_w
            info["given_source"] = "data_info words"
            info["words_over_math"] = [list(g) for g in guessed]
        elif guessed:
            info["guessed"] = [list(g) for g in guessed]
    else:
        given = given_w
        problems += wp + gp
        info["given_source"] = "data_info words" if words else "none"
        if math and not math_ok:
            info["math_malformed"] = sum(s is None for s in math)
    return _finish(graph, query, given, problems, values, info)


def _reason_check(reason: dict[str, str], query: dict[str, Any]) -> list[str]:
    """Cross-check treatment/outcome letters with "treatment (B)" / "outcome (D)" in the Reason, if present."""
    text = " ".join(str(v) for v in reason.values())
    out = []
    for role in ("treatment", "outcome"):
        m = re.search(rf"{role} \(([A-Z]\w*)\)", text)
        if m and query.get(role) and m[1] != query[role]:
            out.append(f"question gives {role} {query[role]} but the Reason says {role} ({m[1]})")
    return out


def reason_label(reason: dict[str, str]) -> str | None:
    """The yes/no the Reason steps conclude with ("... so the answer is No." / "所以答案为否。"), if any."""
    text = " ".join(str(v) for v in reason.values())
    hits = re.findall(r"answer is:?\s*\W?(yes|no)\b|答案为\W?(是|否)", text, re.I)
    if not hits:
        return None
    en, cn = hits[-1]
    return en.lower() if en else ("yes" if cn == "是" else "no")


def label_checks(reason: dict[str, str], task: str, prob: float | None, label: str | None) -> dict[str, Any]:
    """Meta entries comparing the label, the sign of PROB and the Reason's conclusion; conflicts are listed.

    The yes/no of ATE/CDE/ETT/NDE/NIE asks whether the outcome becomes more likely, i.e. PROB > 0.
    """
    out: dict[str, Any] = {}
    rl = reason_label(reason)
    if rl:
        out["reason_label"] = rl
    if prob is not None and task in YESNO_PROB_TASKS:
        out["sign_label"] = "yes" if prob > 0 else "no"
    seen = {k: v for k, v in (("gold", label), ("reason", rl), ("sign", out.get("sign_label"))) if v}
    if len(set(seen.values())) > 1:
        out["label_conflict"] = ", ".join(f"{k}={v}" for k, v in seen.items())
    return out


# --- prompts only (CauGym) ---------------------------------------------------------------------------------
def split_calm_prompt(prompt: str) -> dict[str, str]:
    """Split a CaLM-style prompt into given_info, data_info, instruction, question, request (EN or CN)."""
    lines = prompt.split("\n")
    parts = {"given_info": "", "data_info": [], "instruction": "", "question": "", "request": []}
    state = None
    for ln in lines:
        if ln.startswith(("Input Info:", "输入信息：")):
            parts["given_info"] = ln.split(":", 1)[1].strip() if ln.startswith("Input Info:") else ln[5:].strip()
            state = "data_info"
        elif ln.startswith(("Instruction:", "指令：")):
            parts["instruction"] = ln.split(":", 1)[1].strip() if ln.startswith("Instruction:") else ln[3:].strip()
            state = None
        elif ln.startswith(("Question:", "问题：")):
            parts["question"] = ln.split(":", 1)[1].strip() if ln.startswith("Question:") else ln[3:].strip()
            state = "request"
        elif state == "data_info":
            parts["data_info"].append(ln)
        elif state == "request":
            parts["request"].append(ln)
    parts["data_info"] = "\n".join(parts["data_info"]).strip()
    parts["request"] = "\n".join(parts["request"]).strip()
    return parts


def _letters(n: int, taken: set[str]) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        s = chr(65 + i % 26) + (str(i // 26) if i >= 26 else "")
        if s not in taken:
            out.append(s)
        i += 1
    return out


def _learn_from_reason(words: list[dict], reason: dict[str, str] | None, values: "ValueCoding"
                       ) -> dict[str, str]:
    """Align worded statements with the ``P(..)=x`` statements of the Reason (same number, same shape).

    Returns the name -> letter map those statements fix (only names fixed consistently, one letter each)
    and teaches ``values`` the value words of the aligned variables.
    """
    if not reason:
        return {}
    text = " ".join(str(v) for v in reason.values()).replace(" ", "")
    stmts = []
    for m in MATH_STATEMENT.finditer(text):
        stmts.append((pairs_from_math(m["lhs"]), pairs_from_math(m["rhs"]), m["p"]))
    cand: dict[str, set[str]] = {}
    learned: list[tuple[str, str, int]] = []
    for ws in words:
        match = {(tuple(o), tuple(c)) for o, c, p in stmts
                 if abs(float(p) - ws["p"]) < 1e-12 and len(o) == len(ws["outs"]) and len(c) == len(ws["conds"])}
        if len(match) != 1:  # none, or ambiguous (two statements with the same number and shape)
            continue
        outs, conds = match.pop()
        for (nm, w, _), (letter, v) in zip(ws["outs"] + ws["conds"], list(outs) + list(conds)):
            cand.setdefault(nm.lower(), set()).add(letter)
            learned.append((nm.lower(), w, v))
    fixed = {nm: next(iter(ls)) for nm, ls in cand.items() if len(ls) == 1}
    if len(set(fixed.values())) != len(fixed):  # two names on one letter: trust none
        return {}
    for nm, w, v in learned:
        if nm in fixed:
            values.learn(fixed[nm], w, v)
    return fixed


def parse_prompt(prompt: str, task: str, lang: str = "en", reason: dict[str, str] | None = None
                 ) -> ParsedItem:
    """Parse a CaLM-style prompt when the prompt is all there is (CauGym).

    Names come from the "X has a direct effect on Y." sentences. Letters: inline annotations such as
    "(C=0)" fix a name's letter; the other names get the first unused letters in order of first
    appearance. Value words come from the inline annotations, then the default lists.
    With ``reason`` (CauGym ships each item's Reason), worded statements whose number and shape match a
    ``P(..)=x`` statement of the Reason also fix those names' letters and value words.
    """
    parts = split_calm_prompt(prompt)
    problems: list[str] = []
    info: dict[str, Any] = {}
    pg = parse_prose_graph(parts["given_info"], lang,
                           context="\n".join((parts["data_info"], parts["instruction"], parts["question"])))
    if not pg:
        return ParsedItem({}, {}, {}, [f"no 'has a direct effect on' sentences in {parts['given_info'][:120]!r}"], info)
    names, named_edges = pg
    values = ValueCoding(lang)
    words, wp = parse_worded_statements(parts["data_info"], names, lang)
    inline: dict[str, str] = {}
    for ws in words:
        for nm, w, lt in ws["outs"] + ws["conds"]:
            if lt:
                if inline.get(nm.lower(), lt[0]) != lt[0]:
                    problems.append(f"{nm!r} annotated with two letters")
                inline[nm.lower()] = lt[0]
                values.learn(lt[0], w, lt[1])
    from_reason = {nm: lt for nm, lt in _learn_from_reason(words, reason, values).items()
                   if nm not in inline and lt not in inline.values()}
    if from_reason:
        info["letters_from_reason"] = len(from_reason)
    inline.update(from_reason)
    free = _letters(len(names), set(inline.values()))
    name2id, it = {}, iter(free)
    for nm in names:
        name2id[nm.lower()] = inline.get(nm.lower()) or next(it)
    info["node_ids"] = "stated letters" if len(inline) == len(names) else (
        "first-appearance" if not inline else "stated letters + first-appearance")
    nodes = [name2id[n.lower()] for n in names]
    graph = {"nodes": nodes, "edges": [[name2id[a.lower()], name2id[b.lower()]] for a, b in named_edges],
             "names": {name2id[n.lower()]: n for n in names}}
    given, gp = given_from_words(words, name2id, values)
    problems += wp + gp
    query: dict[str, Any] = {}
    if task in PROB_TASKS:
        if not parts["question"]:
            problems.append("no 'Question:' line")
        else:
            query, qp = parse_question(task, parts["question"], parts["instruction"], name2id, values, lang)
            problems += qp
    return _finish(graph, query, given, problems, values, info)

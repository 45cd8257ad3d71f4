"""CaLM (Causal Evaluation of Language Models) loader: Lite and full, EN and CN.

Layout: ``<rung dir>/<task dir>/<CODE>_<name>_<EN|CN>.json``, JSON Lines despite the extension
(a JSON array is accepted too). The same loader reads the full CaLM release, including the
``-hard`` probability files (bigger graphs): nothing here depends on file length or graph size.

Prompts are CaLM's "basic" prompt style (``basic`` for EN, ``basic-CN`` for CN), as defined per task
in CaLM's prompt modules (OpenCompass ``opencompass/datasets/calm/data_processing/prompt/``). For the
probability tasks the EN prompt is

    Input Info: {given_info}\\n{data_info}\\nInstruction: {Instruction}\\nQuestion: {Question}\\n
    Provide the calculation result to four decimal places and a final "yes" or "no" answer in JSON
    format, like {"ANSWER": "Yes", "PROB": "0.1234"}:

(PN/PS ask only for ``{"PROB": ...}``); CauGym's ``base_dataset.json`` holds exactly these strings.
The CN request is CaLM's own ``basic-CN`` text, e.g.
``请根据上述信息，给出计算结果（答案保留四位小数），并给出最终答案“是“或”否“。请以JSON格式返回最终结果，例如，{"ANSWER":"是","PROB":"0.1234"}：``
(its unbalanced quotation marks are CaLM's and kept).

Gold
----
* ``*-P_*`` (ATE, CDE, ETT, NDE, NIE, PN, PS; basic and hard): ``{"prob": gt_answer}``. CaLM states only
  the number, so no yes/no label is derived; ``answer`` is ``{"PROB": "<4 dp>"}``.
* ``*-B_*``: ``{"label": "yes"|"no"}`` (``gt_answer`` yes/no/Yes/No/是/否, or 1/0).
* ``*-C_*``: ``{"label": "<option number>"}``, 1-based, as the prompt numbers the options. PCD-C stores
  a 0-based index (0 = hypothesis1) and is shifted; BAS-C, FAS-C, IV-C and CR-C store the 1-based number.
* ``*-O_*`` (CEG-O, open-ended generation): skipped, listed by :func:`calm_skipped` with the reason.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

from whygym.items import PROB_TASKS, Item
from whygym.benchmarks._io import BenchmarkFormatError, read_records, require
from whygym.benchmarks.cladder import cladder_meta, cladder_structure
from whygym.benchmarks.parse import label_checks, parse_calm_record

__all__ = ["load_calm", "calm_files", "calm_skipped", "calm_prompt", "parse_calm_filename", "CALM_REQUESTS"]

_FILE_RE = re.compile(r"^(?P<code>[A-Z]+)-(?P<kind>[PBCO])_(?P<name>.+)_(?P<lang>EN|CN)$")

#: The answer-format requests of CaLM's ``basic`` / ``basic-CN`` prompts for the probability tasks.
CALM_REQUESTS = {
    ("yesno", "EN"): 'Provide the calculation result to four decimal places and a final "yes" or "no" answer in '
                     'JSON format, like {"ANSWER": "Yes", "PROB": "0.1234"}:',
    ("yesno", "CN"): '请根据上述信息，给出计算结果（答案保留四位小数），并给出最终答案“是“或”否“。请以JSON格式返回最终结果，'
                     '例如，{"ANSWER":"是","PROB":"0.1234"}：',
    ("prob", "EN"): 'Provide the calculation result to four decimal places in JSON format, like {"PROB": "0.1234"}:',
    ("prob", "CN"): '请根据上述信息，给出计算结果（答案保留四位小数）。请以JSON格式返回最终结果，例如，{"PROB":"0.1234"}：',
}

_YN_EN = "\nAnswer (Yes or No ?):"
_YN_CN = "\n答案（是或否？）："
_RUNG_DIRS = {"association": 1, "intervention": 2, "counterfactual": 3, "causal_discovery": 0}
# Rung of each task code; causal discovery sits below the ladder in CaLM (rung 0 here).
_RUNG = {"CORR": 1, "EAE": 1, "AR": 0, "CA": 0, "ECI": 0, "PCD": 0, "AC": 3, "CEG": 3, "CR": 3, "ETT": 3,
         "NDE": 3, "NIE": 3, "PN": 3, "PS": 3, "ATE": 2, "BAS": 2, "CEI": 2, "CB": 2, "CDE": 2, "FAS": 2, "IV": 2}
_PROB_CODES = frozenset(PROB_TASKS)
_CN_OPTS = ["选项一", "选项二", "选项三", "选项四"]


def parse_calm_filename(path: str | os.PathLike) -> dict[str, str] | None:
    """``{"code": "ATE", "kind": "P", "name": "ATE-basic", "lang": "EN", "stem": ...}`` or ``None``."""
    stem = Path(path).name
    if stem.endswith(".json"):
        stem = stem[:-5]
    m = _FILE_RE.match(stem)
    return {**m.groupdict(), "stem": stem} if m else None


def _graph_options_prompt(question_en: str, question_cn: str, rec, lang, with_opts=3, edges_key="edges"):
    if lang == "EN":
        s = (f"You will be presented with a causal graph in the following form: {rec[edges_key]}.\n"
             f"Question: {question_en % (rec['treatment'], rec['outcome'])}\n")
        s += "".join(f"Option {i}: {rec[f'option{i}']}\n" for i in range(1, with_opts + 1))
        return s + "Answer (Option 1 or Option 2 or Option 3 ?):"
    s = f"给定如下因果图：{rec[edges_key]}。\n问题：{question_cn % (rec['treatment'], rec['outcome'])}\n"
    s += "".join(f"{_CN_OPTS[i - 1]}：{rec[f'option{i}']}\n" for i in range(1, with_opts + 1))
    return s + "答案（选项一或选项二或选项三？）："


def calm_prompt(code: str, kind: str, name: str, lang: str, rec: dict[str, Any]) -> str:
    """CaLM's ``basic`` (EN) / ``basic-CN`` prompt for one record of file ``<code>-<kind>_<name>_<lang>``."""
    en = lang == "EN"
    if code in _PROB_CODES:
        req = CALM_REQUESTS[("prob" if code in ("PN", "PS") else "yesno", lang)]
        head = ("Input Info: {}\n{}\nInstruction: {}\nQuestion: {}\n" if en else "输入信息：{}\n{}\n指令：{}\n问题：{}\n")
        return head.format(rec["given_info"], rec["Background"]["data_info"], rec["Instruction"],
                           rec["Question"]) + req
    if code in ("CORR", "EAE", "CR", "CB") and kind == "B" or (code == "BAS" and kind == "B"):
        # CLadder-derived sets; CaLM shows given_info and question only (CN keeps the story in
        # ``background``, which CaLM's prompt does not show).
        return (f"Input Info: {rec['given_info']}\nQuestion: {rec['question']}" + _YN_EN if en
                else f"输入信息：{rec['given_info']}\n问题：{rec['question']}" + _YN_CN)
    if code == "AC":
        return f"Question: {rec['input']}" + _YN_EN if en else f"问题：{rec['input']}" + _YN_CN
    if code == "AR":
        return (f"Input Event: If {rec['ar_edges']}.\nQuestion: Does {rec['former']} cause {rec['latter']}?\n"
                "Answer (Yes or No ?): " if en else
                f"输入信息：如果{rec['ar_edges']}。\n问题：{rec['former']}是否导致{rec['latter']}？\n答案（是或否？）：")
    if code == "CA":
        node, rel = ("sampled_ancestor", "ancestor") if name == "FA" else ("sampled_parent", "parent")
        if en:
            return (f"You will be presented with a causal graph in the following form: {rec['edges']}.\n"
                    f"Question: Does {rec[node]} serve as the {rel} node of {rec['attribution']}?" + _YN_EN)
        return (f"给定如下因果图：{rec['edges']}。\n问题：{rec[node]}是{rec['attribution']}的"
                f"{'祖先节点' if name == 'FA' else '父节点'}吗？" + _YN_CN)
    if code == "CEI":
        bi = rec["bi_edges"] if rec["bi_edges"] != [] else ""
        if en:
            return (f"You will be presented with a causal graph in the following form: {rec['di_edges']}.\n"
                    f"There exist unobserved confounders between: {bi}.\n"
                    f"Question: Whether the causal effect of {rec['treatment']} on {rec['outcome']} is identified "
                    "or not?" + _YN_EN)
        return (f"给定如下因果图：{rec['di_edges']}。\n在这些变量间存在着不可观察的混淆变量：{bi}。\n"
                f"问题：{rec['treatment']}对{rec['outcome']}的因果效应是否可以被识别？" + _YN_CN)
    if code == "ECI":
        if en:
            words = rec["words"]
            e1 = " ".join(words[t] for t in rec["events"][0])
            e2 = " ".join(words[t] for t in rec["events"][1])
            return (f"Input: {' '.join(words)}\nQuestion: is there a causal relationship between \"{e1}\" and "
                    f"\"{e2}\" ?" + _YN_EN)
        return f"输入：{rec['sent']}\n问题：\"{rec['event1']}\"和\"{rec['event2']}\"之间是否存在因果关系？" + _YN_CN
    if code == "PCD" and kind == "B":
        return (f"Event A: {rec['premise']}\nEvent B: {rec['hypothesis']}\n"
                "Question: is there a causal relationship between Event A and Event B ?" + _YN_EN if en else
                f"事件一：{rec['premise']}\n事件二：{rec['hypothesis']}\n问题：事件一和事件二之间是否存在因果关系？" + _YN_CN)
    if code == "PCD" and kind == "C":
        if en:
            return (f"Input Event: {rec['premise']}\nQuestion: Please select the {rec['ask-for']} of the input event "
                    f"from the following options.\nOption 1: {rec['hypothesis1']}\nOption 2: {rec['hypothesis2']}\n"
                    "Answer (Option 1 or Option 2 ?):")
        return (f"输入事件：{rec['premise']}\n问题：请从以下选项中选择输入事件的{rec['ask-for']}。\n"
                f"选项一：{rec['hypothesis1']}\n选项二：{rec['hypothesis2']}\n答案（选项一或选项二？）：")
    if code == "CR" and kind == "C":
        if en:
            return (f"Input Event: {rec['premise']}\nCounterfactual Question: {rec['QCC']}\n"
                    + "".join(f"Option {i}: {rec[f'Answer{i}']}\n" for i in range(1, 5))
                    + "Answer (Option 1 or 2 or 3 or 4?):")
        return (f"输入事件：{rec['premise']}\n反事实问题：{rec['QCC']}\n"
                + "".join(f"{_CN_OPTS[i - 1]}：{rec[f'Answer{i}']}\n" for i in range(1, 5))
                + "答案（选项一或选项二或选项三或选项四？）:")
    if code == "BAS" and kind == "C":
        q_en = {"max-BAS": "Which is the maximal set of variables that satisfies the back-door criterion",
                "min-BAS": "Which is the minimal set of variables that satisfies the back-door criterion",
                "mix-BAS": "Which set of variables that satisfies the back-door criterion"}[name]
        q_cn = {"max-BAS": "满足后门准则的最大变量集是哪个？", "min-BAS": "满足后门准则的最小变量集是哪个？",
                "mix-BAS": "满足后门准则的变量集是哪个？"}[name]
        p = _graph_options_prompt(q_en + " relative to an ordered pair of variables (%s, %s) in the above causal "
                                  "graph?", "对于上述因果图中的有序变量对 (%s, %s)，" + q_cn, rec, lang)
        # CaLM's max/mix CN templates end with a newline after the answer cue; min's does not.
        return p + "\n" if (not en and name in ("max-BAS", "mix-BAS")) else p
    if code == "FAS":
        return _graph_options_prompt("Which set of variables that satisfies the front-door criterion relative to an "
                                     "ordered pair of variables (%s, %s) in the above causal graph?",
                                     "对于上述因果图中的有序变量对 (%s, %s)，满足前门准则的变量集是哪个？", rec, lang)
    if code == "IV":
        return _graph_options_prompt("Which set of variables is the instrumental variables relative to an ordered "
                                     "pair of variables (%s, %s) in the above causal graph?",
                                     "对于上述因果图中的有序变量对 (%s, %s)，工具变量是哪个？", rec, lang)
    raise KeyError(f"no CaLM prompt for task family {code}-{kind}_{name}")


def _yesno(v: Any) -> str | None:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) and v in (0, 1):
        return "yes" if v == 1 else "no"
    s = str(v).strip().lower()
    return {"yes": "yes", "no": "no", "是": "yes", "否": "no", "1": "yes", "0": "no"}.get(s)


def _skip_reason(code: str, kind: str) -> str | None:
    if kind == "O":
        return "open-ended generation (gold is a free-text reference, no exact answer to score)"
    return None


def calm_skipped(root: str | os.PathLike) -> list[dict[str, str]]:
    """CaLM files under ``root`` that :func:`load_calm` does not load, each with the reason."""
    out = []
    for p in calm_files(root, include_skipped=True):
        info = parse_calm_filename(p)
        reason = _skip_reason(info["code"], info["kind"]) if info else "file name is not <CODE>-<P|B|C|O>_<name>_<EN|CN>"
        if reason:
            out.append({"file": str(p), "reason": reason})
    return out


def calm_files(root: str | os.PathLike, include_skipped: bool = False) -> list[Path]:
    """All CaLM ``*.json`` task files under ``root`` (or ``[root]`` for a file), sorted by path."""
    root = Path(root)
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*.json") if p.is_file())
    if include_skipped:
        return files
    return [p for p in files if (i := parse_calm_filename(p)) and not _skip_reason(i["code"], i["kind"])]


def _gold(info, rec, path, where) -> tuple[dict[str, Any], str]:
    code, kind = info["code"], info["kind"]
    g = rec["gt_answer"]
    if kind == "P":
        try:
            p = float(g)
        except (TypeError, ValueError):
            raise BenchmarkFormatError(f"{path}: {where}: gt_answer {g!r} is not a number; expected the probability "
                                       "answer of a *-P_* file") from None
        return {"prob": p}, '{"PROB": "%.4f"}' % p
    if kind == "B":
        lab = _yesno(g)
        if lab is None:
            raise BenchmarkFormatError(f"{path}: {where}: gt_answer {g!r}; expected yes/no (or 1/0, 是/否)")
        return {"label": lab}, lab.capitalize() if info["lang"] == "EN" else ("是" if lab == "yes" else "否")
    if kind == "C":
        try:
            n = int(str(g).strip())
        except ValueError:
            raise BenchmarkFormatError(f"{path}: {where}: gt_answer {g!r}; expected an option number") from None
        if code == "PCD":  # 0-based index into (hypothesis1, hypothesis2)
            n += 1
        nopt = 4 if code == "CR" else (2 if code == "PCD" else 3)
        if not 1 <= n <= nopt:
            raise BenchmarkFormatError(f"{path}: {where}: gt_answer {g!r} out of range for {nopt} options")
        return {"label": str(n)}, (f"Option {n}" if info["lang"] == "EN" else _CN_OPTS[n - 1])
    raise BenchmarkFormatError(f"{path}: {where}: no gold convention for kind {kind!r}")


def _rung_of(info, path) -> int:
    for part in Path(path).parts:
        if part in _RUNG_DIRS:
            return _RUNG_DIRS[part]
    return _RUNG.get(info["code"], 0)


def _required_fields(code: str, kind: str, lang: str) -> tuple[str, ...]:
    if code in _PROB_CODES:
        return ("Background", "Instruction", "Question", "gt_answer", "given_info")
    return ("gt_answer",)


def iter_calm_file(path: str | os.PathLike, *, subset: str | None = None, benchmark: str = "calm",
                   parse: bool = True) -> Iterator[Item]:
    """Items of one CaLM task file. Raises :class:`ValueError` (naming file and line) on malformed data."""
    path = Path(path)
    info = parse_calm_filename(path)
    if info is None:
        raise BenchmarkFormatError(f"{path}: file name is not a CaLM task file <CODE>-<P|B|C|O>_<name>_<EN|CN>.json")
    reason = _skip_reason(info["code"], info["kind"])
    if reason:
        raise BenchmarkFormatError(f"{path}: not loadable: {reason}")
    code, kind, lang = info["code"], info["kind"], info["lang"]
    rung = _rung_of(info, path)
    task = code if code in _PROB_CODES else f"{code}-{kind}_{info['name']}"
    for n, (where, rec) in enumerate(read_records(path)):
        require(rec, _required_fields(code, kind, lang), path, where, f"a CaLM {code}-{kind} record")
        if code in _PROB_CODES:
            bg = rec["Background"]
            if not isinstance(bg, dict) or not {"data_info", "graph", "real_world_meaning"} <= set(bg):
                raise BenchmarkFormatError(f"{path}: {where}: Background must be an object with graph, "
                                           "real_world_meaning, data_info (and data_info_math)")
        try:
            prompt = calm_prompt(code, kind, info["name"], lang, rec)
        except KeyError as e:
            raise BenchmarkFormatError(f"{path}: {where}: missing field {e} needed by the {code}-{kind} prompt") from e
        gold, answer = _gold(info, rec, path, where)
        index = rec.get("index", n + 1)
        meta: dict[str, Any] = {"benchmark": benchmark, "subset": subset or info["stem"], "file": path.name,
                                "path": str(path), "where": where, "index": index, "line": n + 1,
                                "language": lang, "calm_task": f"{code}-{kind}", "calm_file": info["stem"]}
        for k in ("Mode", "Type"):
            if k in rec:
                meta[k.lower()] = rec[k]
        if "meta" in rec and isinstance(rec["meta"], dict):
            meta["source_meta"] = rec["meta"]
        item = Item(id=f"calm:{info['stem']}:{index}", task=task, rung=rung, prompt=prompt, answer=answer,
                    gold=gold, reason=dict(rec.get("Reason") or rec.get("reasoning") or {}), meta=meta)
        if code in _PROB_CODES:
            # CaLM states only the number for *-P_*; the Reason's conclusion and the sign are recorded, and
            # disagreements listed (e.g. ETT Reasons whose last step contradicts the sign of PROB).
            meta.update(label_checks(item.reason, code, gold.get("prob"), gold.get("label")))
        if parse and kind == "B" and code in ("CORR", "EAE", "CR", "BAS", "CB") and isinstance(rec.get("meta"), dict):
            # CLadder-derived sets keep CLadder's meta and reasoning: same structure as load_cladder, and
            # audited as CLadder items (the query type and its polarity from CLadder's meta)
            meta.update(cladder_meta(rec["meta"]))
            item.graph, item.query, item.given, err = cladder_structure(rec)
            if err:
                meta["parse_error"] = err
        if code in _PROB_CODES and parse:
            graph, query, given, problems, pinfo = parse_calm_record(rec, code, "en" if lang == "EN" else "cn")
            item.graph, item.query, item.given = graph, query, given
            meta["parse"] = pinfo
            if problems:
                meta["parse_error"] = "; ".join(problems)
        yield item


def load_calm(path_or_dir: str | os.PathLike, *, tasks: list[str] | None = None, kinds: str | None = None,
              language: str | None = None, limit: int | None = None, parse: bool = True,
              benchmark: str = "calm") -> list[Item]:
    """Load CaLM items from one task file or a CaLM directory tree (Lite or full).

    Parameters
    ----------
    path_or_dir : a ``<CODE>-<kind>_<name>_<EN|CN>.json`` file or a folder containing such files.
    tasks : keep only these task codes (``["ATE", "PN"]``) or file stems (``["ATE-P_ATE-basic_EN"]``).
    kinds : keep only these file kinds, e.g. ``"P"`` (probability) or ``"PBC"``.
    language : ``"EN"`` or ``"CN"``.
    limit : at most this many items in total.
    parse : fill ``graph``/``query``/``given`` for the seven probability tasks.

    Open-ended files (``*-O_*``) are not loaded; :func:`calm_skipped` lists them with the reason.
    """
    items: list[Item] = []
    for p in calm_files(path_or_dir):
        info = parse_calm_filename(p)
        if tasks and info["code"] not in tasks and info["stem"] not in tasks:
            continue
        if kinds and info["kind"] not in kinds:
            continue
        if language and info["lang"] != language.upper():
            continue
        for it in iter_calm_file(p, parse=parse, benchmark=benchmark):
            items.append(it)
            if limit is not None and len(items) >= limit:
                return items
    return items

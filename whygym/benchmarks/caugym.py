"""CauGym test sets: ``base``, ``rephrased``, ``omitted``, ``insufficient`` (and any file of that format).

Each file is a JSON array of ``{"problem", "answer", "Reason", "Type", ...}``. ``answer`` is a JSON
string (``{"ANSWER": "Yes", "PROB": "0.3847"}`` or ``{"PROB": "0.5110"}``) or the bare string
``LACK_CONDITION``.

* ``base`` prompts are byte-for-byte CaLM Lite EN ``basic`` prompts (the seven ``*-P_*`` files, in
  file order: ETT, NDE, NIE, PN, PS, ATE, CDE).
* ``rephrased`` / ``omitted`` were rewritten by an LLM (``omitted`` also drops the Instruction line);
  the structure parser reads what still follows CaLM's phrasing and records the rest as parse errors.
* ``insufficient``: gold label ``LACK_CONDITION``. The shipped ``problem`` strings do NOT contain the
  instruction of ``insuff_ins.txt`` (checked: 0/700 contain it). CauGym's evaluation
  (``eval/sample_generate.py``) sends ``f"{problem}\\n{instruction}"`` with the file's text read as is,
  so the loader appends it the same way (``meta["instruction_appended"] = True``); the instruction is
  read from ``insuff_ins.txt`` beside the data file (or ``insuff_ins=`` / the built-in copy when absent).
  Were a file's problems to contain it already, nothing is appended.
* The same script appends its default instruction ``"Let's think step by step."`` to every other set.
  By default the loader does not (so ``base`` prompts stay the CaLM prompts byte for byte);
  ``caugym_eval=True`` reproduces the evaluation's user message exactly for every set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from whygym.items import LACK_CONDITION, PROB_TASKS, Item
from whygym.benchmarks._io import BenchmarkFormatError, read_records, require
from whygym.benchmarks.parse import label_checks, parse_prompt

__all__ = ["load_caugym", "INSUFFICIENT_INSTRUCTION", "DEFAULT_EVAL_INSTRUCTION", "CAUGYM_SUBSETS"]

#: CauGym's evaluation default instruction, appended to every set but ``insufficient``.
DEFAULT_EVAL_INSTRUCTION = "Let's think step by step."
#: The instruction CauGym appends to ``insufficient`` prompts (copy of ``insuff_ins.txt``).
INSUFFICIENT_INSTRUCTION = ("Let's think step by step. If the condition is not enough to solve the question, "
                            'output "LACK_CONDITION" as final answer.')
CAUGYM_SUBSETS = ("base", "rephrased", "omitted", "insufficient")
_RUNG = {"ATE": 2, "CDE": 2, "ETT": 3, "NDE": 3, "NIE": 3, "PN": 3, "PS": 3}


def _subset_of(path: Path) -> str:
    name = path.name.lower()
    for s in CAUGYM_SUBSETS:
        if name.startswith(s):
            return s
    return path.stem.replace("_dataset", "")


def _gold_from_answer(ans: Any, path, where) -> dict[str, Any]:
    if isinstance(ans, str) and ans.strip() == LACK_CONDITION:
        return {"label": "LACK_CONDITION"}
    obj = ans
    if isinstance(ans, str):
        try:
            obj = json.loads(ans)
        except json.JSONDecodeError as e:
            raise BenchmarkFormatError(f"{path}: {where}: answer {ans[:80]!r} is neither LACK_CONDITION nor a JSON "
                                       f"object ({e.msg}); expected e.g. '{{\"ANSWER\": \"Yes\", \"PROB\": \"0.1\"}}'"
                                       ) from e
    if not isinstance(obj, dict) or "PROB" not in obj:
        raise BenchmarkFormatError(f"{path}: {where}: answer {ans!r} has no PROB; expected a JSON object with PROB")
    try:
        gold: dict[str, Any] = {"prob": float(obj["PROB"])}
    except (TypeError, ValueError):
        raise BenchmarkFormatError(f"{path}: {where}: PROB {obj['PROB']!r} is not a number") from None
    if "ANSWER" in obj:
        lab = str(obj["ANSWER"]).strip().lower()
        if lab not in ("yes", "no"):
            raise BenchmarkFormatError(f"{path}: {where}: ANSWER {obj['ANSWER']!r}; expected Yes or No")
        gold["label"] = lab
    return gold


def load_caugym(path: str | os.PathLike, *, limit: int | None = None, parse: bool = True,
                insuff_ins: str | None = None, append_instruction: bool | None = None,
                subset: str | None = None, use_reason: bool = True, caugym_eval: bool = False) -> list[Item]:
    """Load one CauGym JSON array file.

    Parameters
    ----------
    path : e.g. ``.../caugym/base_dataset.json``.
    insuff_ins : the instruction to append to ``LACK_CONDITION`` items; default: ``insuff_ins.txt``
        beside ``path``, else :data:`INSUFFICIENT_INSTRUCTION`.
    append_instruction : force (``True``) or suppress (``False``) appending; default: append to items
        whose gold is ``LACK_CONDITION`` when the problem does not already contain the instruction.
    use_reason : let the Reason's ``P(..)=x`` statements fix letters and value words of the prose
        (see :func:`whygym.benchmarks.parse.parse_prompt`); ``False`` parses the prompt alone.
    caugym_eval : also append ``"\\nLet's think step by step."`` to items that are not ``LACK_CONDITION``,
        as CauGym's evaluation script does.
    """
    path = Path(path)
    subset = subset or _subset_of(path)
    if insuff_ins is None:
        f = path.parent / "insuff_ins.txt"
        insuff_ins = f.read_text(encoding="utf-8") if f.exists() else INSUFFICIENT_INSTRUCTION
    items: list[Item] = []
    for n, (where, rec) in enumerate(read_records(path, expect="array")):
        require(rec, ("problem", "answer", "Type"), path, where, "a CauGym record {problem, answer, Reason, Type}")
        if not isinstance(rec["problem"], str):
            raise BenchmarkFormatError(f"{path}: {where}: problem is {type(rec['problem']).__name__}; expected text")
        task = str(rec["Type"]).strip()
        task = task.upper() if task.upper() in PROB_TASKS else task
        gold = _gold_from_answer(rec["answer"], path, where)
        prompt = rec["problem"]
        meta: dict[str, Any] = {"benchmark": "caugym", "subset": subset, "file": path.name, "path": str(path),
                                "where": where, "index": n, "language": "EN"}
        for k in ("id", "idx", "rewriting_status"):
            if k in rec:
                meta[k] = rec[k]
        lack = gold.get("label") == LACK_CONDITION
        do_append = append_instruction if append_instruction is not None else lack
        if do_append and insuff_ins and insuff_ins.strip() not in prompt:
            prompt = prompt + "\n" + insuff_ins
            meta["instruction_appended"] = True
        elif caugym_eval and not lack:
            prompt = prompt + "\n" + DEFAULT_EVAL_INSTRUCTION
            meta["instruction_appended"] = True
        answer = rec["answer"] if isinstance(rec["answer"], str) else json.dumps(rec["answer"])
        item = Item(id=f"caugym:{subset}:{n}", task=task, rung=_RUNG.get(task, 3), prompt=prompt, answer=answer,
                    gold=gold, reason=dict(rec.get("Reason") or {}), meta=meta)
        if "prob" in gold:
            meta.update(label_checks(item.reason, task, gold["prob"], gold.get("label")))
        if parse and task in PROB_TASKS:
            graph, query, given, problems, pinfo = parse_prompt(rec["problem"], task, "en",
                                                                reason=item.reason if use_reason else None)
            item.graph, item.query, item.given = graph, query, given
            meta["parse"] = pinfo
            if problems:
                meta["parse_error"] = "; ".join(problems)
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    return items

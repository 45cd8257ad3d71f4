"""A scripted fake model whose dependence on each prompt component is known by construction.

:func:`scripted_backend` answers an item's gold answer iff every component it *needs* is visible in the
prompt, and a wrong answer otherwise; its log-likelihood of the gold answer is 0 when it would answer it
and ``-penalty`` otherwise. Visibility is read from the prompt text alone:

``names``        a real-world variable name of :data:`whygym.tasks.vocab.STORIES` appears
``data``         a stated number ("the probability of ... is 0.1234") appears
``graph``        a "has a direct effect on" sentence appears
``instruction``  an ``Instruction:`` line appears

The answers themselves come from a table prompt -> gold answer built from the items it will be asked
about, so the script needs no arithmetic. Used by the tests (the attributions must recover ``needs``)
and by ``whygym attribute --model scripted:names,data``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Iterable, Sequence

from whygym.items import Item

__all__ = ["visible_components", "scripted_backend", "wrong_answer"]


@lru_cache(maxsize=1)
def _real_names_re() -> re.Pattern:
    from whygym.tasks.vocab import STORIES

    words = sorted({name for story in STORIES.values() for name, _, _ in story}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


# A stated number: "... the probability of X being low is 0.5959" (not "the probability of necessity").
_DATA_RE = re.compile(r"probability of [^.?:]*? is -?\d", re.IGNORECASE)


def visible_components(prompt: str) -> set[str]:
    """Which components a prompt shows (by the text rules in the module docstring)."""
    low = prompt.lower()
    seen = set()
    if _real_names_re().search(prompt):
        seen.add("names")
    if _DATA_RE.search(prompt):
        seen.add("data")
    if "has a direct effect on" in low:
        seen.add("graph")
    if "\ninstruction:" in low or low.startswith("instruction:"):
        seen.add("instruction")
    return seen


def wrong_answer(answer: str) -> str:
    """A parseable but wrong answer of the same shape (label flipped, PROB moved by 0.5)."""
    try:
        d = json.loads(answer)
    except json.JSONDecodeError:
        return '{"ANSWER": "No", "PROB": "9.9999"}'
    if "ANSWER" in d:
        d["ANSWER"] = "No" if str(d["ANSWER"]).lower() == "yes" else "Yes"
    if "PROB" in d:
        d["PROB"] = f"{float(d['PROB']) + 0.5:.4f}"
    return json.dumps(d)


def scripted_backend(items: Iterable[Item], needs: Sequence[str], *, penalty: float = 10.0):
    """A :class:`~whygym.models.MockBackend` that answers correctly iff all of ``needs`` are visible."""
    from whygym.models import MockBackend

    needs = set(needs)
    bad = needs - {"names", "data", "graph", "instruction"}
    if bad:
        raise ValueError(f"unknown components {sorted(bad)}")
    table = {it.prompt: it.answer for it in items}

    def respond(prompt: str) -> str:
        gold = table.get(prompt)
        if gold is None:
            return "I cannot tell."
        return gold if needs <= visible_components(prompt) else wrong_answer(gold)

    def loglik(prompt: str, continuation: str) -> float:
        ok = table.get(prompt) == continuation and needs <= visible_components(prompt)
        return 0.0 if ok else -float(penalty)

    return MockBackend(respond, loglik=loglik, name=f"scripted:{','.join(sorted(needs)) or 'none'}")

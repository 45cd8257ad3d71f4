"""Which value word of a variable means 0 and which 1, per item: learned from the item's own math, its inline
annotations or its Reason, else a consistent per-variable coding (:class:`ValueCoding`); and the stated
probabilities read from the words with that coding (:func:`given_from_words`).
"""

from __future__ import annotations


from whygym.benchmarks.reading.graphs import parse_names
from whygym.benchmarks.reading.lexicon import default_value
from whygym.benchmarks.reading.statements import canonical_key, parse_math, parse_worded_statements

__all__ = ["ValueCoding", "learn_from_math", "given_from_words", "default_word_agreement"]

class ValueCoding:
    """Per-variable word -> 0/1 coding of one item.

    *Settled* words are those the item itself fixes: learned from math statements that state the same
    thing (:func:`learn_from_math`), from inline ``(C=0)`` annotations or from the Reason, and the other word of
    a variable one of whose values is settled (a binary variable has two values). Every other word gets
    a *tentative* coding, one variable at a time, so that the variable's two words always take two
    different values: the first word its default-list value (``defaulted``) or, when the lists do not
    know it, a free value (``assumed``); the variable's next word the other value, whatever the lists
    say of it (two words of one variable that the lists read alike, "healthy"/"positive", or words
    shared by several variables are read per variable). Relabelling both values of a binary variable
    everywhere changes no answer, so a tentative coding is right whenever the numbers and the question
    are read with the same coding (the words of ``data_info`` and the question); against the math's
    own 0/1 it is a guess, and :meth:`guessed` lists such words for the parse report.

    A third word of a variable (a synonym) is coded like the coded word the default lists read alike;
    when none is, it cannot be read (``None``).
    """

    def __init__(self, lang: str, free: bool = True):
        self.lang = lang
        self.free = free
        self.learned: dict[str, dict[str, int]] = {}  # settled by the item
        self.tentative: dict[str, dict[str, int]] = {}  # coded by the lists / freely, consistently per variable
        self.conflicts: list[str] = []
        self.defaulted: list[tuple[str, str, int]] = []
        self.assumed: list[tuple[str, str, int]] = []

    @staticmethod
    def _key(word: str) -> str:
        return " ".join(word.lower().split())

    def learn(self, var: str, word: str, value: int) -> None:
        w = self._key(word)
        d = self.learned.setdefault(var, {})
        if d.get(w, value) != value:
            self.conflicts.append(f"word {word!r} of {var} read as both {d[w]} and {value}")
        d[w] = value

    def settled(self, var: str, word: str) -> bool:
        return self._key(word) in self.learned.get(var, {})

    def _synonym(self, coded: dict[str, int], w: str) -> int | None:
        """The value of a coded word that the default lists read like ``w`` (or unlike it: the other)."""
        dw = default_value(w, self.lang)
        if dw is None:
            return None
        same = {v for k, v in coded.items() if default_value(k, self.lang) == dw}
        other = {1 - v for k, v in coded.items() if default_value(k, self.lang) == 1 - dw}
        got = same | other
        return got.pop() if len(got) == 1 else None

    def value(self, var: str, word: str) -> int | None:
        w = self._key(word)
        d = self.learned.get(var, {})
        if w in d:
            return d[w]
        t = self.tentative.get(var, {})
        if w in t:
            return t[w]
        if d:
            seen = set(d.values())
            # binary variable: the other word of a settled one has the other value (settled too)
            v = 1 - seen.pop() if len(seen) == 1 else self._synonym(d, w)
            if v is not None:
                d[w] = v
            return v
        if t:
            seen = set(t.values())
            v = 1 - seen.pop() if len(seen) == 1 else self._synonym(t, w)
            if v is not None:
                t[w] = v
                (self.defaulted if default_value(w, self.lang) == v else self.assumed).append((var, word, v))
            return v
        v = default_value(w, self.lang)
        if v is not None:
            self.defaulted.append((var, word, v))
        elif self.free:
            # Nothing in the item settles this word and the lists do not know it: any consistent
            # coding gives the same answers, so it takes 0 and the variable's other word 1.
            v = 0
            self.assumed.append((var, word, v))
        else:
            return None
        self.tentative.setdefault(var, {})[w] = v
        return v

    def guessed(self, variables) -> list[tuple[str, str, int]]:
        """Tentatively coded words of these variables (against a source that has its own 0/1)."""
        return [(var, w, v) for var in variables for w, v in self.tentative.get(var, {}).items()]


def learn_from_math(words: list[dict], math: list[dict | None], name2id: dict[str, str], values: ValueCoding) -> int:
    """Learn value words from math statements that state the same thing; returns how many aligned.

    A worded statement and a math statement state the same thing when they give the same number and
    the same variables on each side of the bar (in any order: "For those with A and B" may be
    ``P(.|B=..,A=..)``). The math statement at the sentence's position is preferred when there are as
    many math statements as sentences; otherwise, one with that number and those variables is used
    only when no other unused one would code the words differently (numbers repeat).
    """
    n = 0
    used: set[int] = set()

    def coding(ws, ms):
        if ms is None or abs(ms["p"] - ws["p"]) > 1e-12:
            return None
        out = []
        for wside, mside in ((ws["outs"], ms["outs"]), (ws["conds"], ms["conds"])):
            wv = {name2id.get(nm.lower()): w for nm, w, _ in wside}
            mv = dict(mside)
            if None in wv or len(wv) != len(wside) or set(wv) != set(mv) or len(mv) != len(mside):
                return None
            out += [(var, wv[var], mv[var]) for var in wv]
        return out

    for i, ws in enumerate(words):
        # the math statement at the sentence's own position, when the two lists are equally long
        i = ws.get("pos", i) if ws.get("of", len(math)) == len(math) else -1
        here = coding(ws, math[i]) if 0 <= i < len(math) and i not in used else None
        pick = (i, here) if here is not None else None
        if pick is None:
            cands = [(j, c) for j, ms in enumerate(math) if j not in used and ms is not None
                     and ms["p_text"] == ws["p_text"] and (c := coding(ws, ms)) is not None]
            if cands and len({tuple(c) for _, c in cands}) == 1:
                pick = cands[0]
        if pick is None:
            continue
        for var, w, v in pick[1]:
            values.learn(var, w, v)
        used.add(pick[0])
        n += 1
    return n


def default_word_agreement(records, lang: str = "en") -> dict[str, int]:
    """How often the default word lists agree with the math, over CaLM records that have both.

    For every (variable, value word) whose value the record's own well-formed math statements settle,
    compare with :func:`default_value`. Returns counts ``settled``, ``in_lists``, ``right``, ``wrong``,
    ``not_in_lists`` (a measurement, reported in the benchmarks README).
    """
    out = {"settled": 0, "in_lists": 0, "right": 0, "wrong": 0, "not_in_lists": 0}
    for rec in records:
        bg = rec.get("Background") or {}
        names = parse_names(bg.get("real_world_meaning", ""), lang)
        name2id = {v.lower(): k for k, v in names.items()}
        values = ValueCoding(lang)
        words, _ = parse_worded_statements(bg.get("data_info", "") or "", list(names.values()), lang)
        learn_from_math(words, parse_math(bg.get("data_info_math", "") or ""), name2id, values)
        for var, d in values.learned.items():
            for w, v in d.items():
                out["settled"] += 1
                dv = default_value(w, lang)
                if dv is None:
                    out["not_in_lists"] += 1
                else:
                    out["in_lists"] += 1
                    out["right" if dv == v else "wrong"] += 1
    return out


def given_from_words(words: list[dict], name2id: dict[str, str], values: ValueCoding
                      ) -> tuple[dict[str, float], list[str]]:
    given, problems = {}, []
    for ws in words:
        sides = []
        for side in (ws["outs"], ws["conds"]):
            got = []
            for nm, w, inline in side:
                var = inline[0] if inline else name2id.get(nm.lower())
                v = inline[1] if inline else values.value(var, w) if var else None
                if var is None or v is None:
                    problems.append(f"cannot read {nm!r} being {w!r} as a value (no math, not a default word)")
                    got = None
                    break
                got.append((var, v))
            if got is None:
                break
            sides.append(got)
        if len(sides) == 2:
            key = canonical_key(sides[0], sides[1])
            if key in given and given[key] != ws["p"]:
                problems.append(f"{key} stated twice with different values")
            given[key] = ws["p"]
    return given, problems

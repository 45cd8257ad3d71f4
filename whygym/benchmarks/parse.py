"""Recover the structure (graph, query, given) of a causal question from its own text.

The exact auditor re-derives every gold answer from ``item.graph``, ``item.query`` and ``item.given``;
this module fills them from what the benchmark item states, in English and Chinese.

Conventions (shared with the generator)
---------------------------------------
* ``graph = {"nodes": ["A", "B", ...], "edges": [["A", "C"], ...], "names": {"A": "smku", ...}}``.
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
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["default_word_agreement", "reason_label", "label_checks", "parse_calm_record", "parse_prompt", "parse_math", "parse_names", "parse_letter_graph",
           "parse_prose_graph", "parse_worded_statements", "default_value", "canonical_key",
           "split_calm_prompt", "DEFAULT_ZERO_WORDS", "DEFAULT_ONE_WORDS"]

NUM = r"-?\d+(?:\.\d+)?"

# --- default value words -------------------------------------------------------------------------
#: English / Chinese words read as value 0 when the item's own math does not settle them.
DEFAULT_ZERO_WORDS = {
    "en": {"low", "no", "bad", "poor", "few", "little", "small", "short", "slow", "cold", "light", "dry",
           "weak", "unhealthy", "insufficient", "lacking", "limited", "inefficient", "unsuccessful",
           "negative", "absent", "unavailable", "unemployed", "unsatisfied", "dissatisfied", "unhappy",
           "inadequate", "rejected", "failing", "fail", "failed", "irregular", "less", "lower", "minimal",
           "mild", "rare", "infrequent", "sparse", "scarce", "non-existent", "nonexistent", "false",
           "off", "none", "lack", "decreased", "decrease", "cool", "cheap", "easy", "thin", "underweight",
           "incompetent", "unproductive", "unskilled", "poorly", "worse", "worst", "disapproved",
           "unapproved", "denied", "inactive", "quiet", "calm", "safe", "not", "lack of", "inappropriate",
           "unsuitable", "scarcity of"},
    "cn": {"低", "否", "少", "小", "差", "坏", "不好", "冷", "有限", "缺乏", "不足", "不够", "负面", "低效", "短",
           "慢", "轻", "弱", "无", "不存在", "未通过", "失败", "失业", "疲倦", "干燥", "不健康", "不熟练", "无能",
           "不定期", "不幸福", "不满意", "不适宜", "差劲", "低级", "较低", "较少", "稀少", "贫乏", "无咖啡因"},
}
DEFAULT_ONE_WORDS = {
    "en": {"high", "yes", "good", "many", "much", "a lot", "lot", "large", "big", "long", "fast", "hot",
           "heavy", "wet", "strong", "healthy", "sufficient", "abundant", "ample", "adequate", "enough",
           "efficient", "successful", "positive", "present", "available", "employed", "satisfied", "happy",
           "regular", "approved", "passing", "pass", "passed", "excellent", "proficient", "high-ranking",
           "more", "higher", "maximal", "severe", "frequent", "true", "on", "increased", "increase",
           "warm", "expensive", "hard", "thick", "competent", "productive", "skilled",
           "well", "better", "best", "active", "loud", "dangerous", "great", "plenty", "rich", "existent",
           "plentiful", "abundance of", "appropriate", "suitable"},
    "cn": {"高", "是", "多", "大", "好", "健康", "丰富", "热", "充足", "出色", "高效", "定期", "优秀", "成功", "重",
           "高产", "就业", "很多", "满意", "高级", "适宜", "快乐", "熟练", "快", "批准", "含咖啡因", "可用", "适当",
           "精神焕发", "存在", "通过", "湿润", "幸福", "长", "强", "较高", "较多", "最大"},
}
_NEG_PREFIXES = {"en": ("not ", "non-", "non", "un", "lack of ", "lacking ", "insufficient ", "low ", "poor ",
                        "little ", "few "),
                 "cn": ("不", "无", "未", "缺", "非", "低", "差", "少")}
_POS_PREFIXES = {"en": ("high ", "a lot", "good ", "well ", "very ", "highly ", "much ", "many "),
                 "cn": ("高", "很", "多")}


def default_value(word: str, lang: str = "en") -> int | None:
    """The default 0/1 reading of a value word, or ``None`` when it is not in the default lists.

    >>> default_value("low"), default_value("a lot"), default_value("不健康", "cn"), default_value("zzz")
    (0, 1, 0, None)
    """
    w = word.strip().lower()
    if w in DEFAULT_ZERO_WORDS[lang]:
        return 0
    if w in DEFAULT_ONE_WORDS[lang]:
        return 1
    if w.startswith(_NEG_PREFIXES[lang]):
        return 0
    if w.startswith(_POS_PREFIXES[lang]):
        return 1
    # degree words: "more productive" / "less productive", "更高效" / "较少"
    if lang == "en" and w.startswith(("more ", "less ")):
        return 1 if w.startswith("more ") else 0
    if lang == "cn" and len(w) > 1 and w[0] in "更较很非常":
        return default_value(w[1:], lang)
    return None


def canonical_key(outs: list[tuple[str, int]], conds: list[tuple[str, int]]) -> str:
    """``P(C=0|A=0,B=1)`` from ``[("C", 0)]`` and ``[("A", 0), ("B", 1)]`` (no spaces, order kept)."""
    lhs = ",".join(f"{v}={x}" for v, x in outs)
    if conds:
        return f"P({lhs}|" + ",".join(f"{v}={x}" for v, x in conds) + ")"
    return f"P({lhs})"


# --- math ------------------------------------------------------------------------------------------
_MATH_ONE = re.compile(r"P\((?P<lhs>[A-Z]\w*=\d(?:,[A-Z]\w*=\d)*)(?:\|(?P<rhs>[A-Z]\w*=\d(?:,[A-Z]\w*=\d)*))?\)"
                       rf"=(?P<p>{NUM})")


def _pairs_from_math(s: str | None) -> list[tuple[str, int]]:
    if not s:
        return []
    return [(a, int(b)) for a, b in (t.split("=") for t in s.split(","))]


def parse_math(text: str) -> list[dict[str, Any] | None]:
    """Parse ``data_info_math`` into statements; a malformed chunk (e.g. ``P=0.2157``) becomes ``None``.

    >>> parse_math("P(C=0|A=0)=0.8445; P=0.1; ")[0]["key"], parse_math("P=0.1;")
    ('P(C=0|A=0)', [None])
    """
    out: list[dict[str, Any] | None] = []
    for chunk in text.split(";"):
        chunk = chunk.strip()
        if not chunk:
            continue
        m = _MATH_ONE.fullmatch(chunk.replace(" ", ""))
        if not m:
            out.append(None)
            continue
        outs, conds = _pairs_from_math(m["lhs"]), _pairs_from_math(m["rhs"])
        out.append({"outs": outs, "conds": conds, "p": float(m["p"]), "p_text": m["p"],
                    "key": canonical_key(outs, conds)})
    return out


# --- names and graphs --------------------------------------------------------------------------------
_NAMES_EN = re.compile(r"(?:^|[\s:,])([A-Z]\w*) represents (.+?)(?=, [A-Z]\w* represents | and [A-Z]\w* represents "
                       r"|\.\s*$|$)", re.S)
_NAMES_CN = re.compile(r"([A-Z]\w*)代表(.+?)(?=[,，、]\s*[A-Z]\w*代表|。\s*$|$)", re.S)


def parse_names(text: str, lang: str = "en") -> dict[str, str]:
    """``{"A": "smku", ...}`` from a CaLM ``real_world_meaning`` sentence (EN or CN)."""
    rx = _NAMES_EN if lang == "en" else _NAMES_CN
    return {k: v.strip() for k, v in rx.findall(text)}


def parse_letter_graph(text: str) -> tuple[list[str], list[list[str]]] | None:
    """Nodes and edges from "Given a causal graph with 4 nodes A, B, C, D, and 4 edges A->C, ..." (EN/CN)."""
    m = (re.search(r"(\d+) nodes? (.*?),? and (\d+) edges?(.*)$", text, re.S)
         or re.search(r"(\d+)个节点(.*?)和(\d+)条边(.*)$", text, re.S))
    if not m:
        return None
    nodes = re.findall(r"[A-Z]\w*", m[2])
    edges = [[a, b] for a, b in re.findall(r"([A-Z]\w*)\s*->\s*([A-Z]\w*)", m[4])]
    if len(nodes) != int(m[1]) or len(edges) != int(m[3]) or any(u not in nodes or v not in nodes for u, v in edges):
        return None
    return nodes, edges


_WORLD_PREFIX = re.compile(r"^.*?(?:causal relationships|influencing factors|additional factors)[^:：]*[:：]\s*"
                           r"|^.*?假设世界[:：]\s*", re.S)


def _strip_world_prefix(text: str) -> str:
    """Drop the "Imagine a self-contained, hypothetical world ...:" preamble (anything before the first
    colon that states no edge)."""
    out = _WORLD_PREFIX.sub("", text, count=1)
    if out != text:
        return out
    m = re.match(r"^([^:：]*)[:：]\s*", text)
    if m and not re.search(r"direct|直接", m[1]):
        return text[m.end():]
    return text


def _name_alternation(names) -> str:
    return "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True) if n)


_DIRECT_EN = (r"(?:has a direct (?:causal )?(?:effect|impact|influence) on|directly (?:influences|affects|impacts|"
              r"causes|determines))")


def _split_en_sentences(body: str) -> list[str]:
    """Split prose on ". " / "." before a capital / end, re-joining pieces cut inside "(e.g. ...)"."""
    frags = re.split(r"\.(?:\s+|(?=[A-Z])|\s*$)", body)
    out: list[str] = []
    carry = ""
    for fr in frags:
        cur = carry + fr
        if cur.count("(") > cur.count(")") or re.search(r"\b(?:e\.g|i\.e|etc|vs|Mr|Mrs|Dr|St)$", cur):
            carry = cur + ". "
            continue
        carry = ""
        if cur.strip():
            out.append(cur)
    if carry.strip():
        out.append(carry.rstrip(". "))
    return out


_DIRECT_EN_RX = re.compile(rf" {_DIRECT_EN} ")


def _split_outside_parens(text: str) -> list[str]:
    """Split a list of names on ", ", " and ", "、", "和", "以及", but not inside parentheses."""
    out, depth, last = [], 0, 0
    for m in re.finditer(r"[()（）]|,\s*(?:and\s+)?|\s+and\s+|、|以及|和", text):
        tok = m.group()
        if tok in "(（":
            depth += 1
        elif tok in ")）":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(text[last:m.start()])
            last = m.end()
    out.append(text[last:])
    return out


def parse_prose_graph(given_info: str, lang: str = "en", known_names: list[str] | None = None,
                      context: str = "") -> tuple[list[str], list[tuple[str, str]]] | None:
    """Names (in order of first appearance) and named edges from "X has a direct effect on Y." prose.

    Objects may be listed ("X has a direct effect on Y and Z."). A listed object is kept whole when it is
    a known name, or (no known names) when the whole phrase occurs in ``context`` (the rest of the prompt),
    so "salt and pepper level" stays one name. Returns ``None`` when no such sentence.
    Names are compared case-insensitively; each keeps the spelling of its first non-initial use.
    """
    body = _strip_world_prefix(given_info)
    # With known names the subject is matched as a whole name first (a name may contain "对" or "and").
    known_l = {n.lower() for n in (known_names or [])}
    sents = []
    if lang == "en":
        # Sentences end with "." followed by a capital or the end ("e.g. lightning" stays inside a name).
        pieces = [(sent, [(m.start(), m.end()) for m in _DIRECT_EN_RX.finditer(sent)])
                  for sent in _split_en_sentences(body)]
    else:
        pieces = []
        for sent in body.split("。"):
            m = re.fullmatch(r"(.+?)\s*也?有直接影响\s*", sent, re.S)
            if m:
                pieces.append((m[1], [(i, i + 1) for i, ch in enumerate(m[1]) if ch == "对"]))
    for sent, cuts in pieces:
        if not cuts:
            continue
        # With known names, cut where the subject is a whole name (a name may contain "对" or "and").
        a, b = next(((a, b) for a, b in cuts if sent[:a].strip().lower() in known_l), cuts[0])
        subj, obj = sent[:a].strip(), sent[b:].strip()
        if subj and obj:
            sents.append((subj, obj))
    if not sents:
        return None
    order: list[str] = []
    spelled: dict[str, str] = {}

    def see(name: str, initial: bool) -> str:
        name = name.strip()
        k = name.lower()
        if k not in spelled:
            order.append(k)
            spelled[k] = name[0].lower() + name[1:] if (initial and lang == "en" and name[:1].isupper()
                                                         and not name[1:2].isupper()) else name
        elif not initial:
            spelled[k] = name
        return k

    edges = []
    known = {n.lower() for n in (known_names or [])}
    for subj, objs in sents:
        s = see(subj, True)
        objs = objs.strip()
        ctx = context.lower()
        if (known and objs.lower() in known) or (not known and ctx and objs.lower() in ctx
                                                 and len(_split_outside_parens(objs)) > 1):
            parts = [objs]
        else:
            parts = [p for p in _split_outside_parens(objs) if p.strip()]
            if known and not all(p.strip().lower() in known for p in parts):
                parts = [objs]
        for p in parts:
            edges.append((s, see(p, False)))
    names = [spelled[k] for k in order]
    return names, [(spelled[a], spelled[b]) for a, b in edges]


def _name_variants(name: str) -> list[str]:
    """Spellings of a name that items use interchangeably: "(e.g. wind, humidity)" vs "(e.g. wind and
    humidity)", or the name without its parenthetical remark."""
    if "(" not in name:
        return []
    out = {re.sub(r"\(([^()]*)\)", lambda m: "(" + m[1].replace(", ", " and ") + ")", name),
           re.sub(r"\(([^()]*)\)", lambda m: "(" + m[1].replace(" and ", ", ") + ")", name),
           re.sub(r"\s*\([^()]*\)", "", name).strip()}
    out.discard(name)
    return [v for v in out if v]


def _with_variants(name2id: dict[str, str]) -> dict[str, str]:
    out = dict(name2id)
    for nm, i in name2id.items():
        for v in _name_variants(nm):
            out.setdefault(v.lower(), i)
    return out


# --- worded statements ----------------------------------------------------------------------------------
def _pairs_from_words(seg: str, name_alt: str, lang: str) -> list[tuple[str, str, str | None]] | None:
    """Split "smku being low and arbu being high" into ``[(name, word, letter_or_None), ...]``."""
    if lang == "en":
        rx = re.compile(rf"(?:^|(?<=[\s,]))(?:the\s+)?(?P<n>{name_alt}) (?:being|is|was) ", re.I)
    else:
        rx = re.compile(rf"(?P<n>{name_alt})为", re.I)
    ms = list(rx.finditer(seg))
    if not ms or seg[:ms[0].start()].strip(" ,，"):
        return None
    out = []
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else len(seg)
        val = seg[m.end():end].strip()
        if i + 1 < len(ms):  # the separator before the next pair; the last value ends the segment ("温和")
            val = re.sub(r"(?:,|，|、|\band\b|且|以及|和)\s*$", "", val).strip()
        letter = None
        a = re.search(r"\s*\(([A-Z]\w*)=(\d)\)\s*$", val)
        if a:
            letter, val = (a[1], int(a[2])), val[:a.start()].strip()
        if not val:
            return None
        out.append((m["n"], val, letter))
    return out


def _sentences(text: str, lang: str) -> list[str]:
    text = text.strip()
    if lang == "en":
        parts = re.split(r"(?<=\d)\.(?=\s|$)|\n", text)
    else:
        parts = re.split(r"[。\n]", text)
    return [p.strip() for p in parts if p.strip()]


def parse_worded_statements(data_info: str, names: list[str], lang: str = "en"
                            ) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse "For those with A being low, the probability of C being low is 0.8445." style sentences.

    Returns ``(statements, problems)``; each statement is
    ``{"outs": [(name, word, letter?)], "conds": [...], "p": float, "p_text": str}``.
    """
    canon = {n.lower(): n for n in names}
    for n in names:
        for v in _name_variants(n):
            canon.setdefault(v.lower(), n)
    alt = _name_alternation(list(names) + [v for n in names for v in _name_variants(n)])
    stmts, problems = [], []
    if not alt:
        return stmts, (["no variable names to read the numbers with"] if data_info.strip() else [])
    sentences = _sentences(data_info, lang)
    for pos, sent in enumerate(sentences):
        if lang == "en":
            m = (re.fullmatch(rf"for those with (?P<cond>.+?), the probability of (?P<out>.+?) is (?P<p>{NUM})\.?",
                              sent, re.I | re.S)
                 or re.fullmatch(rf"the probability of (?P<out>.+?) is (?P<p>{NUM})\.?", sent, re.I | re.S))
        else:
            m = (re.fullmatch(rf"在(?P<cond>.+?)的条件下[,，]\s*(?P<out>.+?)的概率为(?P<p>{NUM})", sent, re.S)
                 or re.fullmatch(rf"(?P<out>.+?)的概率为(?P<p>{NUM})", sent, re.S))
        if not m:
            problems.append(f"unparsed probability sentence: {sent!r}")
            continue
        outs = _pairs_from_words(m["out"], alt, lang)
        conds = _pairs_from_words(m["cond"], alt, lang) if m.groupdict().get("cond") else []
        if outs is None or conds is None:
            problems.append(f"unknown variable in sentence: {sent!r}")
            continue
        outs = [(canon.get(nm.lower(), nm), w, lt) for nm, w, lt in outs]
        conds = [(canon.get(nm.lower(), nm), w, lt) for nm, w, lt in conds]
        stmts.append({"outs": outs, "conds": conds, "p": float(m["p"]), "p_text": m["p"], "pos": pos,
                      "of": len(sentences)})
    return stmts, problems


# --- value-word resolution --------------------------------------------------------------------------------
class _Values:
    """Per-variable word -> 0/1 coding of one item.

    *Settled* words are those the item itself fixes: learned from math statements that state the same
    thing (:func:`_align`), from inline ``(C=0)`` annotations or from the Reason, and the other word of
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


def _align(words: list[dict], math: list[dict | None], name2id: dict[str, str], values: _Values) -> int:
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
        values = _Values(lang)
        words, _ = parse_worded_statements(bg.get("data_info", "") or "", list(names.values()), lang)
        _align(words, parse_math(bg.get("data_info_math", "") or ""), name2id, values)
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


def _given_from_words(words: list[dict], name2id: dict[str, str], values: _Values
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


# --- questions ------------------------------------------------------------------------------------------
def _w(name: str) -> str:
    return rf"(?P<{name}>.+?)"


def _question_templates(task: str, lang: str, alt: str) -> list[str]:
    T, O = rf"(?:the )?(?P<T>{alt})", rf"(?:the )?(?P<O>{alt})"
    T2, O2 = r"(?:the )?(?P=T)", r"(?:the )?(?P=O)"
    if lang == "cn":
        T, O, T2, O2 = rf"(?P<T>{alt})", rf"(?P<O>{alt})", r"(?P=T)", r"(?P=O)"
        c = r"[，,]\s*"
        return {
            "ATE": [rf"如果{T}被改变为{_w('x')}{c}那么{O}更有可能为{_w('y')}吗？"],
            "CDE": [rf"在(?P<fixed>.+?)的条件下{c}假如{T}为{_w('x')}{c}那么{O}更有可能为{_w('y')}吗？"],
            "ETT": [rf"对于那些{T}为{_w('xf')}{c}假如{T2}为{_w('x')}{c}那么{O}更有可能为{_w('y')}吗？"],
            "NDE": [rf"假如所有中间变量保持不变{c}而{T}变化为{_w('x')}{c}那么{O}更有可能为{_w('y')}吗？"],
            "NIE": [rf"假如{T}保持不变{c}而所有中间变量被改变为当它们在{T2}变化为{_w('x')}下的取值{c}"
                    rf"那么{O}更有可能为{_w('y')}吗？"],
            "PN": [rf"给定{T}为{_w('xf')}且{O}为{_w('yf')}{c}(?:那么)?假如{T2}为{_w('x')}{c}此时{O2}为{_w('y')}"
                   r"的概率的(?P<bound>上界|下界)是多少？"],
        }.get("PN" if task == "PS" else task, [])
    return {
        "ATE": [rf"if {T} is changed to be {_w('x')}, will {O} be more likely to be {_w('y')}\?"],
        "CDE": [rf"conditioned on (?P<fixed>.+?), if {T} had been {_w('x')}, would {O} have been more likely to be "
                rf"{_w('y')}\?"],
        "ETT": [rf"for those with {T} being {_w('xf')}, if their {T2} had been {_w('x')}, would {O} have been more "
                rf"likely to be {_w('y')}\?"],
        "NDE": [rf"suppose the mediator keeps constant when {T} is changed to be {_w('x')}, would {O} have been more "
                rf"likely to be {_w('y')}\?"],
        "NIE": [rf"suppose {T} is held constant and the mediator changes to whatever value it would have attained "
                rf"under {T2} changing to be {_w('x')}, would {O} have been more likely to be {_w('y')}\?"],
        "PN": [rf"given that {T} was {_w('xf')} and {O} was {_w('yf')}, what is the (?P<bound>upper|lower) bound of "
               rf"the probability (?:of|that) {O2} would have been {_w('y')} if {T2} had been {_w('x')}\?"],
    }.get("PN" if task == "PS" else task, [])


@functools.lru_cache(maxsize=None)
def _generic_templates(task: str, lang: str) -> list[re.Pattern]:
    # Names as lazy wildcards, resolved against the item's names afterwards: one compiled pattern per task
    # and language instead of one per item (compiling per-item name alternations dominated load time).
    return [re.compile(t, re.I | re.S) for t in _question_templates(task, lang, ".+?")]


def _resolve(name2id: dict[str, str], name: str) -> str | None:
    n = name.strip().lower()
    return name2id.get(n) or name2id.get("the " + n)


def _instruction_to(instruction: str, alt: str, lang: str) -> tuple[str, str] | None:
    if lang == "cn":
        m = re.search(rf"考虑(?P<T>{alt})作用于(?P<O>{alt})的", instruction, re.I)
    else:
        m = re.search(rf"\bof (?:the )?(?P<T>{alt}) on (?:the )?(?P<O>{alt})\.?\s*$", instruction, re.I)
    return (m["T"], m["O"]) if m else None


def parse_question(task: str, question: str, instruction: str, name2id: dict[str, str], values: _Values,
                   lang: str = "en") -> tuple[dict[str, Any], list[str]]:
    """The query dict for one of the seven tasks from its question (and instruction, as a cross-check)."""
    name2id = _with_variants(name2id)
    problems: list[str] = []
    q = question.strip()
    m = None
    for t in _generic_templates(task, lang):
        m = t.fullmatch(q)
        if m and _resolve(name2id, m["T"]) and _resolve(name2id, m["O"]):
            break
        m = None
    alt = _name_alternation(list(name2id))
    if m is None:  # names that the wildcards split wrongly: match the item's names as a whole
        for t in _question_templates(task, lang, alt):
            m = re.fullmatch(t, q, re.I | re.S)
            if m:
                break
    if not m:
        return {}, [f"question does not match the {task} phrasing: {q!r}"]
    gd = m.groupdict()
    tid, oid = _resolve(name2id, gd["T"]), _resolve(name2id, gd["O"])
    query: dict[str, Any] = {"treatment": tid, "outcome": oid}
    if instruction:
        to = None
        gi = re.search(r"考虑(?P<T>.+?)作用于(?P<O>.+?)的" if lang == "cn" else
                       r"\bof (?:the )?(?P<T>.+?) on (?:the )?(?P<O>.+?)\.?\s*$", instruction, re.I)
        if gi and _resolve(name2id, gi["T"]) and _resolve(name2id, gi["O"]):
            to = (gi["T"], gi["O"])
        elif alt:
            to = _instruction_to(instruction, alt, lang)
        if to and (_resolve(name2id, to[0]), _resolve(name2id, to[1])) != (tid, oid):
            problems.append(f"instruction names {to} but question treatment/outcome is {(gd['T'], gd['O'])}")

    def val(var, key):
        v = values.value(var, gd[key].strip())
        if v is None:
            problems.append(f"cannot read {gd[key]!r} (value of {var}) as 0/1")
        return v

    query["x"] = val(tid, "x")
    query["y"] = val(oid, "y")
    if "xf" in gd and gd.get("xf") is not None:
        query["x_factual"] = val(tid, "xf")
    if gd.get("yf") is not None:
        query["y_factual"] = val(oid, "yf")
    if gd.get("bound"):
        query["bound"] = "upper" if gd["bound"] in ("upper", "上界") else "lower"
    if gd.get("fixed") is not None:
        pairs = _pairs_from_words(gd["fixed"], alt, lang)
        if pairs is None:
            problems.append(f"cannot read the conditioned-on part {gd['fixed']!r}")
        else:
            fixed = {}
            for nm, w, inline in pairs:
                var = inline[0] if inline else name2id.get(nm.lower())
                v = inline[1] if inline else values.value(var, w)
                if v is None:
                    problems.append(f"cannot read {w!r} (value of {var}) as 0/1")
                fixed[var] = v
            query["fixed"] = fixed
    return query, problems


_VALUE_WORD_PROBLEM = re.compile(r"cannot read .* \(value of \S+\) as 0/1$|cannot read .* being .* as a value"
                                 r"|word .* of \S+ read as both", re.S)


def _finish(graph, query, given, problems, values, info):
    problems = list(dict.fromkeys(problems + values.conflicts))  # each problem once, in order
    if problems:  # the auditor trusts the graph of an item whose only unread parts are value words
        info["only_value_word_problems"] = all(_VALUE_WORD_PROBLEM.match(p) for p in problems)
    info["defaulted"] = [list(t) for t in values.defaulted]
    if values.assumed:
        info["assumed"] = [list(t) for t in values.assumed]
    return graph, query, given, problems, info


# --- CaLM records ---------------------------------------------------------------------------------------
def parse_calm_record(rec: dict[str, Any], task: str, lang: str = "en", use_math: bool = True,
                      given_from: str = "auto") -> tuple[dict, dict, dict, list[str], dict[str, Any]]:
    """Parse a CaLM probability-style record (``Background``, ``Instruction``, ``Question``).

    Returns ``(graph, query, given, problems, info)``. ``given`` comes from ``data_info_math`` when
    every math statement is well formed and ``use_math``; otherwise from the words of ``data_info``
    (value words learned from whatever math statements are well formed, then defaults).
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
    values = _Values(lang)
    math = parse_math(bg.get("data_info_math", "") or "")
    words, wp = parse_worded_statements(bg.get("data_info", "") or "", list(names.values()), lang)
    if use_math and math:
        _align(words, math, name2id, values)
    given_w, gp = _given_from_words(words, name2id, values)
    query: dict[str, Any] = {}
    if task in ("ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS"):
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
    if prob is not None and task in ("ATE", "CDE", "ETT", "NDE", "NIE"):
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


def _learn_from_reason(words: list[dict], reason: dict[str, str] | None, values: "_Values"
                       ) -> dict[str, str]:
    """Align worded statements with the ``P(..)=x`` statements of the Reason (same number, same shape).

    Returns the name -> letter map those statements fix (only names fixed consistently, one letter each)
    and teaches ``values`` the value words of the aligned variables.
    """
    if not reason:
        return {}
    text = " ".join(str(v) for v in reason.values()).replace(" ", "")
    stmts = []
    for m in _MATH_ONE.finditer(text):
        stmts.append((_pairs_from_math(m["lhs"]), _pairs_from_math(m["rhs"]), m["p"]))
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
                 ) -> tuple[dict, dict, dict, list[str], dict[str, Any]]:
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
        return {}, {}, {}, [f"no 'has a direct effect on' sentences in {parts['given_info'][:120]!r}"], info
    names, named_edges = pg
    values = _Values(lang)
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
    given, gp = _given_from_words(words, name2id, values)
    problems += wp + gp
    query: dict[str, Any] = {}
    if task in ("ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS"):
        if not parts["question"]:
            problems.append("no 'Question:' line")
        else:
            query, qp = parse_question(task, parts["question"], parts["instruction"], name2id, values, lang)
            problems += qp
    return _finish(graph, query, given, problems, values, info)

"""Variables and causal graphs as items state them: letter -> name lists ("A represents smoking"), lettered
edge lists ("A->B, A->C"), and prose ("Smoking has a direct effect on tar."), EN and CN.
"""

from __future__ import annotations

import re

__all__ = ["parse_names", "parse_letter_graph", "parse_prose_graph", "name_alternation", "name_variants",
           "with_name_variants"]

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


def name_alternation(names) -> str:
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


def name_variants(name: str) -> list[str]:
    """Spellings of a name that items use interchangeably: "(e.g. wind, humidity)" vs "(e.g. wind and
    humidity)", or the name without its parenthetical remark."""
    if "(" not in name:
        return []
    out = {re.sub(r"\(([^()]*)\)", lambda m: "(" + m[1].replace(", ", " and ") + ")", name),
           re.sub(r"\(([^()]*)\)", lambda m: "(" + m[1].replace(" and ", ", ") + ")", name),
           re.sub(r"\s*\([^()]*\)", "", name).strip()}
    out.discard(name)
    return [v for v in out if v]


def with_name_variants(name2id: dict[str, str]) -> dict[str, str]:
    out = dict(name2id)
    for nm, i in name2id.items():
        for v in name_variants(nm):
            out.setdefault(v.lower(), i)
    return out

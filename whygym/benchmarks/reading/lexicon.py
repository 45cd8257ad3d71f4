"""The default value-word lexicon: which words read as 0 and which as 1 when an item does not say.

The words live in ``value_words.json`` beside this module (English and Chinese), like the task vocabularies
in ``whygym/tasks/vocab/``; this module loads them once.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["DEFAULT_ZERO_WORDS", "DEFAULT_ONE_WORDS", "default_value"]

_DATA = json.loads((Path(__file__).with_name("value_words.json")).read_text(encoding="utf-8"))
#: English / Chinese words read as value 0 when the item's own math does not settle them.
DEFAULT_ZERO_WORDS: dict[str, set[str]] = {lang: set(ws) for lang, ws in _DATA["zero"].items()}
#: ... and as value 1.
DEFAULT_ONE_WORDS: dict[str, set[str]] = {lang: set(ws) for lang, ws in _DATA["one"].items()}
_NEG_PREFIXES = {lang: tuple(p) for lang, p in _DATA["negative_prefixes"].items()}
_POS_PREFIXES = {lang: tuple(p) for lang, p in _DATA["positive_prefixes"].items()}


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

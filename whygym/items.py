"""The one item schema that travels through whygym.

Generated problems, loaded benchmark questions, training examples and evaluation samples are all
:class:`Item` objects. An item carries the prompt a model sees, the gold answer in a form the scorer
reads (:attr:`Item.gold`), the canonical answer text a perfect model would write (:attr:`Item.answer`),
the step-by-step derivation (:attr:`Item.reason`), and enough structure (graph, query, given
quantities) for the exact engine to re-derive the gold.

Gold convention
---------------
``gold`` is a dict with any of these keys:

* ``"prob"`` (float): the exact numeric answer, computed from the numbers shown in the prompt
  (not rounded; e.g. ``0.17440792``). Present for the probability tasks.
* ``"label"`` (str): ``"yes"`` / ``"no"`` for binary questions, ``"LACK_CONDITION"`` when the
  prompt does not determine the answer, or a choice letter / free label for other benchmarks.

Examples
--------
>>> it = Item(id="x", task="ATE", rung=2, prompt="...", answer='{"ANSWER": "No", "PROB": "-0.0843"}',
...           gold={"prob": -0.0843, "label": "no"})
>>> Item.from_dict(it.to_dict()) == it
True
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

__all__ = ["Item", "write_jsonl", "read_jsonl", "write_parquet", "read_parquet", "to_hf_dataset",
           "atomic_write_text", "atomic_write_bytes", "PROB_TASKS", "YESNO_PROB_TASKS", "BOUND_TASKS",
           "LACK_CONDITION", "with_names", "with_letters", "with_value_words", "with_value_numbers", "value_words"]

#: The seven core probability tasks of CaLM / CauGym.
PROB_TASKS = ("ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS")
#: Tasks answered with {"ANSWER": yes/no, "PROB": signed 4-dp number}.
YESNO_PROB_TASKS = ("ATE", "CDE", "ETT", "NDE", "NIE")
#: Tasks answered with {"PROB": a Tian-Pearl bound in [0, 1]}.
BOUND_TASKS = ("PN", "PS")
#: The gold label (and the answer) of a question whose prompt does not determine the answer.
LACK_CONDITION = "LACK_CONDITION"


@dataclass
class Item:
    """One causal question with its exact answer.

    Attributes
    ----------
    id : stable identifier (same seed -> same id).
    task : task name, e.g. ``"ATE"`` (upper case for the seven core tasks; loaders may use others,
        e.g. CLadder's ``"backadj"``).
    rung : rung of Pearl's ladder (1 association, 2 intervention, 3 counterfactual).
    prompt : the full text shown to the model, including the answer-format request.
    answer : canonical answer text (the JSON a perfect model writes).
    gold : what the scorer compares with (see module docstring).
    reason : ordered steps of the derivation, ``{"Step 1": ..., ...}``.
    graph : ``{"nodes": [...], "edges": [[u, v], ...], "names": {node: name}}``.
    query : what is asked, e.g. ``{"treatment": "A", "outcome": "C", ...}``.
    given : the probabilities stated in the prompt, ``{"P(C=0|A=0)": 0.8445, ...}``.
    meta : everything else (seed, generator version, source file, index, mode, suite, ...).
    """

    id: str
    task: str
    rung: int
    prompt: str
    answer: str
    gold: dict[str, Any]
    reason: dict[str, str] = field(default_factory=dict)
    graph: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    given: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Item":
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {"id", "task", "rung", "prompt", "answer", "gold"} - set(d)
        if missing:
            raise ValueError(f"item is missing required field(s) {sorted(missing)}; got keys {sorted(d)}")
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_json(self) -> str:
        """One line of JSON; key order is fixed so the same item always gives the same bytes."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


# ------------------------------------------------------------------------------------ variable naming
#: A node letter in a derivation: a lone capital not followed by ``(`` or ``[`` (``P(``, ``E[`` are
#: notation, ``B_{A=0}`` is the counterfactual B under A=0).
_LETTER = re.compile(r"(?<![A-Za-z0-9])([A-Z])(?![A-Za-z0-9(\[])")


def with_names(text: str, names: dict[str, str]) -> str:
    """A derivation written with node letters, rewritten with the variables' names from the prompt.

    ``names`` maps letters to names (:attr:`Item.graph` ``["names"]``); letters it lacks stay.

    >>> with_names("ATE=P(C=1|do(A=1))-P(C=1|do(A=0)); E[C_{A=0}|A=1]; sum_{B} P(B)", {"A": "ujmz", "C": "wnse"})
    'ATE=P(wnse=1|do(ujmz=1))-P(wnse=1|do(ujmz=0)); E[wnse_{ujmz=0}|ujmz=1]; sum_{B} P(B)'
    """
    return _LETTER.sub(lambda m: names.get(m.group(1), m.group(1)), text)


def _name_patterns(names: dict[str, str]) -> list[tuple[re.Pattern, str]]:
    pats = []
    for letter, name in sorted(names.items(), key=lambda kv: -len(str(kv[1]))):
        name = str(name).strip()
        if len(name) < 2 or name.upper() in names:
            continue  # a one-character name cannot be told from notation
        pats.append((re.compile(r"(?<![A-Za-z0-9])" + re.escape(name) + r"(?![A-Za-z0-9])", re.IGNORECASE),
                     letter))
    return pats


def with_letters(text: str, names: dict[str, str]) -> str:
    """The inverse of :func:`with_names`: every variable name (any case, longest first) becomes its letter,
    so a derivation written with names can be read like one written with letters.

    >>> with_letters("P(Lung Cancer=1|do(smoking=1)) and P(lung cancer risk=0)",
    ...              {"A": "smoking", "B": "lung cancer", "C": "lung cancer risk"})
    'P(B=1|do(A=1)) and P(C=0)'
    """
    for pat, letter in _name_patterns(names):
        text = pat.sub(letter, text)
    return text


#: An assignment of a node letter in a derivation: ``C=1`` in ``P(C=1|A=0)``, ``do(A=1,B=0)``, ``C_{A=0}``.
_ASSIGN = re.compile(r"(?<![A-Za-z0-9_])([A-Z])=([01])(?![0-9.])")


def value_words(graph: Any) -> dict[str, tuple[str, str]]:
    """Each variable's value words (letter -> (word for 0, word for 1)) from an item's graph
    (``graph["values"]``); a value without a word (a loaded item whose prompt never names it) is None,
    and a variable whose two words coincide is left out (they cannot be told apart).

    >>> value_words({"values": {"A": ["dry", "wet"], "B": ["low", None], "C": ["x", "X"]}})
    {'A': ('dry', 'wet'), 'B': ('low', None)}
    """
    vals = (graph or {}).get("values") if isinstance(graph, dict) else None
    out: dict[str, tuple[str | None, str | None]] = {}
    for k, v in (vals or {}).items() if isinstance(vals, dict) else ():
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            continue
        w0, w1 = (w.strip() if isinstance(w, str) and w.strip() else None for w in v)
        if (w0 or w1) and (w0 or "").lower() != (w1 or "").lower():
            out[str(k)] = (w0, w1)
    return out


def with_value_words(text: str, values: dict[str, tuple[str | None, str | None]]) -> str:
    """A derivation written with node letters and 0/1 values, rewritten with each variable's value words
    as the prompt states them (``C=1`` -> ``C=high``), so that every probability in the derivation reads
    like the sentence of the prompt that states it. Apply before :func:`with_names`.

    >>> with_value_words("ATE=P(C=1|do(A=0))-P(C=1|do(A=1)); E[C_{A=0}|A=1]; ATE=0.5",
    ...                  {"A": ("dry", "wet"), "C": ("low", "high")})
    'ATE=P(C=high|do(A=dry))-P(C=high|do(A=wet)); E[C_{A=dry}|A=wet]; ATE=0.5'
    """
    def word(m):
        w = values.get(m.group(1), (None, None))[int(m.group(2))]
        return f"{m.group(1)}={w}" if w else m.group(0)

    return _ASSIGN.sub(word, text)


def with_value_numbers(text: str, names: dict[str, str], values: dict[str, tuple[str | None, str | None]]) -> str:
    """The inverse of :func:`with_value_words`, for a derivation written with names or letters: each
    ``VARIABLE=WORD`` (the variable by its letter or its name, any case, the word one of that variable's
    two value words) becomes ``VARIABLE=0`` or ``=1``. Words are read per variable (two variables may code
    one word differently). Apply before :func:`with_letters`.

    >>> with_value_numbers("P(soil moisture=High|do(Rain = light)) P(A=heavy)",
    ...                    {"A": "rain", "B": "soil moisture"}, {"A": ("light", "heavy"), "B": ("high", "low")})
    'P(soil moisture=0|do(Rain=0)) P(A=1)'
    """
    for letter, (w0, w1) in values.items():
        found = _value_pattern(letter, str(names.get(letter, "")).strip(), w0, w1)
        if found is not None:
            pat, code = found
            text = pat.sub(lambda m: f"{m.group(1)}={code[m.group(2).lower()]}", text)
    return text


@functools.lru_cache(maxsize=8192)  # the verifier and the process reward read many completions per item
def _value_pattern(letter: str, name: str, w0: str | None, w1: str | None):
    words = sorted({(w.lower(), v) for v, w in ((0, w0), (1, w1)) if w}, key=lambda t: -len(t[0]))
    if not words:
        return None
    who = ([re.escape(name)] if name else []) + [f"(?-i:{re.escape(letter)})"]
    pat = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(who) + r")\s*=\s*("
                     + "|".join(re.escape(w) for w, _ in words) + r")(?![A-Za-z0-9])", re.IGNORECASE)
    return pat, dict(words)


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one
    (a temporary file in the same folder, fsynced, then renamed over the target). The file gets the
    usual permissions (0666 less the umask), not mkstemp's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_jsonl(items: Iterable[Item], path: str | os.PathLike) -> int:
    """Write items as JSON Lines, atomically. Returns the number written."""
    lines = [it.to_json() for it in items]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def read_jsonl(path: str | os.PathLike) -> Iterator[Item]:
    """Read items written by :func:`write_jsonl`; errors name the file and line."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Item.from_dict(json.loads(line))
            except (json.JSONDecodeError, ValueError, TypeError) as e:
                raise ValueError(f"{path}:{lineno}: not a whygym item ({e}). "
                                 "Expected one JSON object per line as written by `whygym generate`.") from e


# Nested dicts with varying keys (given, graph.names, meta) do not map onto a fixed Arrow schema, so
# Parquet and HF datasets store them as JSON strings; the flat fields stay typed columns.
_JSON_COLUMNS = ("gold", "reason", "graph", "query", "given", "meta")


def _flat_rows(items: Iterable[Item]) -> list[dict[str, Any]]:
    rows = []
    for it in items:
        d = it.to_dict()
        for k in _JSON_COLUMNS:
            d[k] = json.dumps(d[k], ensure_ascii=False, sort_keys=True)
        rows.append(d)
    return rows


def _from_flat(row: dict[str, Any]) -> Item:
    d = dict(row)
    for k in _JSON_COLUMNS:
        if isinstance(d.get(k), str):
            d[k] = json.loads(d[k])
    return Item.from_dict(d)


def write_parquet(items: Iterable[Item], path: str | os.PathLike) -> int:
    """Write items to a Parquet file (nested fields as JSON strings), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _flat_rows(items)
    table = pa.Table.from_pylist(rows) if rows else pa.table({f.name: [] for f in dataclasses.fields(Item)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return len(rows)


def read_parquet(path: str | os.PathLike) -> list[Item]:
    import pyarrow.parquet as pq

    return [_from_flat(r) for r in pq.read_table(path).to_pylist()]


def to_hf_dataset(items: Iterable[Item]):
    """A :class:`datasets.Dataset` with one row per item (nested fields as JSON strings)."""
    import datasets

    return datasets.Dataset.from_list(_flat_rows(items))

"""Reading benchmark files with errors that name the file, the line or index, and what was expected."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["data_root", "read_records", "require", "BenchmarkFormatError"]


class BenchmarkFormatError(ValueError):
    """A benchmark file is not in the format its loader expects (a :class:`ValueError`)."""


def data_root() -> Path:
    """The reference-data folder: ``$WHYGYM_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("WHYGYM_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def read_records(path: str | os.PathLike, *, expect: str = "auto") -> list[tuple[str, dict[str, Any]]]:
    """Read a JSON array or JSON Lines file into ``[(where, record), ...]``.

    ``where`` is ``"line N"`` (JSON Lines) or ``"index N"`` (array) for error messages.
    ``expect`` is ``"array"``, ``"lines"`` or ``"auto"`` (an array if the first non-space character is ``[``).
    Every record must be a JSON object; anything else raises :class:`BenchmarkFormatError`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BenchmarkFormatError(f"{path}: not UTF-8 text ({e}); expected a JSON benchmark file") from e
    head = text.lstrip()[:1]
    if not head:
        raise BenchmarkFormatError(f"{path}: empty file; expected a JSON array or JSON Lines of benchmark records")
    if expect == "auto":
        expect = "array" if head == "[" else "lines"
    out: list[tuple[str, dict[str, Any]]] = []
    if expect == "array":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise BenchmarkFormatError(f"{path}: line {e.lineno} column {e.colno}: invalid JSON ({e.msg}); "
                                       "expected one JSON array of objects") from e
        if not isinstance(data, list):
            raise BenchmarkFormatError(f"{path}: top level is {type(data).__name__}; expected a JSON array of objects")
        for i, rec in enumerate(data):
            if not isinstance(rec, dict):
                raise BenchmarkFormatError(f"{path}: index {i}: {type(rec).__name__}; expected a JSON object")
            out.append((f"index {i}", rec))
        if not out:
            raise BenchmarkFormatError(f"{path}: an empty JSON array; expected benchmark records")
        return out
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise BenchmarkFormatError(f"{path}: line {lineno}: invalid JSON ({e.msg} at column {e.colno}); "
                                       "expected one JSON object per line (JSON Lines)") from e
        if not isinstance(rec, dict):
            raise BenchmarkFormatError(f"{path}: line {lineno}: {type(rec).__name__}; expected a JSON object")
        out.append((f"line {lineno}", rec))
    return out


def require(rec: dict[str, Any], keys, path, where: str, what: str) -> None:
    """Raise naming file and line/index when ``rec`` lacks any of ``keys``."""
    missing = [k for k in keys if k not in rec]
    if missing:
        raise BenchmarkFormatError(f"{path}: {where}: missing field(s) {missing} (has {sorted(rec)[:12]}); "
                                   f"expected {what}")

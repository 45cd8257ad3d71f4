"""A response cache in SQLite, and a backend wrapper that only asks the model for what is missing.

Key: SHA-256 of ``[backend.config, kind, prompt, request settings, sample index]``. ``backend.config``
holds the model identity (for local checkpoints a fingerprint of the weight files, so retraining into
the same folder invalidates old answers) and precision. For greedy requests (``temperature == 0``) the
seed and ``top_p`` are left out of the settings and every sample index maps to sample 0, since greedy
decoding ignores them.

Durability: the database runs in WAL mode and :class:`CachedBackend` commits after every chunk of
prompts (one backend batch by default), so a process killed mid-run loses at most the chunk in flight; a
rerun of the same command finds everything written before and continues from there. This is what makes
``whygym eval`` resumable. Several processes may share one cache file (SQLite locking, 60 s busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from whygym.models.base import Backend, Generation, check_generate_args

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key     TEXT PRIMARY KEY,
    backend TEXT NOT NULL,     -- backend name, for humans; the key holds the full config
    kind    TEXT NOT NULL,     -- 'generate' | 'loglikelihood'
    prompt  TEXT NOT NULL,
    request TEXT NOT NULL,     -- JSON settings
    sample  INTEGER NOT NULL,
    value   TEXT NOT NULL,     -- JSON: a Generation dict, or {"loglik": float}
    created REAL NOT NULL
)"""


def default_cache_path() -> Path:
    """``$WHYGYM_CACHE/responses.sqlite`` (``WHYGYM_CACHE`` defaults to ``~/.cache/whygym``)."""
    from whygym.models.resolve import cache_root

    return cache_root() / "responses.sqlite"


def cache_key(config: dict[str, Any], kind: str, prompt: str, request: dict[str, Any], sample: int) -> str:
    """The cache key: SHA-256 hex of the canonical JSON of its parts."""
    blob = json.dumps([config, kind, prompt, request, sample], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def generation_request(*, max_new_tokens: int, temperature: float, top_p: float, seed: int,
                       system: str | None) -> dict[str, Any]:
    """The settings that determine a generation; greedy drops the ones greedy decoding ignores."""
    req: dict[str, Any] = {"max_new_tokens": max_new_tokens, "temperature": float(temperature), "system": system}
    if temperature > 0:
        req.update(top_p=float(top_p), seed=seed)
    return req


class ResponseCache:
    """Key-value store of model responses in one SQLite file.

    Parameters
    ----------
    path : str or path
        Database file; parent folders are created. ``":memory:"`` for a throwaway cache.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(os.path.expanduser(self.path), timeout=60.0, check_same_thread=False,
                                   isolation_level=None)  # autocommit; we open transactions explicitly
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a killed process loses nothing committed (only a power cut could).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored values (decoded JSON) for the keys present."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for k in range(0, len(keys), 500):
                part = keys[k:k + 500]
                rows = self._db.execute(f"SELECT key, value FROM responses WHERE key IN ({','.join('?' * len(part))})",
                                        part).fetchall()
                found.update((key, json.loads(v)) for key, v in rows)
        return found

    def put_many(self, rows: Iterable[tuple[str, str, str, str, dict[str, Any], int, dict[str, Any]]]) -> None:
        """Store ``(key, backend_name, kind, prompt, request, sample, value)`` rows in one transaction.

        Existing keys are kept (first write wins), so concurrent writers of the same entry agree.
        """
        now = time.time()
        data = [(k, b, kind, p, json.dumps(req, sort_keys=True), s, json.dumps(v), now)
                for k, b, kind, p, req, s, v in rows]
        if not data:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO responses VALUES (?,?,?,?,?,?,?,?)", data)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachedBackend:
    """Wraps a backend: answers from the cache, sends only missing requests, saves each chunk at once.

    Parameters
    ----------
    backend : Backend
        The model to call on a miss; its ``config`` is part of every key.
    cache : ResponseCache, str or path
        The cache (or a database path to open one).
    chunk_size : int, optional
        Prompts per call to ``backend`` (and per commit). Default: the backend's ``batch_size`` when it
        has one, else twice its ``concurrency``, else 8. Missing prompts are sorted by length before
        chunking so that each chunk pads little.
    progress : callable, optional
        Called with the number of prompts completed after each chunk (for progress bars).

    Attributes
    ----------
    hits, misses : int
        Samples (or scores) served from the cache / computed by the backend, over this object's life.

    Examples
    --------
    >>> from whygym.models import MockBackend, ResponseCache, CachedBackend
    >>> be = CachedBackend(MockBackend("Yes"), ResponseCache(":memory:"))
    >>> _ = be.generate(["q1", "q2"], max_new_tokens=4); _ = be.generate(["q1", "q3"], max_new_tokens=4)
    >>> be.hits, be.misses
    (1, 3)
    """

    def __init__(self, backend: Backend, cache: ResponseCache | str | os.PathLike, *, chunk_size: int | None = None,
                 progress: Callable[[int], None] | None = None):
        self.backend = backend
        self.cache = cache if isinstance(cache, ResponseCache) else ResponseCache(cache)
        if chunk_size is None:
            chunk_size = (getattr(backend, "batch_size", None) or 2 * (getattr(backend, "concurrency", None) or 4))
        self.chunk_size = max(1, int(chunk_size))
        self.progress = progress
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def config(self) -> dict[str, Any]:
        return self.backend.config

    def __getattr__(self, attr: str) -> Any:  # other backend methods pass through, uncached
        if attr == "backend":
            raise AttributeError(attr)
        return getattr(self.backend, attr)

    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: int = 0,
                 system: str | None = None) -> list[list[Generation]]:
        """Like the wrapped backend's ``generate``; only missing samples reach the model."""
        check_generate_args(prompts, max_new_tokens, temperature, top_p, n)
        req = generation_request(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                 seed=seed, system=system)
        cfg = self.backend.config
        n_distinct = 1 if temperature == 0 else n
        keys = {(p, i): cache_key(cfg, "generate", p, req, i) for p in dict.fromkeys(prompts) for i in range(n_distinct)}
        found = self.cache.get_many(keys.values())
        got: dict[tuple[str, int], Generation] = {pi: Generation.from_dict(found[k]) for pi, k in keys.items() if k in found}
        missing = [p for p in dict.fromkeys(prompts) if any((p, i) not in got for i in range(n_distinct))]
        self.hits += sum(1 for p in prompts for i in range(n_distinct) if (p, i) in got)
        missing.sort(key=len, reverse=True)
        for k in range(0, len(missing), self.chunk_size):
            chunk = missing[k:k + self.chunk_size]
            res = self.backend.generate(chunk, max_new_tokens=max_new_tokens, temperature=temperature,
                                        top_p=top_p, n=n_distinct, seed=seed, system=system)
            rows = []
            for p, samples in zip(chunk, res):
                for i, g in enumerate(samples[:n_distinct]):
                    if (p, i) not in got:
                        got[(p, i)] = g
                        rows.append((keys[(p, i)], self.backend.name, "generate", p, req, i, g.to_dict()))
            self.cache.put_many(rows)
            if self.progress:
                self.progress(len(chunk))
        self.misses += sum(1 for p in prompts for i in range(n_distinct)) - sum(
            1 for p in prompts for i in range(n_distinct) if keys[(p, i)] in found)
        return [[got[(p, 0 if temperature == 0 else i)] for i in range(n)] for p in prompts]

    def loglikelihood(self, prompts: list[str], continuations: list[str], *,
                      system: str | None = None) -> list[float]:
        """Like the wrapped backend's ``loglikelihood``; only missing pairs reach the model."""
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        cfg = self.backend.config
        pairs = list(zip(prompts, continuations))
        keys = {pc: cache_key(cfg, "loglikelihood", pc[0], {"continuation": pc[1], "system": system}, 0)
                for pc in dict.fromkeys(pairs)}
        found = self.cache.get_many(keys.values())
        got = {pc: found[k]["loglik"] for pc, k in keys.items() if k in found}
        self.hits += sum(1 for pc in pairs if pc in got)
        self.misses += sum(1 for pc in pairs if pc not in got)
        missing = sorted((pc for pc in keys if pc not in got), key=lambda pc: len(pc[0]) + len(pc[1]), reverse=True)
        for k in range(0, len(missing), self.chunk_size):
            chunk = missing[k:k + self.chunk_size]
            scores = self.backend.loglikelihood([p for p, _ in chunk], [c for _, c in chunk], system=system)
            rows = []
            for pc, s in zip(chunk, scores):
                got[pc] = float(s)
                rows.append((keys[pc], self.backend.name, "loglikelihood", pc[0],
                             {"continuation": pc[1], "system": system}, 0, {"loglik": float(s)}))
            self.cache.put_many(rows)
            if self.progress:
                self.progress(len(chunk))
        return [got[pc] for pc in pairs]

"""The response cache: hits and misses, keys, and survival of a killed writer."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from whygym.models import CachedBackend, MockBackend, ResponseCache


def _counting(prefix="ans"):
    return MockBackend(lambda p, sample_index=0: f"{prefix} {p} #{sample_index}")


def test_hits_and_misses(tmp_path):
    mock = _counting()
    be = CachedBackend(mock, tmp_path / "c.sqlite", chunk_size=2)
    first = be.generate(["a", "b", "c"], max_new_tokens=5)
    assert (be.hits, be.misses, len(mock.calls)) == (0, 3, 3)
    second = be.generate(["c", "a", "d"], max_new_tokens=5)
    assert (be.hits, be.misses, len(mock.calls)) == (2, 4, 4)
    assert second[0] == first[2] and second[1] == first[0]
    assert second[2][0].text == "ans d #0"
    # another setting is another key
    be.generate(["a"], max_new_tokens=6)
    assert be.misses == 5
    # a new process-level object over the same file sees it all
    be2 = CachedBackend(_counting(), tmp_path / "c.sqlite")
    assert be2.generate(["a", "b", "c", "d"], max_new_tokens=5) == first + [second[2]]
    assert (be2.hits, be2.misses) == (4, 0)


def test_greedy_ignores_seed_and_top_p_and_shares_samples(tmp_path):
    mock = _counting()
    be = CachedBackend(mock, ResponseCache(tmp_path / "c.sqlite"))
    r = be.generate(["a"], max_new_tokens=5, n=3, seed=1)
    assert len(r[0]) == 3 and len(mock.calls) == 1
    be.generate(["a"], max_new_tokens=5, n=1, seed=2, top_p=0.5)
    assert be.misses == 1 and be.hits == 1


def test_samples_are_keyed_by_index(tmp_path):
    mock = _counting()
    be = CachedBackend(mock, ResponseCache(":memory:"))
    r2 = be.generate(["a", "b"], max_new_tokens=5, temperature=0.7, n=2)
    assert [g.text for g in r2[0]] == ["ans a #0", "ans a #1"]
    r3 = be.generate(["a", "b"], max_new_tokens=5, temperature=0.7, n=3)
    assert r3[0][:2] == r2[0] and r3[0][2].text == "ans a #2"
    assert (be.hits, be.misses) == (4, 6)
    be.generate(["a"], max_new_tokens=5, temperature=0.7, n=1, seed=5)  # other seed: miss
    assert be.misses == 7


def test_backend_config_is_part_of_the_key(tmp_path):
    path = tmp_path / "c.sqlite"
    a = CachedBackend(MockBackend("one", name="m1"), path)
    b = CachedBackend(MockBackend("two", name="m2"), path)
    assert a.generate(["q"], max_new_tokens=3)[0][0].text == "one"
    assert b.generate(["q"], max_new_tokens=3)[0][0].text == "two"
    assert b.misses == 1


def test_loglikelihood_cached(tmp_path):
    mock = MockBackend(None)
    be = CachedBackend(mock, tmp_path / "c.sqlite")
    a = be.loglikelihood(["p", "p", "q"], ["Yes", "No", "Yes"])
    b = be.loglikelihood(["q", "p"], ["Yes", "No"])
    assert b == [a[2], a[1]]
    assert (be.hits, be.misses, len(mock.calls)) == (2, 3, 3)
    c = be.loglikelihood(["q"], ["Yes"], system="s")
    assert be.misses == 4 and c != [a[2]]


def test_duplicate_prompts_computed_once(tmp_path):
    mock = _counting()
    be = CachedBackend(mock, ResponseCache(":memory:"))
    r = be.generate(["a", "a", "b"], max_new_tokens=5)
    assert r[0] == r[1] and len(mock.calls) == 2


def test_progress_callback(tmp_path):
    seen = []
    be = CachedBackend(_counting(), ResponseCache(":memory:"), chunk_size=2, progress=seen.append)
    be.generate(list("abcde"), max_new_tokens=3)
    assert seen == [2, 2, 1]


_CHILD = textwrap.dedent("""
    import sys, time, pathlib
    from whygym.models import CachedBackend, MockBackend, ResponseCache
    marker = pathlib.Path(sys.argv[2])
    def respond(p):
        if p == "p10":          # the 4th chunk: announce, then hang until killed
            marker.touch()
            time.sleep(120)
        return "ans " + p
    be = CachedBackend(MockBackend(respond), ResponseCache(sys.argv[1]), chunk_size=3)
    be.generate([f"p{i:02d}" for i in range(20)], max_new_tokens=5)
""")


def test_cache_survives_a_killed_writer(tmp_path):
    db, marker = tmp_path / "c.sqlite", tmp_path / "hanging"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(db), str(marker)])
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None, "the writer died before reaching the hanging chunk"
            assert time.time() < deadline, "the writer never reached the hanging chunk"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    mock = MockBackend(lambda p: "ans " + p)
    be = CachedBackend(mock, db, chunk_size=3)
    res = be.generate([f"p{i:02d}" for i in range(20)], max_new_tokens=5)
    assert [r[0].text for r in res] == [f"ans p{i:02d}" for i in range(20)]
    # three chunks of three were committed before the kill; only the rest is recomputed
    assert (be.hits, be.misses) == (9, 11)
    assert sorted(p for _, p in mock.calls) == [f"p{i:02d}" for i in range(9, 20)]


def test_cache_wraps_a_real_backend(tiny, prompts, tmp_path):
    from whygym.models import TransformersBackend

    model, tok = tiny
    inner = TransformersBackend(model, tok, batch_size=4)
    be = CachedBackend(inner, tmp_path / "c.sqlite")
    kw = dict(max_new_tokens=8, temperature=0.9, n=2, seed=4)
    first = be.generate(prompts[:4], **kw)
    # resumed run with more prompts: cached samples equal fresh ones (per-sample seeds)
    both = be.generate(prompts, **kw)
    assert both[:4] == first and be.hits == 8
    assert both == inner.generate(prompts, **kw)
    assert be.next_token_logprobs(prompts[:1], ["yes"]) == inner.next_token_logprobs(prompts[:1], ["yes"])


def test_rejects_bad_args():
    be = CachedBackend(MockBackend("x"), ResponseCache(":memory:"))
    with pytest.raises(ValueError):
        be.generate(["a"], max_new_tokens=3, n=0)
    with pytest.raises(ValueError):
        be.loglikelihood(["a"], [])

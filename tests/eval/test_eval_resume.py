"""Kill-and-resume: a `whygym eval` killed mid-run (real SIGKILL) and rerun ends with exactly the files of an
uninterrupted run, and the rerun asks the model only for what the cache lacked."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BENCH = "gen:all:6:0"  # 42 items
N_ITEMS = 42


def _cmd(out):
    # `python -m whygym.eval` is `whygym eval` (same parser and entry) without importing the other
    # subcommands' modules, which keeps each process start to about a second.
    return [sys.executable, "-m", "whygym.eval", "--model", "mock:scripted_model:oracle_or_not",
            "--benchmark", BENCH, "--batch-size", "4", "--out", str(out), "--no-progress"]


def _env(calls, delay):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")])
    env["WHYGYM_TEST_CALLS"] = str(calls)
    env["WHYGYM_TEST_DELAY"] = str(delay)
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def _cached_rows(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def _stable(doc):
    # Timings, paths, cache statistics and the command line legitimately differ between runs.
    return {k: v for k, v in doc.items() if k not in ("run", "environment")}


def _interrupt_mid_run(out, calls, sig, min_calls=12):
    # the child gets the default SIGINT disposition: a suite started in the background (`cmd &`) inherits
    # SIGINT ignored, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen(_cmd(out), env=_env(calls, 0.04), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 90
    while len(_lines(calls)) < min_calls:  # at least three batches of 4 reached the model
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be interrupted: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("run made no progress in 90 s")
        time.sleep(0.01)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run in a fresh folder."""
    out = tmp_path_factory.mktemp("fresh")
    calls = out.parent / "fresh_calls.txt"
    subprocess.run(_cmd(out), env=_env(calls, 0), cwd=ROOT, check=True, capture_output=True, text=True)
    assert len(_lines(calls)) == N_ITEMS
    return out


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, reference):
    out = tmp_path / "run"
    calls1, calls2, calls3 = tmp_path / "calls1.txt", tmp_path / "calls2.txt", tmp_path / "calls3.txt"
    rc, _, _ = _interrupt_mid_run(out, calls1, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert not (out / "results.json").exists()  # it really died before the end
    cached = _cached_rows(out / "cache.sqlite")
    called_before = len(_lines(calls1))
    assert 8 <= cached < N_ITEMS  # whole batches were committed as they finished
    assert cached <= called_before <= cached + 4  # at most the batch in flight was lost

    done = subprocess.run(_cmd(out), env=_env(calls2, 0), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # The rerun called the model for the missing items only, each exactly once.
    rerun_calls = _lines(calls2)
    assert len(rerun_calls) == N_ITEMS - cached and len(set(rerun_calls)) == len(rerun_calls)
    doc = json.loads((out / "results.json").read_text())
    assert doc["run"]["samples_generated"] == N_ITEMS - cached
    assert doc["run"]["samples_from_cache"] == cached

    ref = json.loads((reference / "results.json").read_text())
    assert _stable(doc) == _stable(ref)
    assert (out / "samples.jsonl").read_bytes() == (reference / "samples.jsonl").read_bytes()

    # A third run is served entirely from the cache and writes the same files again.
    again = subprocess.run(_cmd(out), env=_env(calls3, 0), cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0 and _lines(calls3) == []
    assert (out / "samples.jsonl").read_bytes() == (reference / "samples.jsonl").read_bytes()
    assert _stable(json.loads((out / "results.json").read_text())) == _stable(ref)


def test_ctrl_c_exits_130_and_resumes(tmp_path, reference):
    out = tmp_path / "run"
    rc, _, stderr = _interrupt_mid_run(out, tmp_path / "c1.txt", signal.SIGINT)
    assert rc == 130 and "rerun the same command to resume" in stderr
    cached = _cached_rows(out / "cache.sqlite")
    done = subprocess.run(_cmd(out), env=_env(tmp_path / "c2.txt", 0), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(_lines(tmp_path / "c2.txt")) == N_ITEMS - cached
    assert (out / "samples.jsonl").read_bytes() == (reference / "samples.jsonl").read_bytes()

"""Against a real inference server: llama-cpp-python's OpenAI-compatible server on the default model's GGUF.

Opt-in (``make test-servers`` builds the ``llamacpp-server`` extra and sets ``WHYGYM_TEST_SERVERS=1``): it
starts ``python -m llama_cpp.server`` on a free loopback port, drives ``whygym eval`` against it as a user
would (greedy, and several samples at T=0.6 as CauGym's own evaluation draws them), compares the greedy
answers with the in-process llama.cpp backend on the same GGUF, checks every server fault ends in one line
and no traceback, and stops the server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from whygym.models.resolve import default_model_dir

pytestmark = [
    pytest.mark.skipif(os.environ.get("WHYGYM_TEST_SERVERS") != "1",
                       reason="real-server tests are opt-in: run `make test-servers`"),
]

BENCH = "calm-lite:probability-en"
# llama-cpp-python's server samples with repeat_penalty 1.1 unless told; the in-process backend uses 1 (none).
# Without --chat_format the server applies the GGUF's own chat template, as the in-process backend does.
SAME = "extra.repeat_penalty=1"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _gguf() -> Path:
    from whygym.models.resolve import default_gguf_path

    return Path(default_gguf_path())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        pytest.fail("llama-cpp-python[server] is not installed: `make test-servers` installs it")
    from whygym.models.llamacpp_server import ServerStartError, llamacpp_server

    log = tmp_path_factory.mktemp("server") / "server.log"
    try:
        with llamacpp_server(_gguf(), threads=2, n_ctx=2048, log_path=log, env=ENV) as base:
            yield base, urlsplit(base).port
    except ServerStartError as e:
        pytest.fail(str(e))


def _eval(model: str, out: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "whygym.cli", "eval", "--model", model, "--benchmark", BENCH, "--per-task", "1",
           "--max-new-tokens", "96", "--no-progress", "--out", str(out), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=900)
    if check:
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return p


def _samples(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def _answers(out: Path) -> dict[str, object]:
    return {s["id"]: s.get("extracted") for s in _samples(out)}


def test_greedy_matches_the_in_process_backend(server, tmp_path):
    base, _ = server
    _eval(f"openai:smollm2@{base}?{SAME}", tmp_path / "server")
    _eval(f"gguf:{_gguf()}", tmp_path / "inproc")
    served, local = _samples(tmp_path / "server"), _samples(tmp_path / "inproc")
    assert len(served) == len(local) == 7
    same_text = sum(a["output"] == b["output"] for a, b in zip(served, local))
    same_answer = sum(a.get("extracted") == b.get("extracted") for a, b in zip(served, local))
    print(f"server vs in-process, greedy: {same_text}/7 identical texts, {same_answer}/7 identical answers")
    assert same_answer == 7, [(a["output"][:120], b["output"][:120]) for a, b in zip(served, local)]
    doc = json.loads((tmp_path / "server" / "results.json").read_text())
    assert doc["model"]["spec"].startswith("openai:")


def test_sampled_evaluation_draws_every_sample(server, tmp_path):
    """The server ignores n: whygym notices and asks once per sample, with distinct seeds."""
    base, _ = server
    out = tmp_path / "sampled"
    _eval(f"openai:smollm2@{base}", out, "--samples", "3", "--temperature", "0.6")
    rows = _samples(out)
    per_item = Counter(r["id"] for r in rows)
    assert len(per_item) == 7 and set(per_item.values()) == {3}, per_item
    doc = json.loads((out / "results.json").read_text())
    assert doc["run"]["sampling_mode"] == "one_request_per_sample"
    texts = Counter(i for i, _ in {(r["id"], r["output"]) for r in rows})
    assert sum(v > 1 for v in texts.values()) >= 3, "the samples of an item should differ (distinct seeds)"
    # a rerun is served from the cache: nothing is asked again
    again = _eval(f"openai:smollm2@{base}", out, "--samples", "3", "--temperature", "0.6")
    assert again.returncode == 0
    assert json.loads((out / "results.json").read_text())["run"]["samples_generated"] == 0


def _one_line_error(p: subprocess.CompletedProcess) -> str:
    assert p.returncode != 0
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr[-3000:]
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip() and not ln.startswith(("warning", "  warn"))]
    return lines[-1]


def test_faults_end_in_one_line(server, tmp_path):
    base, port = server
    # a wrong base URL (the API root is /v1): the server answers 404
    msg = _one_line_error(_eval(f"openai:smollm2@http://127.0.0.1:{port}/v2", tmp_path / "wrong", check=False))
    assert "404" in msg or "base_url" in msg, msg
    # nobody listening
    from whygym.models.llamacpp_server import free_port

    dead = free_port()
    msg = _one_line_error(_eval(f"openai:smollm2@http://127.0.0.1:{dead}/v1?timeout=5", tmp_path / "down",
                                check=False))
    assert str(dead) in msg, msg
    # the calculator needs to know which stop string ended a completion; this server does not say: a clear
    # error that names what works (llama.cpp's own llama-server, vLLM), not a traceback
    msg = _one_line_error(_eval(f"openai:smollm2@{base}?completions=true&chat_template={default_model_dir()}", tmp_path / "tools",
                                "--tools", "calculator", check=False))
    assert "stop" in msg, msg

"""Scripted models for the eval tests, loaded by spec (``mock:scripted_model:NAME``) in subprocesses.

The test puts this folder on ``PYTHONPATH``. Each call appends one line to ``$WHYGYM_TEST_CALLS`` (when set),
so a test can count what reached the "model" across processes, and sleeps ``$WHYGYM_TEST_DELAY`` seconds
so that a test can kill a run in the middle.
"""

import hashlib
import json
import os
import time


def _record(prompt: str) -> None:
    path = os.environ.get("WHYGYM_TEST_CALLS")
    if path:
        with open(path, "a") as f:
            f.write(hashlib.sha256(prompt.encode()).hexdigest()[:16] + "\n")
            f.flush()
    delay = float(os.environ.get("WHYGYM_TEST_DELAY", "0"))
    if delay:
        time.sleep(delay)


def oracle_or_not(prompt: str, sample_index: int = 0) -> str:
    """Right for two prompts in three (by a hash of the prompt), a wrong number otherwise, sometimes no JSON."""
    _record(prompt)
    h = int(hashlib.sha256(f"{prompt}|{sample_index}".encode()).hexdigest(), 16)
    if h % 7 == 0:
        return "I cannot tell."
    if h % 3 == 0:
        return json.dumps({"ANSWER": "Yes", "PROB": "0.4321"})
    return json.dumps({"ANSWER": "No", "PROB": "-0.1000"})

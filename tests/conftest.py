"""Fixtures shared by test folders."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A tiny random Llama and its tokenizer saved as a transformers checkpoint folder (no download)."""
    from whygym.models import tiny_llama

    model, tok = tiny_llama(seed=0)
    d = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d

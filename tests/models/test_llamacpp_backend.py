"""The llama.cpp backend is an optional extra: a clear error without it, a smoke test with it."""

import importlib.util

import pytest

HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None


@pytest.mark.skipif(HAVE_LLAMA_CPP, reason="llama_cpp is installed")
def test_missing_extra_says_how_to_install():
    from whygym.models import load_backend

    with pytest.raises(ImportError, match=r"whygym\[llamacpp\].*GGML_NATIVE=OFF|GGML_NATIVE=OFF.*whygym\[llamacpp\]"):
        load_backend("gguf:default")


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_LLAMA_CPP, reason="optional extra 'llamacpp' (llama-cpp-python) not installed")
def test_default_gguf_generates_and_scores():
    from whygym.models import load_backend

    be = load_backend("gguf:default", n_ctx=1024)
    [[g]] = be.generate(["What is 2+2? Answer with a number."], max_new_tokens=16)
    assert g.text and g.finish_reason in ("stop", "length") and g.n_prompt_tokens > 10
    a = be.generate(["Name a colour."], max_new_tokens=8, temperature=1.0, n=2, seed=3)
    assert a == be.generate(["Name a colour."], max_new_tokens=8, temperature=1.0, n=2, seed=3)
    yes, no = be.loglikelihood(["Is 2 greater than 1? Answer Yes or No."] * 2, ["Yes", "No"])
    assert yes < 0 and no < 0

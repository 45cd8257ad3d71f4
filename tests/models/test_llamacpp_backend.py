"""The llama.cpp backend is an optional extra: a clear error without it, a smoke test with it."""

import importlib.util

import pytest

from calculator_script import scripted  # noqa: E402  (tests/models/calculator_script.py)

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


# --------------------------------------------------------------------- the tool path, on a fake Llama
TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")
# What the scripted model answers; between backticks, the values it writes in its calculator calls (wrong).
SCRIPT = "ATE=<<0.8315-0.9066=`9.9999`>>, PN=<<min{1, 0.5/0.25}=`7`>> done"
FIXED = "ATE=<<0.8315-0.9066=-0.0751>>, PN=<<min{1, 0.5/0.25}=1.0000>> done"


class FakeLlama:
    """Stands in for ``llama_cpp.Llama``: one token per byte, the scripted model, and a stopping criterion
    called as llama-cpp-python calls it (after each sampled token, with the prompt and the tokens before it;
    True ends generation before that token is returned). ``honour_criteria=False`` ignores it, as an old
    library might: the backend must still hand over at the first stop string."""

    honour_criteria = True
    context = 4096

    def __init__(self, model_path, n_ctx, n_threads, logits_all, verbose, **kw):
        self.metadata = {"tokenizer.chat_template": TEMPLATE} if "no_template" not in kw else {}
        self.n_ctx, self.completions, self.chats = n_ctx, [], []

    def tokenize(self, data: bytes, add_bos=True, special=False):
        return list(data)

    def detokenize(self, ids):
        return bytes(int(t) for t in ids)

    def create_completion(self, prompt, max_tokens, temperature, top_p, top_k, min_p, repeat_penalty, seed,
                          stopping_criteria=None, stop=None):
        assert not stop  # stop strings are watched by the criterion, see the module docstring
        self.completions.append({"prompt": prompt, "max_tokens": max_tokens, "seed": seed,
                                 "temperature": temperature, "criteria": stopping_criteria is not None})
        ids = self.tokenize(prompt.encode())
        if len(ids) > self.context:
            raise ValueError(f"Requested tokens ({len(ids)}) exceed context window of {self.context}")
        out = list(scripted(SCRIPT, prompt.split("<|assistant|>", 1)[1]).encode())
        done, finish = [], "stop"
        for t in out:
            if self.honour_criteria and stopping_criteria is not None and stopping_criteria(ids + done, None):
                break
            done.append(t)
            if len(done) >= max_tokens:
                finish = "length"
                break
        return {"choices": [{"text": bytes(done).decode(), "finish_reason": finish}],
                "usage": {"prompt_tokens": len(ids), "completion_tokens": len(done)}}

    def create_chat_completion(self, messages, max_tokens, temperature, top_p, top_k, min_p, repeat_penalty, seed):
        self.chats.append(messages)
        text = SCRIPT.replace("`", "")[:max_tokens]
        return {"choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": len(text)}}


@pytest.fixture
def gguf(tmp_path, monkeypatch):
    import types

    from whygym.models import llamacpp

    monkeypatch.setattr(llamacpp, "_import_llama_cpp", lambda: types.SimpleNamespace(Llama=FakeLlama))
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF fake")
    return path


def test_calculator_with_a_fake_llama(gguf):
    from whygym.models import load_backend

    be = load_backend(f"gguf:{gguf}?n_ctx=512&tools=calculator")
    assert be.name == "llamacpp:tiny+calculator" and be.llm.n_ctx == 512 and be.config["n_ctx"] == 512
    assert be.config["tools"] == {"name": "calculator", "decimals": 4, "max_calls": 16}
    [[g]] = be.generate(["ate?"], max_new_tokens=200)
    assert g.text == FIXED and g.finish_reason == "stop"
    calls = be.llm.completions
    assert len(calls) == 1 + 2 * 2 and not be.llm.chats
    head = "<|user|>ate?\n<|assistant|>"
    assert all(c["prompt"].startswith(head) for c in calls)  # same prefix every step: the KV cache keeps it
    assert [c["prompt"][len(head):] for c in calls][:3] == ["", "ATE=<<", "ATE=<<0.8315-0.9066=-0.0751>>"]
    assert g.n_prompt_tokens == len(head)
    # what the model generated, its "<<" and "=" included (the calculator's values are not)
    model_text = "ATE=<<" + "0.8315-0.9066=" + ", PN=<<" + "min{1, 0.5/0.25}=" + " done"
    assert g.n_completion_tokens == len(model_text)


def test_calculator_without_the_criterion_still_stops_at_the_stop_strings(gguf, monkeypatch):
    from whygym.models import LlamaCppBackend

    monkeypatch.setattr(FakeLlama, "honour_criteria", False)
    be = LlamaCppBackend(gguf, tools="calculator")
    assert be.generate(["ate?"], max_new_tokens=200)[0][0].text == FIXED


def test_calculator_sampled_and_budget(gguf):
    from whygym.models import LlamaCppBackend

    be = LlamaCppBackend(gguf, tools="calculator")
    res = be.generate(["x"], max_new_tokens=200, temperature=0.7, n=2, seed=3)
    assert [g.text for g in res[0]] == [FIXED, FIXED]
    seeds = [c["seed"] for c in be.llm.completions]
    assert len(seeds) == 2 * 5 and len(set(seeds)) == 10 and all(c["temperature"] == 0.7 for c in be.llm.completions)
    assert res == be.generate(["x"], max_new_tokens=200, temperature=0.7, n=2, seed=3)
    assert seeds == [c["seed"] for c in be.llm.completions[10:]]  # the same seeds again: reproducible
    be = LlamaCppBackend(gguf, tools="calculator:max_calls=1")
    assert be.generate(["x"], max_new_tokens=200)[0][0].text.endswith("PN=<<min{1, 0.5/0.25}=7>> done")
    [[g]] = LlamaCppBackend(gguf, tools="calculator").generate(["x"], max_new_tokens=20)
    assert g.finish_reason == "length" and g.text.startswith("ATE=<<0.8315-0.9066=-0.0751>>")


def test_without_tools_the_chat_path_is_unchanged(gguf):
    from whygym.models import LlamaCppBackend

    be = LlamaCppBackend(gguf)
    assert be.name == "llamacpp:tiny" and "tools" not in be.config
    assert be.generate(["x"], max_new_tokens=200)[0][0].text == SCRIPT.replace("`", "")
    assert be.llm.chats and not be.llm.completions


def test_errors_are_one_line_user_errors(gguf, monkeypatch):
    from whygym.errors import UserError
    from whygym.models import LlamaCppBackend
    from whygym.models.llamacpp import LlamaCppError
    from whygym.models.load import BackendSettingError

    monkeypatch.setattr(FakeLlama, "context", 40)
    with pytest.raises(LlamaCppError, match=r"prompt 2 of 2 .*exceed context window.*n_ctx=N") as e:
        LlamaCppBackend(gguf, tools="calculator").generate(["a" * 1, "b" * 50], max_new_tokens=5)
    assert isinstance(e.value, UserError) and "\n" not in str(e.value)
    with pytest.raises(BackendSettingError, match="no chat template"):
        LlamaCppBackend(gguf, tools="calculator", no_template=True)

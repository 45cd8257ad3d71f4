"""The transformers backend on a tiny random Llama: batching is exact, sampling is reproducible."""

import pytest
import torch

from whygym.models import Generation, TransformersBackend


def _unbatched_greedy(model, ids, eos, pad, max_new_tokens):
    out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos, pad_token_id=pad)
    return out[0, len(ids):].tolist()


def test_batched_left_padded_greedy_equals_unbatched_generate(tiny, prompts):
    model, tok = tiny
    be = TransformersBackend(model, tok, batch_size=3)
    res = be.generate(prompts, max_new_tokens=12)
    finish = set()
    for p, [g] in zip(prompts, res):
        ids = be.chat_ids([p])[0]
        ref = _unbatched_greedy(model, ids, be.eos_token_ids, be.pad_token_id, 12)
        stop = next((k for k, t in enumerate(ref) if t in be.eos_token_ids), None)
        kept = ref if stop is None else ref[:stop]
        assert g.text == tok.decode(kept, skip_special_tokens=True)
        assert g.n_prompt_tokens == len(ids)
        assert g.n_completion_tokens == (len(ref) if stop is None else stop + 1)
        assert g.finish_reason == ("length" if stop is None else "stop")
        finish.add(g.finish_reason)
    assert finish == {"stop", "length"}  # the tiny model exercises both paths


def test_greedy_batch_sheds_rows_that_stopped(tiny, prompts):
    model, tok = tiny
    be = TransformersBackend(model, tok, batch_size=len(prompts))
    sizes = []
    hook = model.register_forward_pre_hook(lambda mod, args, kw: sizes.append(kw["input_ids"].shape[0]),
                                           with_kwargs=True)
    try:
        res = be.generate(prompts, max_new_tokens=12)
    finally:
        hook.remove()
    steps = [g.n_completion_tokens for [g] in res]
    # one pass per decoding step, each over the rows still going: as many row-passes as tokens generated
    assert sizes[0] == len(prompts) and sizes == sorted(sizes, reverse=True)
    assert len(sizes) == max(steps) and sum(sizes) == sum(steps)
    assert min(sizes) < len(prompts)  # some row stopped early and left the batch


def test_greedy_falls_back_to_generate_when_rows_cannot_be_dropped(tiny, prompts, monkeypatch):
    model, tok = tiny
    want = TransformersBackend(model, tok, batch_size=3).generate(prompts, max_new_tokens=10)
    be = TransformersBackend(model, tok, batch_size=3)

    def cannot(*a, **k):
        raise NotImplementedError("this cache keeps no per-row state to drop")

    monkeypatch.setattr(be, "_greedy_shrinking", cannot)
    with pytest.warns(RuntimeWarning, match="falls back to model.generate"):
        got = be.generate(prompts, max_new_tokens=10)
    assert got == want and be._shrink_ok is False


def test_batch_size_does_not_change_greedy_output(tiny, prompts):
    model, tok = tiny
    a = TransformersBackend(model, tok, batch_size=1).generate(prompts, max_new_tokens=10)
    b = TransformersBackend(model, tok, batch_size=16).generate(prompts, max_new_tokens=10)
    assert a == b


def test_greedy_n_samples_are_identical(tiny, prompts):
    model, tok = tiny
    res = TransformersBackend(model, tok).generate(prompts[:2], max_new_tokens=6, n=3)
    assert [len(r) for r in res] == [3, 3]
    assert all(r[0] == r[1] == r[2] for r in res)


def test_sampling_reproducible_with_seed_and_independent_of_batching(tiny, prompts):
    model, tok = tiny
    kw = dict(max_new_tokens=12, temperature=1.0, n=4, seed=7)
    a = TransformersBackend(model, tok, batch_size=5).generate(prompts, **kw)
    b = TransformersBackend(model, tok, batch_size=5).generate(prompts, **kw)
    assert a == b
    # Sample i of a prompt depends only on (seed, prompt, system, i): same with another batch size,
    # another prompt order, or the prompt alone.
    c = TransformersBackend(model, tok, batch_size=2).generate(prompts[::-1], **kw)[::-1]
    assert a == c
    d = TransformersBackend(model, tok, batch_size=8).generate([prompts[3]], **kw)
    assert d[0] == a[3]
    assert all(len(r) == 4 for r in a)
    assert any(len({g.text for g in r}) > 1 for r in a)  # samples differ
    e = TransformersBackend(model, tok, batch_size=5).generate(prompts, **{**kw, "seed": 8})
    assert e != a


def test_top_p_tiny_keeps_only_the_argmax(tiny, prompts):
    model, tok = tiny
    be = TransformersBackend(model, tok, batch_size=4)
    greedy = be.generate(prompts, max_new_tokens=8)
    nucleus = be.generate(prompts, max_new_tokens=8, temperature=1.0, top_p=1e-6, n=2, seed=3)
    assert [[g] * 2 for [g] in greedy] == nucleus


def test_loglikelihood_equals_manual_computation(tiny, prompts):
    model, tok = tiny
    be = TransformersBackend(model, tok, batch_size=3)
    conts = ["yes", "no", "A B C", "0 . 5", "does X cause", "is", "yes yes no"]
    got = be.loglikelihood(prompts, conts, system="answer")
    for p, c, s in zip(prompts, conts, got):
        ctx = be.chat_ids([p], system="answer")[0]
        cont = tok(c, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ctx + cont])).logits[0].double()
        logp = torch.log_softmax(logits, -1)
        manual = sum(float(logp[len(ctx) - 1 + k, t]) for k, t in enumerate(cont))
        assert s == pytest.approx(manual, abs=1e-4)
    assert be.loglikelihood(prompts[:1], [""]) == [0.0]


def test_next_token_logprobs_match_loglikelihood(tiny, prompts):
    model, tok = tiny
    be = TransformersBackend(model, tok, batch_size=4)
    nt = be.next_token_logprobs(prompts, ["yes", "no"])
    ll_yes = be.loglikelihood(prompts, ["yes"] * len(prompts))
    assert [d["yes"] for d in nt] == pytest.approx(ll_yes, abs=1e-4)
    with pytest.raises(ValueError, match="not 1"):
        be.next_token_logprobs(prompts, ["yes no"])


def test_system_message_changes_the_prompt(tiny):
    model, tok = tiny
    be = TransformersBackend(model, tok)
    [[a]], [[b]] = be.generate(["yes"], max_new_tokens=4), be.generate(["yes"], max_new_tokens=4, system="answer")
    assert b.n_prompt_tokens == a.n_prompt_tokens + 4  # <|im_start|> system answer <|im_end|>; newlines are no tokens here


def test_bf16_autocast_runs_and_is_part_of_the_config(tiny, prompts, monkeypatch):
    model, tok = tiny
    monkeypatch.setenv("WHYGYM_BF16", "force")  # the bf16 path on any CPU; the fallback: test_precision.py
    fp32, bf16 = TransformersBackend(model, tok), TransformersBackend(model, tok, bf16=True)
    assert fp32.config["precision"] == "float32" and bf16.config["precision"] == "float32+bf16-autocast"
    assert fp32.config["weights"] == bf16.config["weights"]
    res = bf16.generate(prompts[:3], max_new_tokens=5)
    assert all(isinstance(r[0], Generation) for r in res)
    a, b = fp32.loglikelihood(prompts[:3], ["yes"] * 3), bf16.loglikelihood(prompts[:3], ["yes"] * 3)
    assert a == pytest.approx(b, abs=0.5)


def test_bf16_weights_from_a_checkpoint(tiny, tmp_path, prompts, monkeypatch):
    model, tok = tiny
    monkeypatch.setenv("WHYGYM_BF16", "force")
    model.save_pretrained(tmp_path / "ck")
    tok.save_pretrained(tmp_path / "ck")
    be = TransformersBackend(str(tmp_path / "ck"), dtype="bfloat16")
    assert be.config["precision"] == "bfloat16" and next(be.model.parameters()).dtype == torch.bfloat16
    assert len(be.generate(prompts[:2], max_new_tokens=4)) == 2
    assert all(x < 0 for x in be.loglikelihood(prompts[:2], ["yes", "no"]))
    with pytest.raises(ValueError, match="dtype"):
        TransformersBackend(str(tmp_path / "ck"), dtype="fp8")


def test_weights_fingerprint_tracks_the_weights(tiny):
    from whygym.models import tiny_llama

    model, tok = tiny
    other, _ = tiny_llama(seed=1)
    assert TransformersBackend(model, tok).config == TransformersBackend(model, tok).config
    assert TransformersBackend(other, tok).config["weights"] != TransformersBackend(model, tok).config["weights"]


def test_clear_errors(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="tokenizer"):
        TransformersBackend(model)
    be = TransformersBackend(model, tok)
    with pytest.raises(TypeError, match="list"):
        be.generate("one prompt", max_new_tokens=3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        be.generate(["x"], max_new_tokens=0)
    with pytest.raises(ValueError, match="continuations"):
        be.loglikelihood(["a", "b"], ["c"])


def test_checkpoint_directory_roundtrip(tiny, tmp_path, prompts):
    """A saved checkpoint loads by path (plain and 'hf:'), with a fingerprint of its files."""
    from whygym.models import load_backend

    model, tok = tiny
    model.save_pretrained(tmp_path / "ckpt")
    tok.save_pretrained(tmp_path / "ckpt")
    be = load_backend(str(tmp_path / "ckpt"), batch_size=4)
    be2 = load_backend(f"hf:{tmp_path / 'ckpt'}")
    assert be.config == be2.config and be.config["model"] == "ckpt"
    assert be.generate(prompts, max_new_tokens=8) == TransformersBackend(model, tok).generate(prompts, max_new_tokens=8)

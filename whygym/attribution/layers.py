"""do() on the model's own parts: mean ablation and activation patching of every attention and MLP output.

For a Llama-architecture causal LM (``model.model.layers[i].self_attn`` and ``.mlp``), each of the ``2 L``
modules is intervened on in turn with a forward hook, and the change in the log-probability of the gold
answer is measured on the same items:

``logp(x)``  = sum over the gold answer's tokens of ``log p(token | chat(prompt), earlier answer tokens)``,
with the prompt in the model's chat template (as :meth:`whygym.models.Backend.loglikelihood`).

Mean ablation
    ``do(out_m := mean_m)`` where ``mean_m`` is the mean of the module's output over every position of a
    reference batch of prompts (one vector of the hidden size). Effect: ``logp_ablated - logp_clean``.

Activation patching
    ``do(out_m := out_m(counterfactual))``: the module's output on a counterfactual prompt of the same item
    (e.g. the knowledge-removed or data-withheld arm) replaces its output on the clean prompt. Positions
    are aligned from the end: when the two token sequences have the same length the whole sequence is
    patched; otherwise the longest common token suffix is (it always holds the gold answer, the chat
    template's assistant header and the shared answer-format request, so those positions carry the same
    tokens in both runs). Effect: ``logp_patched - logp_clean``; ``recovered`` reports it as a share of
    ``logp_counterfactual - logp_clean`` when that gap exceeds 0.1 nats.

Every hook is removed after use (also on errors) and no parameter is written: the tests compare the state
dict before and after and check that no module keeps a hook.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator, Sequence

import numpy as np

__all__ = ["component_modules", "gold_logprob", "module_means", "intervene_module", "layer_attribution",
           "lora_targets_for"]


def component_modules(model) -> dict[str, Any]:
    """``{"model.layers.i.self_attn": module, "model.layers.i.mlp": module, ...}`` in layer order."""
    try:
        layers = model.model.layers
    except AttributeError:
        raise ValueError(f"{type(model).__name__} has no model.layers: layer attribution needs a Llama-style "
                         "decoder (model.model.layers[i].self_attn / .mlp)") from None
    out = {}
    for i, layer in enumerate(layers):
        out[f"model.layers.{i}.self_attn"] = layer.self_attn
        out[f"model.layers.{i}.mlp"] = layer.mlp
    return out


def lora_targets_for(module_name: str) -> list[str]:
    """The Linear submodules LoRA adapts for a component: attention -> q/k/v/o_proj, MLP -> gate/up/down_proj.

    >>> lora_targets_for("model.layers.3.mlp")
    ['model.layers.3.mlp.gate_proj', 'model.layers.3.mlp.up_proj', 'model.layers.3.mlp.down_proj']
    """
    if module_name.endswith(".self_attn"):
        return [f"{module_name}.{p}" for p in ("q_proj", "k_proj", "v_proj", "o_proj")]
    if module_name.endswith(".mlp"):
        return [f"{module_name}.{p}" for p in ("gate_proj", "up_proj", "down_proj")]
    raise ValueError(f"not an attention or MLP module name: {module_name!r}")


def _ids(tokenizer, prompt: str, continuation: str, system: str | None = None) -> tuple[list[int], int]:
    from whygym.models import chat_messages

    text = tokenizer.apply_chat_template(chat_messages(prompt, system), tokenize=False, add_generation_prompt=True)
    p = tokenizer(text, add_special_tokens=False)["input_ids"]
    c = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    return p + c, len(c)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def _replace(out, new):
    return (new,) + tuple(out[1:]) if isinstance(out, tuple) else new


@contextlib.contextmanager
def _hooked(module, fn: Callable) -> Iterator[None]:
    handle = module.register_forward_hook(fn)
    try:
        yield
    finally:
        handle.remove()


_AUTOCAST = {"on": False}


def _amp():
    """bf16 autocast when :func:`layer_attribution` was asked for it (faster on CPUs with native bf16, ~0.1 nat noise)."""
    import torch

    if _AUTOCAST["on"]:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _logp(model, ids: list[int], n_cont: int) -> float:
    import torch

    x = torch.tensor([ids], dtype=torch.long, device=model.device)
    with _amp():
        logits = model(input_ids=x, use_cache=False, logits_to_keep=n_cont + 1).logits[0, :-1].float()
    lp = torch.log_softmax(logits, dim=-1)
    target = x[0, -n_cont:]
    return float(lp.gather(-1, target[:, None]).sum())


def gold_logprob(model, tokenizer, prompt: str, answer: str, system: str | None = None) -> float:
    """``log p(answer | chat(prompt))`` summed over the answer's tokens."""
    import torch

    ids, n = _ids(tokenizer, prompt, answer, system)
    with torch.inference_mode():
        return _logp(model, ids, n)


def module_means(model, tokenizer, prompts: Sequence[str], names: Sequence[str] | None = None,
                 system: str | None = None) -> dict[str, Any]:
    """Mean output of each module over every position of every reference prompt (a hidden-size vector)."""
    import torch

    mods = component_modules(model)
    names = list(names or mods)
    sums: dict[str, Any] = {}
    count = [0]

    def recorder(name):
        def hook(_m, _inp, out):
            h = _first(out).detach().float()
            s = h.reshape(-1, h.shape[-1]).sum(0)
            sums[name] = s if name not in sums else sums[name] + s
        return hook

    with contextlib.ExitStack() as stack:
        for n in names:
            stack.enter_context(_hooked(mods[n], recorder(n)))
        with torch.inference_mode(), _amp():
            for p in prompts:
                ids, _ = _ids(tokenizer, p, "", system)
                model(input_ids=torch.tensor([ids], device=model.device), use_cache=False, logits_to_keep=1)
                count[0] += len(ids)
    return {n: sums[n] / max(count[0], 1) for n in names}


def _common_suffix(a: Sequence[int], b: Sequence[int]) -> int:
    k = 0
    while k < min(len(a), len(b)) and a[-1 - k] == b[-1 - k]:
        k += 1
    return k


def intervene_module(model, module, ids: list[int], n_cont: int, *, value=None, source=None,
                     positions: int | None = None) -> float:
    """Gold log-prob with one module's output set by do(): to ``value`` (broadcast over positions) or to
    the last ``positions`` positions of ``source`` (a captured output of shape (1, T', H))."""
    import torch

    def hook(_m, _inp, out):
        h = _first(out)
        if value is not None:
            new = value.to(h.dtype).expand_as(h).clone()
        else:
            new = h.clone()
            k = positions if positions is not None else h.shape[1]
            new[:, -k:] = source[:, -k:].to(h.dtype)
        return _replace(out, new)

    with _hooked(module, hook), torch.inference_mode():
        return _logp(model, ids, n_cont)  # _logp applies the autocast setting


def _capture_all(model, modules: dict[str, Any], ids: list[int]) -> dict[str, Any]:
    """Every module's output on one prompt, from a single forward pass."""
    import torch

    got: dict[str, Any] = {}

    def recorder(name):
        def hook(_m, _inp, out):
            got[name] = _first(out).detach().clone()
        return hook

    with contextlib.ExitStack() as stack:
        for n, m in modules.items():
            stack.enter_context(_hooked(m, recorder(n)))
        with torch.inference_mode(), _amp():
            model(input_ids=torch.tensor([ids], device=model.device), use_cache=False, logits_to_keep=1)
    return got


def _ci(values, n_boot: int, seed: int) -> dict[str, float]:
    from whygym.scoring import bootstrap_ci

    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    c = bootstrap_ci(v, n=n_boot, seed=seed)
    return {"point": c.point, "low": c.low, "high": c.high, "n": int(len(v))}


def layer_attribution(model, tokenizer, items: Sequence[Any], *, counterfactuals: Sequence[Any] | None = None,
                      reference_prompts: Sequence[str] | None = None,
                      methods: Sequence[str] = ("mean_ablation", "patching"), system: str | None = None,
                      n_boot: int = 1000, seed: int = 0, progress: bool = False, bf16: bool = False) -> dict[str, Any]:
    """Mean ablation and activation patching of every attention and MLP output on ``items``.

    Parameters
    ----------
    items : objects with ``prompt`` and ``answer`` (whygym items); the gold answer text is scored.
    counterfactuals : for patching, one item per item (same gold answer), e.g. its data-withheld arm.
    reference_prompts : prompts whose mean activations define mean ablation (default: the items' prompts
        and the counterfactual prompts).
    methods : any of ``mean_ablation``, ``patching``.
    bf16 : run every forward pass under bf16 autocast (several times faster on CPUs with native bf16, fp32 with a
        warning on others; log-probabilities
        move by up to ~0.15 nats, so compare effects only within one precision).

    Returns
    -------
    dict
        ``{"modules": [...], "baseline": {...}, "rows": [{"module", "layer", "kind", "mean_ablation": CI,
        "patching": CI, "recovered": CI}], "ranking": {method: [module, ...]}}`` with rows in layer order and
        rankings by mean absolute effect.
    """
    from tqdm import tqdm

    mods = component_modules(model)
    methods = list(methods)
    for m in methods:
        if m not in ("mean_ablation", "patching"):
            raise ValueError(f"unknown method {m!r}; choose mean_ablation and/or patching")
    if "patching" in methods and (counterfactuals is None or len(counterfactuals) != len(items)):
        raise ValueError("patching needs one counterfactual item per item")
    was_training = model.training
    model.eval()
    from whygym.models.precision import use_bf16

    bf16 = use_bf16(bf16, "layer attribution, bf16 autocast")
    _AUTOCAST["on"] = bf16
    try:
        enc = [_ids(tokenizer, it.prompt, it.answer, system) for it in items]
        clean = [gold_logprob(model, tokenizer, it.prompt, it.answer, system) for it in items]
        cf_enc, cf_lp = [], []
        if "patching" in methods:
            cf_enc = [_ids(tokenizer, c.prompt, it.answer, system) for c, it in zip(counterfactuals, items)]
            cf_lp = [gold_logprob(model, tokenizer, c.prompt, it.answer, system)
                     for c, it in zip(counterfactuals, items)]
        means = {}
        if "mean_ablation" in methods:
            refs = list(reference_prompts or ([it.prompt for it in items] +
                                              [c.prompt for c in (counterfactuals or [])]))
            means = module_means(model, tokenizer, refs, system=system)
        # counterfactual activations of every module, one forward pass per item
        cf_acts = [_capture_all(model, mods, cids) for cids, _ in cf_enc]
        rows = []
        bar = tqdm(total=len(mods) * len(items), desc="layers", disable=not progress, file=sys.stderr)
        for name, mod in mods.items():
            ab, pa, rec = [], [], []
            for j, (ids, n) in enumerate(enc):
                if "mean_ablation" in methods:
                    ab.append(intervene_module(model, mod, ids, n, value=means[name]) - clean[j])
                if "patching" in methods:
                    cids, _ = cf_enc[j]
                    k = len(ids) if len(cids) == len(ids) else _common_suffix(ids, cids)
                    src = cf_acts[j][name]
                    d = intervene_module(model, mod, ids, n, source=src, positions=k) - clean[j]
                    pa.append(d)
                    gap = cf_lp[j] - clean[j]
                    rec.append(d / gap if abs(gap) > 0.1 else None)
                bar.update(1)
            layer = int(name.split(".")[2])
            row: dict[str, Any] = {"module": name, "layer": layer,
                                   "kind": "attention" if name.endswith("self_attn") else "mlp"}
            if ab:
                row["mean_ablation"] = _ci(ab, n_boot, seed)
                row["mean_ablation"]["per_item"] = ab
            if pa:
                row["patching"] = _ci(pa, n_boot, seed)
                row["patching"]["per_item"] = pa
                row["recovered"] = _ci(rec, n_boot, seed)
            rows.append(row)
        bar.close()
    finally:
        model.train(was_training)
        _AUTOCAST["on"] = False
    ranking = {m: [r["module"] for r in sorted(rows, key=lambda r: -abs(r[m]["point"]))] for m in methods}
    return {"modules": list(mods), "methods": methods, "precision": "bf16-autocast" if bf16 else "fp32",
            "baseline": {"clean_logp": clean, "counterfactual_logp": cf_lp or None,
                         "patch_alignment": "whole sequence when token lengths match, else the longest common "
                                            "token suffix"},
            "rows": rows, "ranking": ranking}

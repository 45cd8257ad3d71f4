"""The transformers backend: batched chat generation and log-likelihood scoring on a local checkpoint.

Batching: requests are sorted by token length (longest first) and cut into batches of ``batch_size``, so
each batch pads little; batches are LEFT-padded, so every row's prompt ends at the same position and
new tokens are appended after it. Greedy decoding therefore gives the same tokens as unbatched
``model.generate`` (up to floating-point ties; the tests check it token for token). Greedy batches run
whygym's own decoding loop, which drops a row from the batch and its KV cache once it has stopped
(``generate`` steps every row until the longest stops): 14% less wall time on 56 CaLM items, where about
half the answers run to the 128-token cap (docs/results.md, Evaluation throughput).

Sampling is reproducible per sample, not per batch: sample ``i`` of a prompt draws from its own
``torch.Generator`` seeded by :func:`~whygym.models.base.sample_seed` ``(seed, prompt, system, i)``, so the
text does not change with batch size, with what the response cache already held, or with the other
prompts in the run. (The draw happens in a logits processor that leaves only the drawn token, and
``generate`` then runs in greedy mode.)

Precision: fp32 by default; the precision is part of :attr:`TransformersBackend.config` and hence of the
cache key. Two levers, measured on the default model (Intel CPU with AMX; 1 thread, batch 7 of ~280-token CaLM prompts, CPU time):

==========================  ===============  ====================
setting                     prefill (batch)  one decoding step
==========================  ===============  ====================
fp32                        6.95 s           189 ms
``bf16=True`` (autocast)    2.85 s           262 ms (slower)
``dtype="bfloat16"``        2.23 s           92 ms
==========================  ===============  ====================

Autocast re-casts the fp32 weights at every call, which pays off in compute-bound passes (scoring, prefill)
and costs in memory-bound decoding; bf16 *weights* halve the memory traffic and win in both. Both move
log-probabilities (NOTES: up to ~0.15 nats with autocast) and can change greedy texts: report which produced
a figure. On a CPU without native bf16 (AMD EPYC, AVX2) both are emulated and ~1000x slower, so the backend
runs fp32 there and warns (``WHYGYM_BF16=force`` overrides; :mod:`whygym.models.precision`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from typing import Any, Sequence

from whygym.models.base import Generation, check_generate_args, sample_seed
from whygym.models.encode import left_pad, prompt_ids
from whygym.models.tools import ToolForcing, ToolSpec, parse_tools


def _tensor_fingerprint(model) -> str:
    """SHA-256 over a model's state dict (names and raw bytes), for models passed as objects."""
    import torch

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.flatten().view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def _chunks(seq: Sequence[int], size: int):
    for k in range(0, len(seq), size):
        yield seq[k:k + size]


class _SeededSampler:
    """Logits processor: draw the next token of row ``r`` from its own generator, keep only that token.

    Implements temperature and nucleus (top-p) sampling: ``p = softmax(logits / T)``; with ``top_p < 1`` the
    smallest set of most probable tokens whose mass reaches ``top_p`` is kept and renormalised.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float):
        import torch

        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, idx = probs.sort(dim=-1, descending=True)
            before = sorted_p.cumsum(-1) - sorted_p  # mass strictly before each token
            sorted_p = sorted_p.masked_fill(before >= self.top_p, 0.0)  # the first token always stays
            probs = torch.zeros_like(probs).scatter(-1, idx, sorted_p)
        out = torch.full_like(scores, float("-inf"))
        for r, g in enumerate(self.generators):
            tok = torch.multinomial(probs[r], 1, generator=g)
            out[r, tok] = 0.0
        return out


class TransformersBackend:
    """Chat generation and scoring with a transformers causal LM on this machine.

    Parameters
    ----------
    model : str, path or PreTrainedModel
        ``"default"``, a checkpoint directory, ``"hf:DIR"``, or an already loaded model object (then
        ``tokenizer`` is required; its weights are hashed for the cache key when the backend is built).
    tokenizer : PreTrainedTokenizerBase, optional
        Must carry a chat template. Loaded from the directory when ``model`` is a path.
    batch_size : int
        Rows per forward pass (a row is one sample of one prompt).
    bf16 : bool
        Run under bf16 autocast (faster scoring on CPUs with native bf16, slower decoding, less precise; in
        ``config``). Where the CPU has no native bf16 this falls back to fp32 with a warning
        (:func:`whygym.models.precision.use_bf16`).
    dtype : {"float32", "bfloat16"}
        Weight dtype when loading from a path (a model object keeps its own). ``"bfloat16"`` is the
        faster choice for generation on a CPU with native bf16 (see the module docstring; fp32 with a
        warning elsewhere); recorded in ``config``.
    model_id : str, optional
        Overrides the model part of ``config`` (e.g. a run name for an in-memory fine-tuned model).
    tools : ToolSpec, str or None
        Tool-integrated decoding (:mod:`whygym.models.tools`), e.g. ``"calculator"``: each ``<<EXPR=`` the
        model writes is answered with the exact value and ``>>`` inside the decoding loop, continuing from
        the KV cache. Recorded in ``config``. Inserted tokens count as completion tokens.

    Examples
    --------
    >>> from whygym.models import TransformersBackend, tiny_llama
    >>> m, tok = tiny_llama()
    >>> be = TransformersBackend(m, tok, batch_size=4)
    >>> [g] = be.generate(["does A cause B ?"], max_new_tokens=3)[0]
    >>> g.n_completion_tokens <= 3
    True
    """

    def __init__(self, model: Any = "default", tokenizer: Any = None, *, batch_size: int = 8,
                 bf16: bool = False, dtype: str = "float32", model_id: str | None = None, tools: Any = None):
        import torch

        from whygym.models.precision import use_bf16

        if dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")
        # on a CPU without native bf16 both levers are ~1000x slower: fp32 instead, with a warning
        bf16 = use_bf16(bf16, "transformers backend, bf16 autocast")
        if dtype == "bfloat16" and not use_bf16(True, "transformers backend, bfloat16 weights"):
            dtype = "float32"
        if isinstance(model, (str, os.PathLike)):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from whygym.models.resolve import resolve_model, weights_fingerprint

            path = resolve_model(model)
            if tokenizer is None:
                tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), local_files_only=True)
            ident, fingerprint = path.name, weights_fingerprint(path)
        else:
            if tokenizer is None:
                raise ValueError("pass the tokenizer together with a model object: "
                                 "TransformersBackend(model, tokenizer)")
            ident = getattr(model.config, "_name_or_path", "") or type(model).__name__
            ident, fingerprint = os.path.basename(str(ident).rstrip("/")) or type(model).__name__, \
                _tensor_fingerprint(model)
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("the tokenizer has no chat template; whygym backends send user messages "
                             "through the model's chat template (set tokenizer.chat_template)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self._shrink_ok = True  # greedy batches drop stopped rows (False after a model that cannot)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.bf16 = bf16
        eos = set()
        for src in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
            if isinstance(src, int):
                eos.add(src)
            elif src:
                eos.update(src)
        if not eos:
            raise ValueError("neither the tokenizer nor the model's generation config names an EOS token")
        self.eos_token_ids = sorted(eos)
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_ids[0]
        self.name = f"transformers:{model_id or ident}"
        weights_dtype = str(next(model.parameters()).dtype).replace("torch.", "")
        self.config = {"backend": "transformers", "model": model_id or ident, "weights": fingerprint,
                       "precision": f"{weights_dtype}+bf16-autocast" if bf16 else weights_dtype}
        self.tools = parse_tools(tools) if isinstance(tools, str) else tools
        if self.tools is not None:
            if not isinstance(self.tools, ToolSpec):
                raise TypeError(f"tools must be a ToolSpec, a --tools string or None, got {tools!r}")
            self.config["tools"] = self.tools.to_dict()  # the tool changes outputs: part of the cache key
            self.name += "+" + self.tools.name

    # -- helpers ---------------------------------------------------------------------------------------
    def chat_ids(self, prompts: list[str], system: str | None = None) -> list[list[int]]:
        """Token ids of each prompt after the chat template (with the assistant generation prompt)."""
        return [prompt_ids(self.tokenizer, p, system=system) for p in prompts]

    def _ctx(self):
        import torch

        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.bf16:
            stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
        return stack

    def _left_pad(self, seqs: list[list[int]]):
        return left_pad(seqs, self.pad_token_id, self.model.device)

    def _greedy_shrinking(self, input_ids, mask, max_new_tokens: int, eos: set[int],
                          tools: "ToolForcing | None" = None) -> list[list[int]]:
        """Greedy decoding of a left-padded batch that drops each row from the batch once it has stopped.

        ``model.generate`` keeps stepping every row until the longest one stops, so on a CPU, where a
        decoding step costs about in proportion to the rows in it, rows that stopped early are paid for
        until the end. Here a row leaves the batch (and the KV cache) at its EOS token: the same argmax
        tokens, fewer row-steps. Returns each row's new tokens, its EOS token included.
        """
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
                            use_cache=True, logits_to_keep=1).logits
        out: list[list[int]] = [[] for _ in range(input_ids.shape[0])]
        active = torch.arange(input_ids.shape[0], device=input_ids.device)
        last_pos = pos[:, -1]
        eos_t = torch.tensor(sorted(eos), device=input_ids.device)
        for step in range(max_new_tokens):
            last = logits[:, -1, :]
            if tools is not None:
                rows = active.tolist()
                last = tools.apply(last.clone(), rows, [out[r] for r in rows])
            nxt = last.argmax(-1)
            for r, t in zip(active.tolist(), nxt.tolist()):
                out[r].append(t)
            if step + 1 == max_new_tokens:
                break
            keep = ~torch.isin(nxt, eos_t)
            if not bool(keep.all()):
                if not bool(keep.any()):
                    break
                idx = keep.nonzero().squeeze(-1)
                cache.batch_select_indices(idx)
                active, nxt, mask, last_pos = active[idx], nxt[idx], mask[idx], last_pos[idx]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
            last_pos = last_pos + 1
            logits = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last_pos[:, None],
                                past_key_values=cache, use_cache=True).logits
        return out

    # -- the interface ---------------------------------------------------------------------------------
    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: int = 0,
                 system: str | None = None) -> list[list[Generation]]:
        """See :meth:`whygym.models.Backend.generate`. Greedy when ``temperature == 0``."""
        from transformers import GenerationConfig, LogitsProcessorList

        check_generate_args(prompts, max_new_tokens, temperature, top_p, n)
        ids = self.chat_ids(prompts, system)
        greedy = temperature == 0
        rows = [(j, i) for j in range(len(prompts)) for i in range(1 if greedy else n)]
        order = sorted(range(len(rows)), key=lambda r: -len(ids[rows[r][0]]))  # stable: ties keep order
        results: dict[tuple[int, int], Generation] = {}
        gen_cfg = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False,
                                   eos_token_id=self.eos_token_ids, pad_token_id=self.pad_token_id)
        eos = set(self.eos_token_ids)
        for batch in _chunks(order, self.batch_size):
            input_ids, mask = self._left_pad([ids[rows[r][0]] for r in batch])
            new = None
            forcing = ToolForcing(self.tokenizer, len(batch), self.tools) if self.tools is not None else None
            if greedy and self._shrink_ok:
                try:
                    with self._ctx():
                        new = self._greedy_shrinking(input_ids, mask, max_new_tokens, eos, forcing)
                except Exception as e:  # a model whose cache cannot drop rows (state-space layers, ...)
                    self._shrink_ok = False
                    warnings.warn(f"{self.name}: greedy decoding falls back to model.generate ({type(e).__name__}: "
                                  f"{e})", RuntimeWarning, stacklevel=2)
            if new is None:
                procs = LogitsProcessorList()
                if forcing is not None:
                    forcing = ToolForcing(self.tokenizer, len(batch), self.tools)  # fresh: the failed loop used one
                    forcing.width = input_ids.shape[1]
                    procs.append(forcing)  # before the sampler, which then draws the forced token
                if not greedy:
                    procs.append(_SeededSampler([sample_seed(seed, prompts[rows[r][0]], system, rows[r][1])
                                                 for r in batch], temperature, top_p))
                with self._ctx():
                    out = self.model.generate(input_ids=input_ids, attention_mask=mask, generation_config=gen_cfg,
                                              logits_processor=procs)
                new = out[:, input_ids.shape[1]:].tolist()
            for r, toks in zip(batch, new):
                stop = next((k for k, t in enumerate(toks) if t in eos), None)
                kept = toks if stop is None else toks[:stop]
                j = rows[r][0]
                results[rows[r]] = Generation(
                    text=self.tokenizer.decode(kept, skip_special_tokens=True),
                    n_prompt_tokens=len(ids[j]),
                    n_completion_tokens=len(toks) if stop is None else stop + 1,
                    finish_reason="length" if stop is None else "stop")
        return [[results[(j, 0 if greedy else i)] for i in range(n)] for j in range(len(prompts))]

    def loglikelihood(self, prompts: list[str], continuations: list[str], *,
                      system: str | None = None) -> list[float]:
        """See :meth:`whygym.models.Backend.loglikelihood`.

        Batched with left padding; only the last ``max(len(continuation)) + 1`` positions of each batch
        go through the output layer (``logits_to_keep``), which dominates the cost at this model size.
        An empty continuation scores 0.
        """
        import torch

        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        p_ids = self.chat_ids(prompts, system)
        c_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        scores = [0.0] * len(prompts)
        todo = [j for j in range(len(prompts)) if c_ids[j]]
        todo.sort(key=lambda j: -(len(p_ids[j]) + len(c_ids[j])))
        for batch in _chunks(todo, self.batch_size):
            input_ids, mask = self._left_pad([p_ids[j] + c_ids[j] for j in batch])
            k = max(len(c_ids[j]) for j in batch)
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            with self._ctx():
                logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=pos,
                                    logits_to_keep=k + 1, use_cache=False).logits
            # logits[:, t] predicts the token after position (width - k - 1 + t); the last one is unused.
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            for r, j in enumerate(batch):
                c = len(c_ids[j])
                target = torch.tensor(c_ids[j], device=logp.device)
                scores[j] = float(logp[r, k - c:, :].gather(-1, target[:, None]).sum())
        return scores

    def next_token_logprobs(self, prompts: list[str], candidates: Sequence[str], *,
                            system: str | None = None) -> list[dict[str, float]]:
        """Log-probability of each single-token candidate as the first answer token (one forward pass).

        The fast path for yes/no scoring: ``logits_to_keep=1``, no generation.

        Raises
        ------
        ValueError
            If a candidate is not exactly one token for this tokenizer.
        """
        import torch

        cand_ids = []
        for c in candidates:
            t = self.tokenizer(c, add_special_tokens=False)["input_ids"]
            if len(t) != 1:
                raise ValueError(f"candidate {c!r} is {len(t)} tokens for this tokenizer, not 1; "
                                 "use loglikelihood() for multi-token continuations")
            cand_ids.append(t[0])
        p_ids = self.chat_ids(prompts, system)
        order = sorted(range(len(prompts)), key=lambda j: -len(p_ids[j]))
        out: list[dict[str, float]] = [{} for _ in prompts]
        for batch in _chunks(order, self.batch_size):
            input_ids, mask = self._left_pad([p_ids[j] for j in batch])
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            with self._ctx():
                logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=pos,
                                    logits_to_keep=1, use_cache=False).logits
            logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
            for r, j in enumerate(batch):
                out[j] = {c: float(logp[r, t]) for c, t in zip(candidates, cand_ids)}
        return out

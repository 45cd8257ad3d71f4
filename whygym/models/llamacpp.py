"""The llama.cpp backend (optional extra): GGUF models through ``llama-cpp-python``.

Install (builds from source, ~4.5 min; the default native build dies with SIGILL on some CPUs with AMX)::

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" pip install 'whygym[llamacpp]'

Requests run one at a time (llama.cpp contexts are not batched here); ~70 tokens/s at batch 1 for the
default model on 2 cores, against ~28 for transformers fp32. Sample ``i`` of a prompt uses the seed
:func:`~whygym.models.base.sample_seed` ``(seed, prompt, system, i)``, as in the transformers backend.
Log-likelihoods need every position's logits, so the model is opened with ``logits_all=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from whygym.models.base import Generation, chat_messages, check_generate_args, sample_seed

INSTALL_HINT = ("the llama.cpp backend needs the optional extra 'llamacpp' (llama-cpp-python, a ~4.5 min "
                "source build). Install it with: CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON "
                "-DGGML_F16C=ON\" pip install 'whygym[llamacpp]' (the default native build can die with "
                "SIGILL on CPUs with AMX).")


def _import_llama_cpp():
    try:
        import llama_cpp
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return llama_cpp


class LlamaCppBackend:
    """Chat generation and scoring for a GGUF file with llama.cpp.

    Parameters
    ----------
    model_path : str or path
        The ``.gguf`` file (its chat template is read from the GGUF metadata).
    n_ctx : int
        Context window in tokens.
    n_threads : int, optional
        CPU threads (default: all cores).
    **llama_kwargs
        Passed to ``llama_cpp.Llama``.
    """

    def __init__(self, model_path: str | os.PathLike, *, n_ctx: int = 4096, n_threads: int | None = None,
                 **llama_kwargs: Any):
        from whygym.models.resolve import ModelNotFoundError

        llama_cpp = _import_llama_cpp()
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file {path} does not exist; pass 'gguf:PATH' with the path of a "
                                     ".gguf file (the default model's is whygym.models.default_gguf_path()).")
        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(),
                                   logits_all=True, verbose=False, **llama_kwargs)
        self.name = f"llamacpp:{path.stem}"
        # Fingerprint the file itself (a folder may hold several GGUFs).
        self.config = {"backend": "llamacpp", "model": path.name,
                       "weights": _file_fingerprint(path), "n_ctx": n_ctx}

    def _chat_text(self, prompt: str, system: str | None) -> str:
        import jinja2

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{self.name}: the GGUF carries no chat template (tokenizer.chat_template)")
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(template).render(messages=chat_messages(prompt, system), add_generation_prompt=True,
                                                bos_token="", eos_token="")

    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: int = 0,
                 system: str | None = None) -> list[list[Generation]]:
        """See :meth:`whygym.models.Backend.generate`. Greedy when ``temperature == 0``."""
        check_generate_args(prompts, max_new_tokens, temperature, top_p, n)
        out = []
        for p in prompts:
            samples: list[Generation] = []
            for i in range(1 if temperature == 0 else n):
                r = self.llm.create_chat_completion(
                    messages=chat_messages(p, system), max_tokens=max_new_tokens, temperature=temperature,
                    top_p=top_p, top_k=0, min_p=0.0, repeat_penalty=1.0,
                    seed=sample_seed(seed, p, system, i))
                c, u = r["choices"][0], r.get("usage") or {}
                samples.append(Generation(text=c["message"].get("content") or "",
                                          n_prompt_tokens=int(u.get("prompt_tokens", 0)),
                                          n_completion_tokens=int(u.get("completion_tokens", 0)),
                                          finish_reason="length" if c.get("finish_reason") == "length" else "stop"))
            out.append(samples * n if temperature == 0 else samples)
        return out

    def loglikelihood(self, prompts: list[str], continuations: list[str], *,
                      system: str | None = None) -> list[float]:
        """See :meth:`whygym.models.Backend.loglikelihood` (one evaluation per pair)."""
        import numpy as np

        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        out = []
        for p, c in zip(prompts, continuations):
            ctx = self.llm.tokenize(self._chat_text(p, system).encode(), add_bos=False, special=True)
            cont = self.llm.tokenize(c.encode(), add_bos=False, special=False)
            if not cont:
                out.append(0.0)
                continue
            self.llm.reset()
            self.llm.eval(ctx + cont)
            logits = np.asarray(self.llm.scores[len(ctx) - 1:len(ctx) + len(cont) - 1], dtype=np.float64)
            m = logits.max(-1, keepdims=True)
            logp = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
            out.append(float(logp[np.arange(len(cont)), cont].sum()))
        return out


def _file_fingerprint(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()[:16]

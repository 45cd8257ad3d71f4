"""The llama.cpp backend (optional extra): GGUF models through ``llama-cpp-python``.

Install (builds from source, ~4.5 min; the default native build dies with SIGILL on some CPUs with AMX)::

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" pip install 'whygym[llamacpp]'

Requests run one at a time (llama.cpp contexts are not batched here); ~70 tokens/s at batch 1 for the
default model on 2 cores, against ~28 for transformers fp32. Sample ``i`` of a prompt uses the seed
:func:`~whygym.models.base.sample_seed` ``(seed, prompt, system, i)``, as in the transformers backend.
Log-likelihoods need every position's logits, so the model is opened with ``logits_all=True``.

Tool-integrated decoding (``tools="calculator"``, :mod:`whygym.models.tools`): the chat template is applied
here and each step of :func:`~whygym.models.tools.generate_with_tools` is one raw completion of the
chat-formatted prompt plus the answer so far. llama-cpp-python keeps the KV cache of the longest common
token prefix between calls, so a continuation evaluates only the new tokens (the inserted value), never the
prompt again. The stop strings are watched by a stopping criterion, not by ``stop=``: with ``stop=`` the
library cuts the stop string and reports ``finish_reason="stop"`` exactly as at the model's own end, and the
loop must know which happened. The text is cut at the first stop string here, so the result is the same
whether or not the criterion fired in time (generation is causal; later text is dropped).
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

from whygym.errors import UserError
from whygym.models.base import Generation, chat_messages, check_generate_args, sample_seed

INSTALL_HINT = ("the llama.cpp backend needs the optional extra 'llamacpp' (llama-cpp-python, a ~4.5 min "
                "source build). Install it with: CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON "
                "-DGGML_F16C=ON\" pip install 'whygym[llamacpp]' (the default native build can die with "
                "SIGILL on CPUs with AMX).")


class LlamaCppError(UserError, RuntimeError):
    """llama.cpp refused a request (e.g. a prompt longer than the context): one line, printed by the CLI
    without a traceback."""


@functools.lru_cache(maxsize=16)
def _compiled_template(template: str):
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):  # templates written for transformers call it
        raise TemplateError(message)

    # the settings transformers renders chat templates with, sandboxed (templates come from files and servers)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals.update(raise_exception=raise_exception, strftime_now=time.strftime)
    env.filters["tojson"] = lambda x, indent=None, **_: json.dumps(x, ensure_ascii=False, indent=indent)
    return env.from_string(template)


def render_chat_template(template: str, messages: list[dict[str, str]], *, add_generation_prompt: bool = True,
                         bos_token: str = "", eos_token: str = "") -> str:
    """Render a Jinja chat template (a GGUF's ``tokenizer.chat_template``, a checkpoint's) as text.

    ``bos_token`` is empty by default: the engine that tokenizes the text adds BOS itself where the model
    wants one.

    >>> tpl = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
    >>> render_chat_template(tpl, [{"role": "user", "content": "hi"}])
    '<user>hi<assistant>'
    """
    return _compiled_template(template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                               bos_token=bos_token, eos_token=eos_token)


class _StopStrings:
    """A llama-cpp-python stopping criterion: True once the generated text holds one of ``stop``.

    Only an early exit: the caller cuts the text at the first stop string whatever happened here."""

    def __init__(self, llm, stop: Sequence[str]):
        self.llm, self.stop, self.start = llm, [s for s in stop if s], None

    def __call__(self, input_ids, logits) -> bool:
        if self.start is None:  # the first call sees the prompt alone: generated tokens come after it
            self.start = len(input_ids)
        # stop strings are short: the last few generated tokens hold them
        tail = [int(t) for t in input_ids[max(self.start, len(input_ids) - 8):]]
        if not tail:
            return False
        text = self.llm.detokenize(tail).decode("utf-8", errors="ignore")
        return any(s in text for s in self.stop)


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
    tools : ToolSpec, str or None
        Tool-integrated decoding, e.g. ``"calculator"`` (see the module docstring). Recorded in
        ``config``; the name gets ``"+calculator"``. The calculator's values do not count as completion
        tokens (they were not generated).
    **llama_kwargs
        Passed to ``llama_cpp.Llama``.
    """

    def __init__(self, model_path: str | os.PathLike, *, n_ctx: int = 4096, n_threads: int | None = None,
                 tools: Any = None, **llama_kwargs: Any):
        from whygym.models.resolve import ModelNotFoundError
        from whygym.models.tools import ToolSpec, parse_tools

        tool_spec = parse_tools(tools) if isinstance(tools, str) else tools
        if tool_spec is not None and not isinstance(tool_spec, ToolSpec):
            raise TypeError(f"tools must be a ToolSpec, a --tools string or None, got {tools!r}")
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
        self.tools = tool_spec
        if self.tools is not None:
            self._chat_text("", None)  # fail now, not mid-run, when the GGUF has no chat template
            self.config["tools"] = self.tools.to_dict()  # changes outputs: part of the cache key
            self.name += "+" + self.tools.name

    def _chat_text(self, prompt: str, system: str | None) -> str:
        from whygym.models.load import BackendSettingError

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendSettingError(f"{self.name}: the GGUF carries no chat template (tokenizer.chat_template)")
        return render_chat_template(template, chat_messages(prompt, system))

    def _chat_sample(self, p: str, system: str | None, *, max_new_tokens: int, temperature: float, top_p: float,
                     seed: int) -> Generation:
        r = self.llm.create_chat_completion(
            messages=chat_messages(p, system), max_tokens=max_new_tokens, temperature=temperature,
            top_p=top_p, top_k=0, min_p=0.0, repeat_penalty=1.0, seed=seed)
        c, u = r["choices"][0], r.get("usage") or {}
        return Generation(text=c["message"].get("content") or "", n_prompt_tokens=int(u.get("prompt_tokens", 0)),
                          n_completion_tokens=int(u.get("completion_tokens", 0)),
                          finish_reason="length" if c.get("finish_reason") == "length" else "stop")

    def _tool_sample(self, p: str, system: str | None, *, max_new_tokens: int, temperature: float, top_p: float,
                     seed: int) -> Generation:
        from whygym.models.tools import generate_with_tools

        prompt = self._chat_text(p, system)
        step, n_prompt = [0], [0]

        def complete(so_far: str, stop: Sequence[str], max_tokens: int) -> tuple[str, int, str]:
            # The prompt is the same every step and the KV cache keeps the common prefix: only the new
            # tokens are evaluated.
            r = self.llm.create_completion(
                prompt=prompt + so_far, max_tokens=max_tokens, temperature=temperature, top_p=top_p, top_k=0,
                min_p=0.0, repeat_penalty=1.0, seed=(seed + step[0]) % 2 ** 32,
                stopping_criteria=_StopStrings(self.llm, stop) if stop else None)
            c, u = r["choices"][0], r.get("usage") or {}
            if step[0] == 0:
                n_prompt[0] = int(u.get("prompt_tokens", 0))
            step[0] += 1
            text, used = c.get("text") or "", int(u.get("completion_tokens", 0))
            hits = [(text.find(s), s) for s in stop if s and s in text]
            if hits:
                k, s = min(hits)
                return text[:k], used, "stop:" + s
            return text, used, "length" if c.get("finish_reason") == "length" else "stop"

        text, used, finish, _calls = generate_with_tools(complete, max_new_tokens, self.tools)
        return Generation(text=text, n_prompt_tokens=n_prompt[0], n_completion_tokens=used, finish_reason=finish)

    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: int = 0,
                 system: str | None = None) -> list[list[Generation]]:
        """See :meth:`whygym.models.Backend.generate`. Greedy when ``temperature == 0``.

        Raises
        ------
        LlamaCppError
            When llama.cpp refuses a prompt (e.g. longer than ``n_ctx``), naming the prompt.
        """
        check_generate_args(prompts, max_new_tokens, temperature, top_p, n)
        one = self._chat_sample if self.tools is None else self._tool_sample
        out = []
        for j, p in enumerate(prompts):
            samples: list[Generation] = []
            for i in range(1 if temperature == 0 else n):
                try:
                    samples.append(one(p, system, max_new_tokens=max_new_tokens, temperature=temperature,
                                       top_p=top_p, seed=sample_seed(seed, p, system, i)))
                except (ValueError, RuntimeError) as e:
                    if isinstance(e, UserError):
                        raise
                    raise LlamaCppError(
                        f"{self.name}: prompt {j + 1} of {len(prompts)} in this call ({p[:40]!r}...) failed: "
                        f"{' '.join(str(e).split())[:300]}. If the prompt and answer exceed the context, raise it: "
                        f"'gguf:FILE?n_ctx=N' (now {self.config['n_ctx']}) or a lower --max-new-tokens") from None
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

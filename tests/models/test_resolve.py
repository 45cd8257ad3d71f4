"""Model specs: the default model's folder, local checkpoints, clear errors, and safe conversion."""

import threading
import time

import pytest

import whygym.models.resolve as R
from whygym.models import ModelNotFoundError, load_backend, resolve_model


def test_cache_root_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("WHYGYM_CACHE", str(tmp_path))
    assert R.default_model_dir() == tmp_path / "models" / "smollm2-135m-instruct"
    monkeypatch.delenv("WHYGYM_CACHE")
    assert str(R.default_model_dir()).endswith(".cache/whygym/models/smollm2-135m-instruct")


def test_default_gguf_is_found_without_importing_the_package():
    p = R.default_gguf_path()
    assert p.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and p.stat().st_size > 50_000_000


def test_errors_say_what_and_what_to_do(tmp_path):
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE.*'default'"):
        resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model(tmp_path / "empty")
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelNotFoundError, match="gguf:"):
        resolve_model(str(tmp_path / "m.gguf"))
    with pytest.raises(ModelNotFoundError, match="openai:MODEL@BASE_URL"):
        load_backend("openai:no-url")
    with pytest.raises(ModelNotFoundError, match="cannot import"):
        load_backend("mock:no_such_module_xyz:f")
    from whygym.cli import UserError

    assert issubclass(ModelNotFoundError, UserError)  # the CLI prints it without a traceback


def test_local_checkpoint_paths(tmp_path):
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "config.json").write_text("{}")
    assert resolve_model(tmp_path / "ck") == (tmp_path / "ck").resolve()
    assert resolve_model(f"hf:{tmp_path / 'ck'}") == (tmp_path / "ck").resolve()


def test_fingerprint_changes_with_content(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"a" * 100)
    a = R.weights_fingerprint(tmp_path)
    assert a == R.weights_fingerprint(tmp_path)
    time.sleep(0.01)
    (tmp_path / "model.safetensors").write_bytes(b"b" * 100)
    assert R.weights_fingerprint(tmp_path) != a


def test_concurrent_conversion_runs_once_and_is_atomic(monkeypatch, tmp_path):
    monkeypatch.setenv("WHYGYM_CACHE", str(tmp_path))
    calls, seen_partial = [], []

    def fake_convert(gguf, out_dir):
        calls.append(out_dir)
        (out_dir / "config.json").write_text("{}")
        time.sleep(0.3)  # a reader now must not see a half-written target
        seen_partial.append(R.default_model_dir().exists())
        (out_dir / "model.safetensors").write_bytes(b"w")
        return {"seconds": 0.3}

    monkeypatch.setattr(R, "convert_gguf", fake_convert)
    results, errors = [], []

    def worker():
        try:
            results.append(R.ensure_default_model())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(calls) == 1 and seen_partial == [False]
    assert results == [R.default_model_dir()] * 3
    assert sorted(p.name for p in R.default_model_dir().iterdir()) == [
        "config.json", "model.safetensors", "whygym_conversion.json"]
    assert not [p for p in R.default_model_dir().parent.iterdir() if ".tmp-" in p.name]


def test_failed_conversion_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("WHYGYM_CACHE", str(tmp_path))

    def broken(gguf, out_dir):
        (out_dir / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(R, "convert_gguf", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        R.ensure_default_model()
    assert not R.default_model_dir().exists()
    assert [p.name for p in R.default_model_dir().parent.iterdir()] == [".smollm2-135m-instruct.lock"]

"""bf16 only where the CPU does it natively (whygym.models.precision), for every bf16 path."""

import warnings

import pytest
import torch

from whygym.models import precision


@pytest.fixture
def cpu(monkeypatch):
    """Pretend the CPU has (True) or lacks (False) native bf16; the warning memory starts empty."""
    monkeypatch.delenv(precision.BF16_ENV, raising=False)
    monkeypatch.setattr(precision, "_WARNED", set())

    def set_native(native: bool):
        monkeypatch.setattr(precision, "_cpu_native_bf16", lambda: (native, "AVX512" if native else "AVX2"))

    return set_native


def test_decision_table(cpu, monkeypatch):
    cpu(True)
    assert precision.use_bf16(True, "x") is True and precision.use_bf16(False, "x") is False
    cpu(False)
    with pytest.warns(RuntimeWarning, match=r"AVX2\) has no native bf16.*running fp32"):
        assert precision.use_bf16(True, "x") is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per place
        assert precision.use_bf16(True, "x") is False
    monkeypatch.setenv(precision.BF16_ENV, "force")
    assert precision.use_bf16(True, "y") is True and precision.use_bf16(False, "y") is False
    monkeypatch.setenv(precision.BF16_ENV, "off")
    cpu(True)
    assert precision.use_bf16(True, "z") is False
    monkeypatch.setenv(precision.BF16_ENV, "yes please")
    with pytest.raises(ValueError, match="WHYGYM_BF16='yes please'.*force"):
        precision.use_bf16(True, "z")


def test_native_detection_agrees_with_the_cpu_flags():
    precision._cpu_native_bf16.cache_clear()
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    assert precision.native_bf16() == ("amx_bf16" in flags or "avx512_bf16" in flags)


def test_transformers_backend_falls_back_to_fp32(cpu, tmp_path):
    from whygym.models import TransformersBackend, tiny_llama

    model, tok = tiny_llama(seed=0)
    cpu(False)
    with pytest.warns(RuntimeWarning, match="bf16 autocast"):
        be = TransformersBackend(model, tok, bf16=True)
    assert be.bf16 is False and be.config["precision"] == "float32"
    cpu(True)
    be = TransformersBackend(model, tok, bf16=True)
    assert be.bf16 is True and be.config["precision"] == "float32+bf16-autocast"

    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    cpu(False)
    with pytest.warns(RuntimeWarning, match="bfloat16 weights"):
        be = TransformersBackend(str(tmp_path / "m"), dtype="bfloat16")
    assert next(be.model.parameters()).dtype == torch.float32 and be.config["precision"] == "float32"
    cpu(True)
    be = TransformersBackend(str(tmp_path / "m"), dtype="bfloat16")
    assert next(be.model.parameters()).dtype == torch.bfloat16


def test_layer_attribution_records_the_precision_it_ran(cpu):
    from whygym.attribution.layers import layer_attribution
    from whygym.models import tiny_llama
    from whygym.tasks import generate

    model, tok = tiny_llama(seed=0)
    items = list(generate(["ATE"], n=1, seed=0))
    cpu(False)
    with pytest.warns(RuntimeWarning, match="layer attribution"):
        res = layer_attribution(model, tok, items, methods=("mean_ablation",), n_boot=10, bf16=True)
    assert res["precision"] == "fp32"
    cpu(True)
    res = layer_attribution(model, tok, items, methods=("mean_ablation",), n_boot=10, bf16=True)
    assert res["precision"] == "bf16-autocast"

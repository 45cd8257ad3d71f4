"""The converted default model is a clean fp32 checkpoint the trainers accept (no GGUF quantizer marker)."""

import pytest


@pytest.mark.slow
def test_default_model_is_trainable_as_loaded():
    import torch

    from whygym.train.trainers import load_model

    model, tok = load_model("default")
    assert getattr(model, "hf_quantizer", None) is None
    assert not getattr(model.config, "quantization_config", None)
    assert next(model.parameters()).dtype == torch.float32
    assert tok.chat_template and "<|im_start|>" in tok.chat_template

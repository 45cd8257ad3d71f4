"""The accelerate configs for several GPUs parse and carry the keys accelerate reads (not runnable here)."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2] / "configs" / "accelerate"


def _load(name):
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", ["zero2.yaml", "zero3.yaml", "fsdp.yaml"])
def test_common_keys(name):
    c = _load(name)
    for key in ("compute_environment", "distributed_type", "mixed_precision", "num_machines", "num_processes",
                "machine_rank", "use_cpu"):
        assert key in c, f"{name} lacks {key}"
    assert c["compute_environment"] == "LOCAL_MACHINE" and c["use_cpu"] is False
    assert isinstance(c["num_processes"], int) and c["num_processes"] >= 2


@pytest.mark.parametrize("name,stage", [("zero2.yaml", 2), ("zero3.yaml", 3)])
def test_deepspeed(name, stage):
    c = _load(name)
    assert c["distributed_type"] == "DEEPSPEED"
    assert c["deepspeed_config"]["zero_stage"] == stage
    if stage == 3:
        assert c["deepspeed_config"]["zero3_init_flag"] is True
        assert c["deepspeed_config"]["zero3_save_16bit_model"] is True


def test_fsdp():
    c = _load("fsdp.yaml")
    assert c["distributed_type"] == "FSDP"
    f = c["fsdp_config"]
    assert f["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    assert f["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert f["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"


def test_accelerate_reads_them():
    from accelerate.commands.config.config_args import load_config_from_file

    for name in ("zero2.yaml", "zero3.yaml", "fsdp.yaml"):
        cfg = load_config_from_file(str(ROOT / name))
        assert cfg.distributed_type.value in ("DEEPSPEED", "FSDP")


def test_readme_recipe():
    text = (ROOT / "README.md").read_text()
    assert "accelerate launch --config_file configs/accelerate/zero2.yaml -m whygym.cli" in text
    assert "--use-vllm true" in text

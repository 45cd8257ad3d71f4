"""Post-training on generated causal problems: data builders, rewards, TRL trainers, configs, exports.

* :mod:`whygym.train.data` -- SFT / DPO / KTO / RL rows from the generator (no teacher model), held-out twins
  dropped; derivation styles ``calm``, ``spelled``, ``answer``; rejected answers with one labelled error.
* :mod:`whygym.train.trainers` -- :func:`train` (SFT, DPO, KTO, GRPO with TRL 1.16).
* :mod:`whygym.train.ppo` -- PPO (TRL 1.16 has no PPOTrainer).
* :mod:`whygym.train.config` -- one dataclass per method (``configs/<method>.yaml``).
* :mod:`whygym.train.export` -- verl / OpenRLHF data and reward adapters.

``whygym train METHOD --config configs/METHOD.yaml --out DIR`` runs a method (see :mod:`whygym.train.cli`).
Heavy imports (torch, trl) happen only when training starts.
"""

from whygym.train.config import DPOArgs, GRPOArgs, KTOArgs, METHOD_CONFIGS, SFTArgs, TrainArgs, load_config
from whygym.train.data import (DERIVATION_STYLES, ERROR_TYPES, DataReport, dpo_rows, heldout_items, kto_rows,
                               rejected_derivation, render_target, rl_rows, sft_rows, train_items)


def train(method, cfg, out_dir, **kwargs):
    """Run ``method`` (sft, dpo, kto, grpo); see :func:`whygym.train.trainers.train`."""
    from whygym.train.trainers import train as _train

    return _train(method, cfg, out_dir, **kwargs)


__all__ = ["train", "TrainArgs", "SFTArgs", "DPOArgs", "KTOArgs", "GRPOArgs", "METHOD_CONFIGS", "load_config",
           "DERIVATION_STYLES", "ERROR_TYPES", "DataReport", "sft_rows", "dpo_rows", "kto_rows", "rl_rows",
           "train_items", "heldout_items", "rejected_derivation", "render_target"]

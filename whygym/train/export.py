"""Training sets and reward functions for other RL frameworks: verl and OpenRLHF.

verl (parquet, one row per prompt)::

    data_source   "whygym"
    prompt        [{"role": "user", "content": ...}]
    ability       "causal_reasoning"
    reward_model  {"style": "rule", "ground_truth": "<gold JSON>"}
    extra_info    {"id", "task", "index", "split"}

Point verl's ``custom_reward_function.path`` at this file and ``.name`` at :func:`compute_score`.

OpenRLHF (JSON Lines)::

    {"input": [{"role": "user", "content": ...}], "label": "<gold JSON with the task>", "task": ..., "id": ...}

Train with ``--input_key input --label_key label --apply_chat_template --remote_rm_url
whygym/train/export.py`` (the file defines :func:`reward_func`).

Both reward adapters call :func:`whygym.scoring.combined_reward` with :data:`REWARD_WEIGHTS`, the weighted
mean of the same reward functions GRPO gets one by one (:func:`whygym.scoring.rewards.reward_functions`):
what another framework optimises is what ``whygym eval`` measures.

>>> compute_score("whygym", '{"ANSWER": "Yes", "PROB": "0.2500"}', '{"label": "yes", "prob": 0.25}', {"task": "ATE"})
1.0
>>> compute_score("whygym", "no idea", '{"label": "yes", "prob": 0.25}', {"task": "ATE"})
0.0
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from whygym.items import PROB_TASKS
from whygym.scoring.rewards import DEFAULT_WEIGHTS

__all__ = ["ExportArgs", "verl_rows", "openrlhf_rows", "write_verl", "write_openrlhf", "export",
           "compute_score", "reward_func", "REWARD_WEIGHTS", "FORMATS"]

FORMATS = ("verl", "openrlhf")
#: Weights of the adapters' reward: the rewards' one default (:data:`whygym.scoring.rewards.DEFAULT_WEIGHTS`).
REWARD_WEIGHTS = dict(DEFAULT_WEIGHTS)
_ASSISTANT_MARKERS = ("<|im_start|>assistant", "<|start_header_id|>assistant<|end_header_id|>", "<|assistant|>",
                      "[/INST]")


def _f(default, help: str):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class ExportArgs:
    """What to export (the same data settings as the trainers)."""

    format: str = _f("verl", "verl (parquet) or openrlhf (JSONL)")
    tasks: list = _f(list(PROB_TASKS), "tasks")
    n_train: int = _f(100, "generated items per task")
    train_seed: int = _f(1, "generator seed of the training items")
    heldout_n: int = _f(10, "held-out items per task whose graph-and-question twins are dropped")
    heldout_seed: int = _f(1000, "generator seed of the held-out items")
    nodes: list = _f([3, 6], "graph sizes [min, max]")
    method = "export"

    def validate(self) -> None:
        from whygym.errors import UserError

        if self.format not in FORMATS:
            raise UserError(f"format {self.format!r} is not known; use one of {', '.join(FORMATS)}")


def _rows(items) -> list[dict[str, Any]]:
    from whygym.train.data import rl_rows

    return rl_rows(items)


def verl_rows(items: Iterable, split: str = "train") -> list[dict[str, Any]]:
    return [{"data_source": "whygym", "prompt": r["prompt"], "ability": "causal_reasoning",
             "reward_model": {"style": "rule", "ground_truth": r["gold"]},
             "extra_info": {"id": r["id"], "task": r["task"], "index": i, "split": split}}
            for i, r in enumerate(_rows(items))]


def openrlhf_rows(items: Iterable) -> list[dict[str, Any]]:
    # the label carries the task too: OpenRLHF hands reward_func the labels only
    return [{"input": r["prompt"], "label": json.dumps({**json.loads(r["gold"]), "task": r["task"]}, sort_keys=True),
             "task": r["task"], "id": r["id"]} for r in _rows(items)]


def write_verl(items: Iterable, path: str | Path, split: str = "train") -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = verl_rows(items, split)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    tmp.replace(path)
    return len(rows)


def write_openrlhf(items: Iterable, path: str | Path) -> int:
    from whygym.items import atomic_write_text

    rows = openrlhf_rows(items)
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)


def export(cfg: ExportArgs, out: str | Path) -> dict[str, Any]:
    """Generate the training items of ``cfg`` (held-out twins dropped) and write them in ``cfg.format``."""
    from whygym.tasks.generate import GenConfig
    from whygym.train.data import DataReport, heldout_items, train_items

    cfg.validate()
    report = DataReport()
    heldout = heldout_items(cfg.tasks, cfg.heldout_n, cfg.heldout_seed)
    items = train_items(cfg.tasks, cfg.n_train, cfg.train_seed, GenConfig(nodes=tuple(cfg.nodes)), heldout, report)
    n = write_verl(items, out) if cfg.format == "verl" else write_openrlhf(items, out)
    report.rows = n
    return {"format": cfg.format, "out": str(out), **report.to_dict()}


# ---------------------------------------------------------------------------------------------- rewards
_REWARD = None


def _reward():
    global _REWARD
    if _REWARD is None:
        from whygym.scoring import combined_reward

        _REWARD = combined_reward(REWARD_WEIGHTS, name="whygym_reward")
    return _REWARD


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None) -> float:
    """verl's custom reward: whygym's combined reward of one response (``ground_truth``: the gold JSON)."""
    task = (extra_info or {}).get("task")
    r = _reward()([solution_str], gold=[ground_truth], task=[task])[0]
    return 0.0 if r is None else float(r)


def _response(query: str, prompt: str) -> str:
    if prompt and query.startswith(prompt):
        return query[len(prompt):]
    # never score the prompt: its format example ({"ANSWER": "Yes", "PROB": "0.1234"}) would read as an answer
    cut = max((query.rfind(m) + len(m) for m in _ASSISTANT_MARKERS if m in query), default=-1)
    return query[cut:] if cut >= 0 else query


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[str]):
    """OpenRLHF's remote reward function: whygym's combined reward of each response, as a float tensor.

    ``queries`` are prompt plus response as OpenRLHF renders them; the response is what follows the prompt.
    """
    import torch

    responses = [_response(q, p) for q, p in zip(queries, prompts)]
    tasks = []
    for lab in labels:
        try:
            tasks.append(json.loads(lab).get("task"))
        except (TypeError, ValueError, AttributeError):
            tasks.append(None)
    r = _reward()(responses, gold=list(labels), task=tasks)
    return torch.tensor([0.0 if x is None else float(x) for x in r], dtype=torch.float32)

"""``whygym train sft|dpo|kto|grpo|ppo|export``: post-training on generated causal problems.

Every setting of a method is a field of its config dataclass (:mod:`whygym.train.config`); the YAML file
given with ``--config`` sets them, ``--key value`` overrides them, and ``--help`` lists them::

    whygym train sft --config configs/sft.yaml --out runs/sft --steps 20 --derivation spelled
    whygym train grpo --config configs/grpo.yaml --out runs/grpo --model runs/sft/final
    whygym train sft --config configs/sft.yaml --out runs/sft --resume
    whygym train export --format verl --out data/whygym_train.parquet --n-train 500
    whygym train recipe --config configs/recipe.yaml --out runs/recipe      # SFT stages, then PPO

Several GPUs or nodes (configs/accelerate/README.md)::

    accelerate launch --config_file configs/accelerate/zero2.yaml -m whygym.cli train sft --config configs/sft.yaml --out runs/sft
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import json
import sys
import typing
from pathlib import Path

from whygym.cliargs import COMMANDS, deprecated_alias, flag
from whygym.errors import UserError

_EPILOG = ("Values are read as YAML scalars: --lora true, --tasks '[ATE, PN]', --reward-weights '{accuracy: 1}'. "
           "Each setting is its --config key with '_' written '-'.")


class _StrictParser(argparse.ArgumentParser):
    """Unknown ``--key`` options are errors that name the nearest setting."""

    def parse_known_args(self, args=None, namespace=None):
        ns, extras = super().parse_known_args(args, namespace)
        keys = [a.split("=", 1)[0] for a in extras if a.startswith("--")]
        if keys:
            known = [o[2:] for a in self._actions for o in a.option_strings
                     if o.startswith("--") and a.help is not argparse.SUPPRESS]
            k = keys[0][2:]
            near = difflib.get_close_matches(k.replace("_", "-"), known, n=1)
            hint = f"; did you mean --{near[0]}?" if near else ""
            self.error(f"unknown setting --{k}{hint} (--help lists the settings)")
        return ns, extras


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union,) or type(tp).__name__ == "UnionType":
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if args else str
    tp = typing.get_origin(tp) or tp
    return {bool: "BOOL", int: "INT", float: "FLOAT", str: "STR", list: "LIST", dict: "DICT"}.get(tp, "VALUE")


def _add_fields(p: argparse.ArgumentParser, cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    g = p.add_argument_group("settings (override the --config file)")
    names = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        help_text = (f.metadata.get("help", "") + f" (default: {json.dumps(default)})").replace("%", "%%")
        g.add_argument(flag(f.name), dest=f"field__{f.name}", metavar=_type_name(hints.get(f.name, str)),
                       default=argparse.SUPPRESS, help=help_text)
        if flag(f.name) != f"--{f.name}":  # the field's own spelling, as the YAML key
            deprecated_alias(g, f"--{f.name}", flag(f.name), dest=f"field__{f.name}")
        names.append(f.name)
    for old, new in getattr(cls, "RENAMED", {}).items():  # renamed fields: the old spellings still work
        for spelling in {flag(old), f"--{old}"}:
            deprecated_alias(g, spelling, flag(new), dest=f"field__{new}")
    return names


def _overrides(args: argparse.Namespace) -> dict:
    return {k[len("field__"):]: v for k, v in vars(args).items() if k.startswith("field__")}


def register(sub) -> None:
    from whygym.train.config import METHOD_CONFIGS
    from whygym.train.export import ExportArgs

    p = sub.add_parser("train", help=COMMANDS["train"].help,
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tsub = p.add_subparsers(dest="method", metavar="METHOD", parser_class=_StrictParser)
    for method, cls in METHOD_CONFIGS.items():
        sp = tsub.add_parser(method, help=(cls.__doc__ or "").strip().splitlines()[0],
                             description=(cls.__doc__ or "").strip(), epilog=_EPILOG)
        _common(sp, method)
        _add_fields(sp, cls)
        sp.set_defaults(func=_run_method, train_method=method, train_cls=cls)

    from whygym.train.ppo_config import PPOConfig  # torch-free, so the parser builds fast

    ppo_help = "proximal policy optimisation with whygym's verifiable reward (whygym.train.ppo)"
    sp = tsub.add_parser("ppo", help=ppo_help, epilog=_EPILOG, description=ppo_help)
    _common(sp, "ppo")
    _add_fields(sp, PPOConfig)
    sp.set_defaults(func=_run_ppo)

    from whygym.train.recipe import RecipeArgs

    sp = tsub.add_parser("recipe", help="SFT on calculator derivations (small graphs first), then PPO with the "
                                       "calculator and a process reward, in one wall-clock budget",
                         description=(importlib.import_module("whygym.train.recipe").__doc__ or ""),
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG)
    sp.add_argument("--config", metavar="FILE", default=None, help="YAML settings, e.g. configs/recipe.yaml")
    sp.add_argument("--out", required=True, metavar="DIR",
                    help="output folder: sft-small/, sft/, ppo/ (one run each), final -> the last stage's model, "
                         "recipe_summary.json")
    sp.add_argument("--resume", action="store_true", help="continue the unfinished stage from its last checkpoint")
    _add_fields(sp, RecipeArgs)
    sp.set_defaults(func=_run_recipe)

    sp = tsub.add_parser("export", help="write the RL training set for verl (parquet) or OpenRLHF (JSONL)",
                         description="Generate training items (held-out twins dropped) and write them for verl or "
                                     "OpenRLHF; their reward adapters are whygym.train.export.compute_score (verl) "
                                     "and whygym.train.export.reward_func (OpenRLHF).", epilog=_EPILOG)
    sp.add_argument("--config", metavar="FILE", default=None, help="YAML file of export settings (optional)")
    sp.add_argument("--out", required=True, metavar="PATH", help="output file (.parquet for verl, .jsonl for OpenRLHF)")
    _add_fields(sp, ExportArgs)
    sp.set_defaults(func=_run_export)
    p.set_defaults(func=lambda a: (p.print_help(), 0)[1])


def _common(sp: argparse.ArgumentParser, method: str) -> None:
    sp.add_argument("--config", metavar="FILE", default=None, help=f"YAML settings, e.g. configs/{method}.yaml")
    if method != "ppo":
        sp.add_argument("--from-attribution", metavar="FILE", default=None,
                        help="precision fine-tuning: an attribution.json from `whygym attribute`; the training mix "
                             "leans toward the weak component and LoRA is limited to the top-attributed layers "
                             "(see docs/attribution.md)")
    sp.add_argument("--out", required=True, metavar="DIR",
                    help="output folder: final/, checkpoints/, train_log.jsonl, train_summary.json")
    sp.add_argument("--resume", action="store_true", help="continue from the last checkpoint in DIR/checkpoints")


def _argv() -> list[str]:
    return ["whygym"] + sys.argv[1:]


def _run_method(args: argparse.Namespace) -> int:
    from whygym.train.config import load_config
    from whygym.train.trainers import train

    cfg = load_config(args.train_cls, args.config, _overrides(args), method=args.train_method)
    dataset = None
    if getattr(args, "from_attribution", None):
        dataset = _precision_dataset(args.train_method, cfg, args.from_attribution, args.out)
    s = train(args.train_method, cfg, args.out, dataset=dataset, resume=args.resume, argv=_argv())
    _report(s)
    return 0


def _precision_dataset(method: str, cfg, path: str, out: str) -> list[dict]:
    """Rows of a precision fine-tuning mix planned from an attribution file (``cfg`` takes the plan's
    task list and LoRA targets); the plan is written to ``OUT/precision_plan.json``."""
    from whygym.attribution.precision import precision_overrides, precision_train_items
    from whygym.errors import UserError
    from whygym.items import atomic_write_text
    from whygym.train import data

    p = Path(path)
    if not p.is_file():
        raise UserError(f"--from-attribution {path}: no such file; pass the attribution.json written by "
                        "`whygym attribute --out DIR`")
    heldout = data.heldout_items(cfg.tasks, cfg.heldout_n, cfg.heldout_seed)
    try:
        items, plan = precision_train_items(str(p), cfg.tasks, cfg.n_train, cfg.train_seed, heldout=heldout)
    except (KeyError, ValueError) as e:
        raise UserError(f"--from-attribution {path}: cannot plan from this file ({e}); it needs the prompt-"
                        "component section that `whygym attribute --components ...` writes") from None
    for k, v in precision_overrides(plan).items():
        setattr(cfg, k, v)
    atomic_write_text(Path(out) / "precision_plan.json", json.dumps(plan, indent=2, default=str) + "\n")
    if method == "sft":
        return data.sft_rows(items, cfg.derivation)
    if method == "dpo":
        return data.dpo_rows(items, cfg.derivation, errors=cfg.errors, seed=cfg.seed)
    if method == "kto":
        return data.kto_rows(items, cfg.derivation, desirable_ratio=cfg.desirable_ratio, seed=cfg.seed)
    return data.rl_rows(items)


def _report(s: dict) -> None:
    keys = ("method", "steps", "wall_s", "mean_step_s", "first_loss", "final_loss", "zero_signal_frac_mean",
            "final_dir")
    print(json.dumps({k: s.get(k) for k in keys if k in s}, indent=1))


def _run_ppo(args: argparse.Namespace) -> int:
    mod = importlib.import_module("whygym.train.ppo")  # the trainer itself (imports torch)
    from whygym.train.config import load_config
    from whygym.train.trainers import _to_dataset, build_dataset

    cfg = load_config(mod.PPOConfig, args.config, _overrides(args), method="ppo")
    if args.resume and not (Path(args.out) / "checkpoints").is_dir():  # before the data is built
        raise UserError(f"--resume: no checkpoint in {Path(args.out) / 'checkpoints'}; start without --resume")
    rows, report = build_dataset(cfg)  # a RunArgs, as every trainer's config
    # the reward: train_ppo's default, whygym.scoring.combined_reward(cfg.reward_weights)
    s = mod.train_ppo(cfg, args.out, dataset=_to_dataset(rows, "ppo"), resume=args.resume) or {}
    s = {"method": "ppo", "data": report, **s}
    _report(s)
    return 0


def _run_recipe(args: argparse.Namespace) -> int:
    from whygym.train.config import load_config
    from whygym.train.recipe import RecipeArgs, run_recipe

    cfg = load_config(RecipeArgs, args.config, _overrides(args), method="recipe")
    s = run_recipe(cfg, args.out, resume=args.resume, argv=_argv())
    print(json.dumps({"stages": s["stages"], "final_dir": s["final_dir"]}, indent=1))
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from whygym.train.config import load_config
    from whygym.train.export import ExportArgs, export

    cfg = load_config(ExportArgs, args.config, _overrides(args), method="export")
    print(json.dumps(export(cfg, args.out), indent=1))
    return 0

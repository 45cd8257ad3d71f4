"""Causal attribution of model answers: do() on prompt components and on the model's own layers.

* :mod:`.prompts` -- paired 2^k factorial over prompt components (names, data, graph, instruction), each
  arm evaluated through the harness with its cache; :func:`prompt_attribution` writes ``attribution.json``.
* :mod:`.factorial` -- conditional / marginal attributions and factorial contrasts with paired bootstrap CIs
  (CAK, CAD, MAK, MAD of arXiv 2401.00139 for names = knowledge and data).
* :mod:`.discovery` -- the study's own causal-discovery setting, six settings, TDR/FDR/F1/SHD in code.
* :mod:`.layers` -- mean ablation and activation patching of every attention and MLP output.
* :mod:`.precision` -- a training plan (data mix and LoRA target modules) from an attribution file.
* :mod:`.scripted` -- a fake model whose dependence on each component is known by construction.
* :mod:`.schema` -- ``attribution.json``: its keys, writing it, and :func:`read_attribution`, the typed reader.

>>> from whygym.attribution import Design, attribution_scores, parse_edges, discovery_metrics
>>> Design(["names", "data"]).label((1, 0))
'names=real,data=withheld'
"""

from whygym.attribution.discovery import (SETTINGS, discovery_attribution, discovery_metrics, parse_edges,
                                          relabel_reverse, run_discovery, shd)
from whygym.attribution.factorial import arm_tuples, attribution_scores, contrast_weights
from whygym.attribution.prompts import (OFF_LEVELS, ON_LEVELS, Design, base_items, build_arms, evaluate_arms,
                                        load_attribution, parse_gen_spec, prompt_attribution)
from whygym.attribution.layers import component_modules, layer_attribution, lora_targets_for
from whygym.attribution.precision import (build_precision_dataset, plan_from_attribution, precision_overrides,
                                          precision_train_items)
from whygym.attribution.schema import Attribution, read_attribution
from whygym.attribution.scripted import scripted_backend, visible_components

__all__ = [
    "SETTINGS", "discovery_attribution", "discovery_metrics", "parse_edges", "relabel_reverse", "run_discovery",
    "shd", "arm_tuples", "attribution_scores", "contrast_weights", "OFF_LEVELS", "ON_LEVELS", "Design",
    "base_items", "build_arms", "evaluate_arms", "load_attribution", "parse_gen_spec", "prompt_attribution",
    "scripted_backend", "visible_components", "component_modules", "layer_attribution", "lora_targets_for",
    "build_precision_dataset", "plan_from_attribution", "precision_overrides", "precision_train_items",
    "Attribution", "read_attribution",
]

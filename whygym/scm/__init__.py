"""The exact engine: binary SCMs on DAGs, do(), counterfactuals, effects, bounds, adjustment sets.

Knows nothing of prompts or models.
"""

from whygym.scm.effects import (Bounds, average_treatment_effect, controlled_direct_effect,
                                effect_of_treatment_on_treated, natural_direct_effect,
                                natural_indirect_effect, p_do, pn_bounds, probability_of_necessity,
                                probability_of_sufficiency, ps_bounds, tian_pearl_bounds, total_effect)
from whygym.scm.graph import DAG, letters, mask, members, random_dag
from whygym.scm.model import BinarySCM
from whygym.scm.sampling import random_cpts, random_scm

__all__ = [
    "DAG", "BinarySCM", "mask", "members", "letters", "random_dag", "random_cpts", "random_scm",
    "p_do", "average_treatment_effect", "total_effect", "controlled_direct_effect",
    "effect_of_treatment_on_treated", "natural_direct_effect", "natural_indirect_effect",
    "probability_of_necessity", "probability_of_sufficiency", "Bounds", "tian_pearl_bounds",
    "pn_bounds", "ps_bounds",
]

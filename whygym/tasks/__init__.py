"""Task generators for the seven core causal tasks (one module each) and their registry.

>>> from whygym.tasks import generate
>>> items = list(generate(["ATE"], n=2, seed=0))
>>> items[0].task, items[0].prompt.startswith("Input Info: Imagine a self-contained")
('ATE', True)
"""

from whygym.tasks.core import Derivation, GivenLookup, MissingTerm, Problem, SCMLookup, Term
from whygym.tasks.generate import DEFAULT_TASKS, GENERATOR_VERSION, GenConfig, generate, generate_item
from whygym.tasks.spec import TASKS, TaskSpec, get_task

__all__ = ["generate", "generate_item", "GenConfig", "DEFAULT_TASKS", "GENERATOR_VERSION", "TASKS", "TaskSpec",
           "get_task", "Problem", "Term", "Derivation", "SCMLookup", "GivenLookup", "MissingTerm"]

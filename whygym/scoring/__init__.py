"""Scoring: answer extraction, match modes, metrics with confidence intervals, rewards.

* :func:`extract` -- every answer in a model output and the final one (:mod:`.extract`).
* :func:`score` / :func:`score_all` -- ``"correct"`` / ``"wrong"`` / ``"unparsed"`` under the ``strict`` (default),
  ``caugym`` or ``calm`` rule (:mod:`.match`).
* :func:`accuracy`, :func:`group_accuracy`, :func:`wilson_interval`, :func:`bootstrap_ci`,
  :func:`paired_bootstrap_diff` (:mod:`.metrics`).
* TRL rewards :func:`format_reward`, :func:`accuracy_reward`, :func:`closeness_reward`,
  :func:`make_closeness_reward`, :func:`combined_reward` (:mod:`.rewards`).
* :func:`verify` -- a derivation checked step by step against the item's reference derivation: a
  :class:`Verdict` with the first wrong step's kind; ``process_reward()`` (TRL reward = verified prefix)
  and :func:`breakdown` (counts per category) (:mod:`.verify`).

Examples
--------
>>> from whygym.scoring import score, accuracy
>>> outs = [score(t, {"prob": 0.25, "label": "yes"}) for t in
...         ['{"ANSWER": "Yes", "PROB": "0.25"}', '{"ANSWER": "Yes", "PROB": "0.3"}', "?"]]
>>> [o.outcome for o in outs], accuracy(outs).label_accuracy
(['correct', 'wrong', 'unparsed'], 0.6666666666666666)
"""

from whygym.scoring.extract import (LACK_CONDITION, Answer, Extraction, completion_text, extract, normalize_label,
                                    parse_number)
from whygym.scoring.match import (CALM_DIGITS, CAUGYM_TOL, FLOAT_EPS, MODES, OUTCOMES, STRICT_TOL, Outcome,
                                  labels_match, normalize_gold, prob_matches, score, score_all)
from whygym.scoring.metrics import (CI, Z95, Accuracy, GroupReport, accuracy, bootstrap_ci, group_accuracy,
                                    paired_bootstrap_diff, wilson_interval)
from whygym.scoring.rewards import (DEFAULT_WEIGHTS, REWARD_NAMES, ClosenessReward, CombinedReward, accuracy_reward,
                                    closeness_reward, closeness_score, combined_reward, format_reward, format_score,
                                    make_closeness_reward, reward_functions)
from whygym.scoring.verify import (CATEGORIES, CHECKS, ProcessReward, StepCheck, Verdict, breakdown, process_reward,
                                   verify)

__all__ = [
    "LACK_CONDITION", "Answer", "Extraction", "completion_text", "extract", "normalize_label", "parse_number",
    "CALM_DIGITS", "CAUGYM_TOL", "FLOAT_EPS", "MODES", "OUTCOMES", "STRICT_TOL", "Outcome", "labels_match",
    "normalize_gold", "prob_matches", "score", "score_all",
    "CI", "Z95", "Accuracy", "GroupReport", "accuracy", "bootstrap_ci", "group_accuracy", "paired_bootstrap_diff",
    "wilson_interval",
    "DEFAULT_WEIGHTS", "accuracy_reward", "closeness_reward", "closeness_score", "combined_reward", "format_reward",
    "format_score", "make_closeness_reward", "REWARD_NAMES", "ClosenessReward", "CombinedReward", "reward_functions",
    "CATEGORIES", "CHECKS", "ProcessReward", "StepCheck", "Verdict", "breakdown", "process_reward", "verify",
]

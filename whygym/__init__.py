"""whygym: verifiable causal reasoning tasks for language models.

The public API is re-exported here; implementation lives in the subpackages.
"""

__version__ = "0.1.0"

from whygym.items import Item, read_jsonl, write_jsonl  # noqa: E402

__all__ = ["Item", "read_jsonl", "write_jsonl", "__version__"]

"""The examples in whygym.models docstrings run and hold."""

import doctest
import importlib

import pytest

MODULES = ["whygym.models", "whygym.models.base", "whygym.models.cache", "whygym.models.hf", "whygym.models.load",
           "whygym.models.mock", "whygym.models.tiny", "whygym.models.tools", "whygym.models.precision",
           "whygym.models.llamacpp"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0

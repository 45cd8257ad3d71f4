"""The examples in the attribution modules' docstrings run."""

import doctest
import importlib

import pytest

MODULES = ["whygym.attribution", "whygym.attribution.factorial", "whygym.attribution.prompts",
           "whygym.attribution.discovery", "whygym.attribution.layers", "whygym.attribution.precision"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0

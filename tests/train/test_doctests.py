import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["whygym.train.spelled", "whygym.train.data", "whygym.train.rewards",
                                  "whygym.train.config", "whygym.train.export"])
def test_doctests(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0

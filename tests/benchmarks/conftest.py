import json
from pathlib import Path

import pytest

from whygym.benchmarks import data_root


@pytest.fixture(scope="session")
def root() -> Path:
    r = data_root()
    if not (r / "calm_lite").exists():
        pytest.skip(f"reference data not found at {r} (set WHYGYM_DATA)")
    return r


@pytest.fixture(scope="session")
def calm_lite(root):
    from whygym.benchmarks import load_calm

    return load_calm(root / "calm_lite")


@pytest.fixture(scope="session")
def calm_p(calm_lite):
    """{(file stem, index): item} for the fourteen *-P_* files."""
    return {(it.meta["calm_file"], it.meta["index"]): it for it in calm_lite if it.meta["calm_task"].endswith("-P")}


@pytest.fixture(scope="session")
def raw_records(root):
    """{(file stem, index): raw record} for every CaLM Lite file."""
    out = {}
    for p in sorted((root / "calm_lite").rglob("*.json")):
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                rec = json.loads(line)
                out[(p.stem, rec.get("index", n + 1))] = rec
    return out

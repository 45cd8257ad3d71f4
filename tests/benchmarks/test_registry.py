"""Benchmark names, subsets, path sniffing."""

import json

import pytest

from whygym.benchmarks import list_benchmarks, load_benchmark, sniff_format
from whygym.items import write_jsonl


@pytest.mark.parametrize("name,count", [
    ("calm-lite:ATE-P_ATE-basic_EN", 100), ("calm-lite:probability-en", 700), ("calm-lite:probability-cn", 700),
    ("calm-lite:PN", 200), ("calm-lite:binary-en", 2300), ("caugym:base", 700), ("caugym:insufficient", 700),
    ("cladder-sample", 45)])
def test_names(root, name, count):
    items = load_benchmark(name, parse=False)
    assert len(items) == count
    assert items[0].meta["benchmark"] == name.split(":")[0]


def test_data_root_from_env(root, monkeypatch):
    monkeypatch.setenv("WHYGYM_DATA", str(root))
    assert "calm-lite" in list_benchmarks() and "probability-en" in list_benchmarks()["calm-lite"]
    assert len(load_benchmark("caugym", limit=3)) == 3


def test_typos_suggest(root):
    with pytest.raises(ValueError, match="did you mean 'calm-lite'"):
        load_benchmark("calm-lit")
    with pytest.raises(ValueError, match="probability-en"):
        load_benchmark("calm-lite:probabilty-en")


def test_paths_are_sniffed(root, tmp_path):
    assert sniff_format(root / "caugym" / "omitted_dataset.json") == "caugym"
    assert sniff_format(root / "cladder_sample" / "cladder_sample.json") == "cladder"
    p = root / "calm_lite" / "counterfactual" / "probability_of_necessity" / "PN-P_PN-basic_CN.json"
    assert sniff_format(p) == "calm" and len(load_benchmark(p, limit=5)) == 5
    renamed = tmp_path / "my_copy.json"
    renamed.write_bytes((root / "caugym" / "base_dataset.json").read_bytes())
    assert len(load_benchmark(renamed)) == 700
    items = load_benchmark("cladder-sample")
    write_jsonl(items, tmp_path / "items.jsonl")
    assert load_benchmark(tmp_path / "items.jsonl") == items
    assert len(load_benchmark(root / "calm_lite" / "association")) == 400


def test_unknown_format(tmp_path):
    f = tmp_path / "x.json"
    f.write_text(json.dumps([{"foo": 1}]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"x\.json: first record has keys \['foo'\]"):
        load_benchmark(f)


def test_items_roundtrip_through_jsonl(root, tmp_path):
    from whygym.items import read_jsonl

    items = (load_benchmark("calm-lite", limit=400) + load_benchmark("calm-lite:probability-cn", limit=50)
             + load_benchmark("caugym:insufficient", limit=50) + load_benchmark("cladder-sample"))
    write_jsonl(items, tmp_path / "all.jsonl")
    assert list(read_jsonl(tmp_path / "all.jsonl")) == items


def test_empty_files_are_errors(tmp_path):
    for name, text in (("e1.json", ""), ("e2.json", "[]"), ("ATE-P_ATE-basic_EN.json", "\n\n")):
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=name.replace(".", r"\.") + ": (empty file|an empty JSON array)"):
            load_benchmark(f)

"""``whygym attribute``: help, scripted prompt run, layer run on a tiny model, merged attribution.json."""

import json

import pytest

from whygym.cli import main


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["attribute", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--components" in out and "--layers" in out and "--discovery" in out


def test_scripted_prompt_run_and_discovery_merge(tmp_path, capsys):
    out = tmp_path / "attr"
    rc = main(["attribute", "--model", "scripted:data", "--benchmark", "gen:ATE,NDE:4:0", "--components",
               "names,data", "--out", str(out), "--n-boot", "200", "--quiet"])
    assert rc == 0
    doc = json.loads((out / "attribution.json").read_text())
    st = doc["results"]["correct"]["study"]
    assert st["CAD"]["point"] == 1.0 and st["CAK"]["point"] == 0.0
    assert (out / "attribution_correct.png").exists() and (out / "attribution_loglik.png").exists()
    assert "study CAD" in capsys.readouterr().out
    rc = main(["attribute", "--model", "mock:text=a -> b", "--discovery", "pairwise-uniform", "--trials", "3",
               "--rows", "5", "--out", str(out), "--n-boot", "50", "--quiet"])
    assert rc == 0
    doc = json.loads((out / "attribution.json").read_text())
    assert "results" in doc and doc["discovery"]["pairwise-uniform"]["summary"]["n_trials"] == 3
    assert (out / "discovery_pairwise-uniform.png").exists()


def test_bad_inputs(tmp_path, capsys):
    assert main(["attribute", "--model", "scripted:names", "--benchmark", "calm-lite:x", "--out", str(tmp_path)]) == 2
    assert "gen:TASKS:N:SEED" in capsys.readouterr().err
    assert main(["attribute", "--model", "scripted:names", "--components", "names,colour",
                 "--out", str(tmp_path)]) == 2
    assert main(["attribute", "--model", "scripted:names", "--off", "names=blue", "--out", str(tmp_path)]) == 2


def test_replot(tmp_path):
    out = tmp_path / "a"
    assert main(["attribute", "--model", "scripted:names", "--benchmark", "gen:ATE:3:0", "--out", str(out),
                 "--n-boot", "50", "--quiet", "--no-loglik"]) == 0
    (out / "attribution_correct.png").unlink()
    assert main(["attribute", "--replot", "--out", str(out)]) == 0
    assert (out / "attribution_correct.png").exists()
    assert main(["attribute", "--replot", "--out", str(tmp_path / "none")]) == 2

"""``whygym report`` from the command line: help, errors, missing pieces, numbers, several methods."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from whygym.cli import main

from report_runs import BENCH, write_grpo_train


def _html(out: Path) -> str:
    return (out / "report.html").read_text(encoding="utf-8")


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', html, re.S)
    assert m, f"section {sid} missing"
    return m.group(1)


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["report", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("RUN_DIR", "--out", "report.html", "results.json", "train_log.jsonl", "attribution.json",
                 "--max-samples"):
        assert word in out


def test_missing_run_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "does not exist" in err
    assert not (tmp_path / "r").exists()


def test_nothing_recognisable(tmp_path, capsys):
    d = tmp_path / "stuff"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "notes.txt").write_text("hello")
    (d / "results.json").write_text(json.dumps({"accuracy": 0.5}))  # someone else's results.json
    assert main(["report", str(d), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    # what was wrong, where, and what to do
    assert f"nothing to report in RUN_DIR {str(d)!r}" in err
    assert "results.json" in err and "train_log.jsonl" in err and "attribution.json" in err
    assert "whygym eval" in err and "not a whygym eval results.json" in err
    assert not (tmp_path / "r" / "report.html").exists()


def test_one_good_one_empty_run_dir(tmp_path, capsys):
    write_grpo_train(tmp_path / "grpo")
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "grpo"), str(tmp_path / "empty"), "--out", str(tmp_path / "r")]) == 2
    assert "empty" in capsys.readouterr().err


def test_out_is_a_file(tmp_path, capsys):
    write_grpo_train(tmp_path / "grpo")
    (tmp_path / "f").write_text("x")
    assert main(["report", str(tmp_path / "grpo"), "--out", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_training_only_sections_say_what_is_missing(tmp_path, capsys):
    write_grpo_train(tmp_path / "grpo")
    out = tmp_path / "r"
    assert main(["report", str(tmp_path / "grpo"), "--out", str(out)]) == 0
    assert "report.html" in capsys.readouterr().out
    html = _html(out)
    for sid in ("summary", "accuracy", "training", "attribution", "layers", "samples", "commands", "sources"):
        _section(html, sid)
    assert "No evaluation runs were found" in _section(html, "accuracy")
    assert "No prompt-component attribution was found" in _section(html, "attribution")
    assert "No layer attribution was found" in _section(html, "layers")
    assert "No samples were found" in _section(html, "samples")
    assert 'src="training-curves.png"' in html and (out / "training-curves.png").exists()
    # every training value drawn is in the per-step table
    rows = [json.loads(x) for x in (tmp_path / "grpo" / "train_log.jsonl").read_text().splitlines()]
    train = _section(html, "training")
    for r in rows:
        if "reward" in r:
            assert f"{r['reward']:.4f}" in train and f"{r['loss']:.4f}" in train
            assert f"{r['zero_signal_frac']:.4f}" in train
    assert "whygym train grpo --config configs/grpo.yaml" in _section(html, "commands")
    # atomic writes leave no temporary files; no external resources
    assert not list(out.glob(".*"))
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_every_plotted_number_is_in_a_table(demo_dir, tmp_path):
    out = tmp_path / "r"
    assert main(["report", str(demo_dir), "--out", str(out), "--top-layers", "5"]) == 0
    html = _html(out)
    for img in re.findall(r'<img src="([^"]+)"', html):
        assert (out / img).stat().st_size > 5000, img
    acc = _section(html, "accuracy")
    for side in ("before", "after"):
        doc = json.loads((demo_dir / "sft" / side / "results.json").read_text())
        for task, b in doc["results"]["benchmarks"][BENCH]["tasks"].items():
            assert f"{100 * b['accuracy']:.1f} <span class=\"ci\">[{100 * b['ci_low']:.1f}, {100 * b['ci_high']:.1f}]" in acc
    attr = json.loads((demo_dir / "attribution" / "attribution.json").read_text())
    sec = _section(html, "attribution")
    for metric in ("correct", "label", "loglik"):
        for k in ("CAK", "CAD", "MAK", "MAD"):
            assert f"{attr['results'][metric]['study'][k]['point']:+.3f}" in sec
    lay = _section(html, "layers")
    rows = {r["module"]: r for r in attr["layers"]["rows"]}
    for m in ("mean_ablation", "patching"):
        for name in attr["layers"]["ranking"][m][:5]:
            ci = rows[name][m]
            assert f"{ci['point']:+.3f}" in lay and f"{ci['low']:+.3f}, {ci['high']:+.3f}" in lay
    assert lay.count("<tr>") == 2 * (5 + 1)  # header + top 5, per method


def test_several_methods_and_broken_files(demo_dir, tmp_path, capsys):
    """Two RUN_DIRs (one made with the real ``whygym eval`` CLI), plus a corrupt file that is reported, not fatal."""
    b = tmp_path / "dpo"
    for side, answer in (("before", '{"ANSWER": "No", "PROB": "0.0000"}'), ("after", '{"ANSWER": "Yes", "PROB": "0.5000"}')):
        assert main(["eval", "--model", f"mock:text={answer}", "--benchmark", BENCH, "--out", str(b / side),
                     "--no-progress"]) == 0
    (b / "broken").mkdir()
    (b / "broken" / "results.json").write_text('{"schema": "whygym.eval/1", "results": ')
    with (b / "after" / "samples.jsonl").open("a") as f:
        f.write('{"truncated": \n')
    capsys.readouterr()
    out = tmp_path / "r"
    assert main(["report", str(demo_dir), str(b), "--out", str(out), "--max-samples", "5"]) == 0
    err = capsys.readouterr().err
    assert "broken/results.json" in err and "not valid JSON" in err
    html = _html(out)
    assert "not valid JSON" in _section(html, "sources")
    summ = _section(html, "summary")
    # labels carry the RUN_DIR's name; each method has its before -> after row
    assert "demo/sft" in summ and "<b>dpo</b>" in summ
    acc = _section(html, "accuracy")
    for label in ("demo/sft/before", "demo/sft/after", "dpo/before", "dpo/after"):
        assert f"<th>{label}</th>" in acc
    assert "change demo/sft" in acc and "change dpo" in acc
    samples = _section(html, "samples")
    assert samples.count("<tr data-run=") == 4 * 5
    assert "first 5 of 12" in samples
    assert "whygym eval --model" in _section(html, "commands")


def test_run_dirs_given_as_before_and_after_pair_up(demo_dir, tmp_path):
    from whygym.report import discover

    found = discover([demo_dir / "sft" / "before", demo_dir / "sft" / "after"])
    assert [r.label for r in found.evals] == ["before", "after"]
    assert [(m, b.label, a.label) for m, b, a in found.pairs()] == [("sft", "before", "after")]
    found = discover([demo_dir])
    labels = {r.label: r for r in found.evals}
    assert set(labels) == {"sft/before", "sft/after", "attribution/eval"}
    assert labels["attribution/eval"].part_of_attribution and labels["attribution/eval"].role is None
    assert {t.label: t.method for t in found.trains} == {"grpo/train": "grpo", "ppo": "ppo"}


def test_rerun_replaces_the_report_and_drops_stale_plots(demo_dir, tmp_path):
    out = tmp_path / "r"
    assert main(["report", str(demo_dir), "--out", str(out)]) == 0
    assert (out / "training-compare.png").exists()
    assert main(["report", str(demo_dir / "sft"), "--out", str(out)]) == 0
    html = _html(out)
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs == set(re.findall(r'<img src="([^"]+)"', html))
    assert not (out / "training-compare.png").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    import os

    umask = os.umask(0o022)
    os.umask(umask)
    assert (out / "report.html").stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it, not 0600


def test_partial_and_odd_records_do_not_stop_the_report(tmp_path):
    """Runs cut short or from other versions: missing keys, nulls, a summary without a log, NaN-cleaned effects."""
    d = tmp_path / "odd"
    (d / "e1").mkdir(parents=True)
    (d / "e1" / "results.json").write_text(json.dumps(
        {"schema": "whygym.eval/1", "results": {"overall": {}, "benchmarks": {"b": None, "c": {"tasks": {"ATE": {}}}}}}))
    (d / "e2").mkdir()
    (d / "e2" / "results.json").write_text(json.dumps(
        {"results": {"overall": {"accuracy": 0.5, "n": 2}, "benchmarks": {"c": {"overall": {"accuracy": 0.5},
                                                                                 "tasks": {"PN": {"accuracy": 1.0}}}}},
         "run": {"argv": None}}))
    (d / "e2" / "samples.jsonl").write_text('{"task": "PN", "outcome": "correct"}\n[1, 2]\n\n')
    (d / "t").mkdir()
    (d / "t" / "train_summary.json").write_text(json.dumps({"method": "sft", "steps": 3, "final_loss": None}))
    (d / "t2").mkdir()
    (d / "t2" / "train_log.jsonl").write_text('{"step": "x", "loss": 1}\n{"step": 2, "loss": NaN}\n')
    (d / "a").mkdir()
    (d / "a" / "attribution.json").write_text(json.dumps(
        {"schema": "whygym.attribution/1", "components": ["names"],
         "results": {"correct": {"main": {"names": {"point": None, "low": None, "high": None, "n": 0}},
                                 "study": {"note": "only one factor"}}, "weird": 3},
         "discovery": {"binary": {"summary": {}}},
         "layers": {"rows": [{"module": "m.0", "mean_ablation": {"point": 1.0}}], "methods": ["mean_ablation", "patching"]}}))
    out = tmp_path / "r"
    assert main(["report", str(d), "--out", str(out)]) == 0
    html = _html(out)
    for img in re.findall(r'<img src="([^"]+)"', html):
        assert (out / img).exists()
    assert "No discovery summary recorded" in html
    assert "<th>odd/e1</th>" not in html  # single RUN_DIR: labels are relative paths
    assert "<th>e1</th>" in html and "<th>e2</th>" in html


def test_error_from_a_shell_is_one_line_and_exit_2(tmp_path):
    """As the ``whygym`` console script runs it: no traceback, the message on stderr, exit status 2."""
    import subprocess
    import sys

    (tmp_path / "empty").mkdir()
    r = subprocess.run([sys.executable, "-c", "import sys; from whygym.cli import main; sys.exit(main())", "report",
                        str(tmp_path / "empty"), "--out", str(tmp_path / "r")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.startswith("whygym report: error: nothing to report")
    assert r.stdout == ""

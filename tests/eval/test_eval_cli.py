"""`whygym eval` through the real CLI entry: sources (names, gen:, suite:, paths), files written, clear errors
with exit code 2."""

import json
import os

import pytest

from whygym.cli import UserError, main
from whygym.eval import load_items

ANSWER = 'mock:text={"ANSWER": "Yes", "PROB": "0.5000"}'


def run(argv, capsys):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_cli_writes_results_and_samples(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["eval", "--model", ANSWER, "--benchmark", "gen:ATE,PN:3:1", "--benchmark", "caugym:base",
            "--limit", "4", "--out", str(out), "--no-progress"]
    rc, stdout, _ = run(argv, capsys)
    assert rc == 0
    assert "gen:ATE,PN:3:1" in stdout and "caugym:base" in stdout and "ALL" in stdout  # the table
    doc = json.loads((out / "results.json").read_text())
    argv = doc["run"]["argv"]
    assert argv[:2] == ["whygym", "eval"] and "--no-progress" in argv and argv.count("--benchmark") == 2
    assert "--max-new-tokens" in argv and main(argv[1:]) == 0  # the record reruns as is (from the cache)
    capsys.readouterr()
    assert doc["config"]["match"] == "strict" and doc["config"]["n_items"] == {"gen:ATE,PN:3:1": 4,
                                                                               "caugym:base": 4}
    assert doc["model"]["spec"] == ANSWER and doc["model"]["config"]["backend"] == "mock"
    env = doc["environment"]
    assert env["whygym"] and env["torch"].startswith("2.13.0") and env["transformers"] == "5.23.0"
    assert env["git"] is None or len(env["git"]["revision"]) == 40
    o = doc["results"]["overall"]
    assert o["n"] == 8 and o["prompt_tokens"] > 0 and o["completion_tokens"] == 8 * 5
    assert doc["run"]["items_per_second"] > 0 and doc["run"]["wall_seconds"] > 0
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 8
    assert set(lines[0]) >= {"id", "task", "benchmark", "prompt", "output", "extracted", "gold", "outcome", "tokens"}
    assert os.path.exists(out / "cache.sqlite")


def test_gen_all_and_per_task(tmp_path):
    items = load_items("gen:all:2:5")
    assert len(items) == 14 and {it.task for it in items} == {"ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS"}
    calm = load_items("calm-lite:probability-en", per_task=2)
    assert len(calm) == 14 and all(sum(it.task == t for it in calm) == 2 for t in {it.task for it in calm})


@pytest.mark.parametrize("bench, needle", [
    ("calm-lyte:probability-en", "did you mean 'calm-lite'"),
    ("caugym:rephrazed", "rephrased"),
    ("gen:ATE:10", "gen:TASKS:N:SEED"),
    ("gen:ATX:10:0", "did you mean ATE"),
    ("gen:ATE:ten:0", "N must be an integer"),
    ("no/such/file.json", "no such file"),
])
def test_bad_benchmark_is_a_clear_error(tmp_path, capsys, bench, needle):
    rc, _, err = run(["eval", "--model", ANSWER, "--benchmark", bench, "--out", str(tmp_path)], capsys)
    assert rc == 2 and needle in err and "--benchmark" in err


def test_suite_spec(tmp_path, capsys):
    try:
        import whygym.tasks.suites  # noqa: F401
    except ModuleNotFoundError:
        rc, _, err = run(["eval", "--model", ANSWER, "--benchmark", "suite:rephrased:2:0", "--out", str(tmp_path)],
                         capsys)
        assert rc == 2 and "whygym.tasks.suites" in err
        return
    rc, _, err = run(["eval", "--model", ANSWER, "--benchmark", "suite:no-such-suite:2:0", "--out", str(tmp_path)],
                     capsys)
    assert rc == 2 and "suite" in err


def test_bad_model_dir_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "ckpt"
    empty.mkdir()
    rc, _, err = run(["eval", "--model", str(empty), "--benchmark", "gen:ATE:1:0", "--out", str(tmp_path / "o")],
                     capsys)
    assert rc == 2 and "config.json" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    rc, _, err = run(["eval", "--model", str(broken), "--benchmark", "gen:ATE:1:0", "--out", str(tmp_path / "o")],
                     capsys)
    assert rc == 2 and "cannot load it" in err and str(broken) in err


def test_bad_options(tmp_path, capsys):
    rc, _, err = run(["eval", "--model", ANSWER, "--benchmark", "gen:ATE:1:0", "--samples", "0",
                      "--out", str(tmp_path)], capsys)
    assert rc == 2 and "--samples" in err
    with pytest.raises(UserError, match="--bf16"):
        from whygym.eval import EvalConfig, run_eval

        run_eval(EvalConfig(model=ANSWER, benchmarks=["gen:ATE:1:0"], out=str(tmp_path), bf16=True),
                 progress=False, echo=None)


def test_tools_option_is_recorded_and_checked(tmp_path, capsys, tiny_dir):
    out = tmp_path / "t"
    rc, _, err = run(["eval", "--model", str(tiny_dir), "--benchmark", "gen:ATE:1:0", "--max-new-tokens", "4",
                      "--tools", "calculator:max_calls=3", "--out", str(out), "--no-progress"], capsys)
    assert rc == 0, err
    doc = json.loads((out / "results.json").read_text())
    assert doc["config"]["tools"] == "calculator:max_calls=3"
    assert doc["model"]["config"]["tools"] == {"name": "calculator", "decimals": 4, "max_calls": 3}
    # without tools the model's cache identity differs: nothing is served from the tool run's answers
    rc, _, _ = run(["eval", "--model", str(tiny_dir), "--benchmark", "gen:ATE:1:0", "--max-new-tokens", "4",
                    "--cache", str(out / "cache.sqlite"), "--out", str(tmp_path / "n"), "--no-progress"], capsys)
    plain = json.loads((tmp_path / "n" / "results.json").read_text())
    assert rc == 0 and "tools" not in plain["model"]["config"] and plain["run"]["samples_from_cache"] == 0
    rc, _, err = run(["eval", "--model", ANSWER, "--benchmark", "gen:ATE:1:0", "--tools", "abacus",
                      "--out", str(tmp_path / "x")], capsys)
    assert rc == 2 and "--tools 'abacus'" in err and "calculator" in err
    rc, _, err = run(["eval", "--model", ANSWER, "--benchmark", "gen:ATE:1:0", "--tools", "calculator",
                      "--out", str(tmp_path / "y")], capsys)
    assert rc == 2 and "no tool-integrated decoding" in err


def test_samples_carry_the_step_verdict_and_results_the_breakdown(tmp_path):
    """Each sample gets the step verifier's category; results.json counts them per task. A model that
    writes the engine's derivation is 'correct' throughout; one that always claims "no causal path" breaks
    at the path claim wherever a path exists."""
    from whygym.eval import EvalConfig, run_eval
    from whygym.models import MockBackend
    from whygym.train.data import sft_rows

    items = load_items("gen:ATE,NDE,PN:4:1")
    perfect = {it.prompt: sft_rows([it], style="calculator")[0]["completion"][0]["content"] for it in items}
    doc = run_eval(EvalConfig(model="mock:perfect", benchmarks=["gen:ATE,NDE,PN:4:1"], out=str(tmp_path / "p")),
                   backend=MockBackend(lambda p: perfect[p], name="mock:perfect"), progress=False, echo=None)
    steps = doc["results"]["overall"]["steps"]
    assert steps["n"] == 12 and steps["categories"] == {"correct": 12} and steps["verified_prefix"] == 1.0
    shortcut = ("Step 1: Node A is not a cause of node B because there is no directed path from A to B. "
                'So the answer is No.\n{"ANSWER": "No", "PROB": "0.0000"}')
    doc = run_eval(EvalConfig(model="mock:zero", benchmarks=["gen:ATE,NDE,PN:4:1"], out=str(tmp_path / "z")),
                   backend=MockBackend(lambda p: shortcut, name="mock:zero"), progress=False, echo=None)
    ate = doc["results"]["benchmarks"]["gen:ATE,NDE,PN:4:1"]["tasks"]["ATE"]["steps"]
    n_path = sum(1 for it in items if it.task == "ATE" and not it.meta.get("structural_zero"))
    assert ate["categories"].get("path_claim", 0) == n_path
    lines = [json.loads(x) for x in (tmp_path / "z" / "samples.jsonl").read_text().splitlines()]
    assert all(set(x["steps"]) == {"category", "first_error", "verified_prefix"} for x in lines)

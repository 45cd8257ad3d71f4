"""The page as markup: parsed with the standard library's HTML parser, not matched with regexes; text from
run files escaped by the template engine; ``attribution.json`` read through the library's schema."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from whygym.cli import main

SECTIONS = ["summary", "accuracy", "training", "attribution", "layers", "samples", "commands", "sources"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Elements as (tag, attrs, path of enclosing tags); text per enclosing section; nesting errors."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict, tuple[str, ...]]] = []
        self.stack: list[tuple[str, dict]] = []
        self.errors: list[str] = []
        self.text: dict[str, str] = {}
        self.script_text: list[str] = []
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"never closed: {[t for t, _ in self.stack]}")

    def _section(self) -> str | None:
        return next((a.get("id") for t, a in reversed(self.stack) if t == "section"), None)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a, tuple(t for t, _ in self.stack)))
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "script":
            self.script_text.append(data)
        sid = self._section()
        if sid:
            self.text[sid] = self.text.get(sid, "") + data

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a, _ in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.fixture(scope="module")
def page(demo_dir, tmp_path_factory) -> tuple[Page, Path]:
    out = tmp_path_factory.mktemp("page")
    assert main(["report", str(demo_dir), "--out", str(out), "--top-layers", "5"]) == 0
    return Page((out / "report.html").read_text(encoding="utf-8")), out


def test_page_structure(page, demo_dir):
    p, out = page
    assert p.errors == []
    # one section per id, in order, each a direct child of <main> opening with its <h2>
    sections = [(a["id"], path) for t, a, path in p.elements if t == "section"]
    assert [s for s, _ in sections] == SECTIONS
    assert all(path == ("html", "body", "main") for _, path in sections)
    h2 = [path for t, _, path in p.elements if t == "h2"]
    assert len(h2) == len(SECTIONS) and all(path[-1] == "section" for path in h2)
    assert [a["href"] for a in p.find("a") if a.get("href", "").startswith("#") and a["href"][1:] in SECTIONS][:8] \
        == [f"#{s}" for s in SECTIONS]  # the navigation bar
    # self-contained: CSS and JS inline, no external resource, every image a PNG file beside the page
    assert len(p.find("style")) == 1 and len(p.find("script")) == 2
    assert not p.find("link") and not [a for a in p.find("script") if "src" in a]
    imgs = [a["src"] for a in p.find("img")]
    assert imgs and all("/" not in s and (out / s).is_file() for s in imgs)
    assert "window.__reportErrors" in "".join(p.script_text)
    # every anchor into the page has its target
    ids = {a["id"] for _, a, _ in p.elements if "id" in a}
    assert {a["href"][1:] for a in p.find("a") if a.get("href", "").startswith("#")} <= ids
    # the samples table: a row per sample, with the filter attributes report.js reads
    rows = [a for t, a, path in p.elements if t == "tr" and "data-run" in a]
    n = sum(len((demo_dir / "sft" / s / "samples.jsonl").read_text().splitlines()) for s in ("before", "after"))
    assert len(rows) == n and {r["data-run"] for r in rows} == {"sft/before", "sft/after"}
    assert [a["id"] for a in p.find("select")] == ["filter-run", "filter-task", "filter-outcome"]
    assert p.find("div", id="selfcheck")[0]["data-status"] == "pending"
    # numbers as text: the headline's accuracy, from results.json
    res = json.loads((demo_dir / "sft" / "after" / "results.json").read_text())["results"]["overall"]
    assert f"{100 * res['accuracy']:.1f}" in p.text["summary"]


def _write_hostile_runs(root: Path, bad: str) -> None:
    """An eval run, a training run and an attribution whose names, commands and texts hold markup."""
    run = root / f"run{bad}"
    (run / "before").mkdir(parents=True)
    doc = {"schema": "whygym.eval/1", "model": {"name": f"model{bad}"}, "config": {"samples": 1},
           "run": {"argv": ["whygym", "eval", "--model", bad]},
           "results": {"overall": {"accuracy": 0.5, "ci_low": 0.2, "ci_high": 0.8, "n": 4},
                       "benchmarks": {f"bench{bad}": {"overall": {"accuracy": 0.5, "n": 4},
                                                       "tasks": {f"T{bad}": {"accuracy": 0.5, "n": 4}}}}}}
    (run / "before" / "results.json").write_text(json.dumps(doc))
    sample = {"task": f"T{bad}", "outcome": f"wrong{bad}", "id": bad, "prompt": f"Question: {bad}\n" * 3,
              "output": bad, "gold": {"label": bad, "prob": 0.5}, "extracted": {"label": bad}}
    (run / "before" / "samples.jsonl").write_text(json.dumps(sample) + "\n")
    (root / "train").mkdir()
    (root / "train" / "train_summary.json").write_text(json.dumps(
        {"method": f"sft{bad}", "steps": 1, "command": f"whygym train {bad}", "versions": {"torch": bad}}))
    (root / "attr").mkdir()
    (root / "attr" / "attribution.json").write_text(json.dumps(
        {"schema": "whygym.attribution.prompt/1", "components": [f"names{bad}"], "tasks": [bad],
         "model": {"name": bad}, "settings": {"argv": ["attribute", bad]},
         "results": {"correct": {"main": {f"names{bad}": {"point": 0.1, "low": 0.0, "high": 0.2, "n": 3}}}}}))


def test_text_from_runs_is_escaped(tmp_path):
    bad = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    _write_hostile_runs(tmp_path / "runs", bad)
    out = tmp_path / "r"
    assert main(["report", str(tmp_path / "runs"), "--out", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
    p = Page(html)
    assert p.errors == []
    assert len(p.find("script")) == 2  # the page's own two, nothing injected
    assert all(a["src"].endswith(".png") and "onerror" not in a for a in p.find("img"))
    # the text itself is there, as text, wherever it is shown
    for sid in ("summary", "accuracy", "samples", "commands", "sources", "attribution"):
        assert bad in p.text[sid], sid
    assert {a["data-task"] for a in p.find("tr") if "data-task" in a} == {f"T{bad}"}


def test_attribution_schema_reads_what_attribute_wrote(demo_dir):
    from whygym.attribution import schema
    from whygym.report import _discover

    assert _discover.ATTRIBUTION_FILE == schema.ATTRIBUTION_FILE
    path = demo_dir / "attribution" / schema.ATTRIBUTION_FILE
    doc = json.loads(path.read_text())
    # the documented top-level keys, as written
    assert doc["schema"] == schema.PROMPT_SCHEMA
    assert {"schema", "kind", "components", "levels", "arms", "n_items", "tasks", "model", "settings", "evaluation",
            "results", "per_item", "layers", "discovery"} <= set(doc)
    a = schema.read_attribution(path.parent)
    assert a == schema.read_attribution(path) == schema.Attribution.from_doc(doc)
    assert a.version == schema.SCHEMA_VERSION and a.sections == ("results", "layers", "discovery")
    assert a.components == doc["components"] and a.arms == list(doc["arms"])
    for metric, res in doc["results"].items():
        for k, ci in res["study"].items():
            if k != "note":
                assert a.results[metric].study[k].point == ci["point"]
        assert set(a.results[metric].conditional) == set(res["conditional"])
    assert len(a.layers.rows) == len(doc["layers"]["rows"]) and a.layers.ranking == doc["layers"]["ranking"]
    (kind, disc), = doc["discovery"].items()
    assert a.discovery[kind].n_trials == disc["summary"]["n_trials"]
    assert set(a.discovery[kind].settings) == set(disc["summary"]["settings"])
    # the precision plan reads the same records
    from whygym.attribution.precision import plan_from_attribution

    plan = plan_from_attribution(path)
    assert plan["signals"]["conditional"] == {c: a.results[plan["signals"]["metric"]].conditional[c].point
                                              for c in a.components}
    assert plan["lora"]["modules"] and plan["source"] == {"model": a.model_name, "kind": "prompt"}


def test_templates_ship_with_the_package():
    """Every template the page includes is in the package folder that pyproject's package-data names."""
    tomllib = pytest.importorskip("tomllib")
    from whygym.report._build import _ENV, TEMPLATES

    names = set(_ENV.list_templates())
    assert {"page.html.j2", "report.css", "report.js", "errors.js"} <= names
    assert {f"{s}.html.j2" for s in SECTIONS} <= names
    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["whygym"]
    assert "report/templates/*" in data and TEMPLATES == root / "whygym" / "report" / "templates"

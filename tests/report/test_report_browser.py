"""The report as a person sees it: rendered by headless Chromium from disk, clicked, filtered, photographed.

Fails on any console error or uncaught exception, on an image that did not load, on a missing section or
plot, and when the samples filter does not show exactly the rows it should. The full-page screenshot goes
to ``$WHYGYM_SCREENSHOT_DIR`` when set (else the test's tmp folder); its path is printed.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from whygym.cli import main

SECTIONS = ["summary", "accuracy", "training", "attribution", "layers", "samples", "commands", "sources"]


@pytest.fixture(scope="module")
def report(demo_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(demo_dir), "--out", str(out)]) == 0
    return out / "report.html"


def _samples(demo_dir: Path) -> list[dict]:
    rows = []
    for side in ("before", "after"):
        for line in (demo_dir / "sft" / side / "samples.jsonl").read_text().splitlines():
            rows.append({**json.loads(line), "run": f"sft/{side}"})
    return rows


def _visible(page) -> list[dict]:
    return page.eval("""Array.from(document.querySelectorAll('#samples-table tbody tr'))
        .filter(tr => !tr.hidden && tr.offsetParent !== null)
        .map(tr => ({run: tr.dataset.run, task: tr.dataset.task, outcome: tr.dataset.outcome}))""")


def _select(page, ident: str, value: str) -> None:
    """Choose an option the way a user's pick reaches the page: set the value, fire ``input`` and ``change``."""
    page.eval(f"""(() => {{ const s = document.getElementById({json.dumps(ident)});
        s.focus(); s.value = {json.dumps(value)};
        s.dispatchEvent(new Event('input', {{bubbles: true}}));
        s.dispatchEvent(new Event('change', {{bubbles: true}})); return s.value; }})()""")


def _center(page, selector: str) -> tuple[float, float]:
    r = page.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        e.scrollIntoView({{block: 'center'}}); const b = e.getBoundingClientRect();
        return [b.left + b.width / 2, b.top + b.height / 2]; }})()""")
    return r[0], r[1]


def test_report_in_chromium(report, demo_dir, browser, tmp_path):
    page = browser(report.resolve().as_uri())
    assert page.eval("document.readyState") == "complete"
    assert page.eval("location.protocol") == "file:"

    # every section, its heading, and the plots each one must have
    missing = page.eval(f"{json.dumps(SECTIONS)}.filter(id => !document.querySelector('section#' + id + ' > h2'))")
    assert missing == [], f"sections missing: {missing}"
    imgs = page.eval("""Array.from(document.images).map(i => ({src: i.getAttribute('src'), w: i.naturalWidth,
        h: i.naturalHeight, section: i.closest('section').id}))""")
    broken = [i["src"] for i in imgs if i["w"] == 0]
    assert broken == [], f"images that did not load: {broken}"
    per_section = Counter(i["section"] for i in imgs)
    assert per_section["accuracy"] == 1
    assert per_section["training"] == 2  # grpo and ppo overlaid (both log a reward), then each run
    assert per_section["attribution"] >= 3 + 1  # correct, label, loglik, discovery
    assert per_section["layers"] == 2  # mean ablation, patching
    assert all(not i["src"].startswith(("http", "//")) for i in imgs)
    # the page's own self-check agrees (it also caught script errors through window.onerror)
    check = page.wait_for("(s => s !== 'pending' && s)(document.getElementById('selfcheck').dataset.status)")
    assert check == "ok", page.eval("document.getElementById('selfcheck').textContent")
    assert page.eval("document.querySelectorAll('script[src], link[rel=stylesheet]').length") == 0

    # headline: before -> after for the sft pair, with the same numbers as results.json
    res = {s: json.loads((demo_dir / "sft" / s / "results.json").read_text())["results"]["overall"]
           for s in ("before", "after")}
    headline = page.eval("document.querySelector('#summary').innerText")
    for s in ("before", "after"):
        assert f"{100 * res[s]['accuracy']:.1f}" in headline
    assert f"{100 * (res['after']['accuracy'] - res['before']['accuracy']):+.1f}" in headline

    # samples: all rows visible, then filter by task, by outcome, by both; reset by a real mouse click
    samples = _samples(demo_dir)
    assert len(_visible(page)) == len(samples)
    _select(page, "filter-task", "PN")
    vis = _visible(page)
    assert len(vis) == sum(s["task"] == "PN" for s in samples) and {v["task"] for v in vis} == {"PN"}
    _select(page, "filter-outcome", "wrong")
    vis = _visible(page)
    want = sum(s["task"] == "PN" and s["outcome"] == "wrong" for s in samples)
    assert len(vis) == want and all(v["outcome"] == "wrong" for v in vis)
    assert page.eval("document.getElementById('samples-count').textContent") == f"{want} of {len(samples)} samples shown"
    _select(page, "filter-task", "")
    _select(page, "filter-run", "sft/after")
    vis = _visible(page)
    assert len(vis) == sum(s["run"] == "sft/after" and s["outcome"] == "wrong" for s in samples)
    _select(page, "filter-outcome", "no-such-outcome")  # not an option: the select falls back to ""
    page.click(*_center(page, "#filter-reset"))
    assert len(_visible(page)) == len(samples)
    assert page.eval("[...document.querySelectorAll('.filters select')].every(s => s.value === '')")

    # a long prompt opens when its summary is clicked
    page.eval("document.querySelector('#samples-table details.long').scrollIntoView({block: 'center'})")
    page.click(*_center(page, "#samples-table details.long summary"))
    assert page.eval("document.querySelector('#samples-table details.long').open") is True

    # commands from the run files
    cmds = page.eval("document.querySelector('#commands').innerText")
    assert "whygym eval --model runs/after" in cmds and "whygym train grpo" in cmds and "whygym attribute" in cmds
    assert "transformers" in cmds

    # full-page screenshot
    page.eval("window.scrollTo(0, 0)")
    height = min(int(page.eval("document.documentElement.scrollHeight")), 16000)
    page.send("Emulation.setDeviceMetricsOverride", width=1400, height=height, deviceScaleFactor=1, mobile=False)
    shot = page.send("Page.captureScreenshot", format="png", captureBeyondViewport=True, timeout=60)
    out_dir = Path(os.environ.get("WHYGYM_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report_screenshot.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
    assert path.stat().st_size > 20_000

    # nothing but the report's own files was fetched: no CDN, no network
    urls = page.requests()
    assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls
    assert {u.rsplit("/", 1)[-1] for u in urls if u.endswith(".png")} == {i["src"] for i in imgs}

    errors = page.errors()
    assert errors == [], f"console errors / exceptions in report.html: {errors}"


def test_broken_image_is_caught(report, browser, tmp_path):
    """The checks above would notice a missing plot: the page's self-check and naturalWidth both flag it."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(report.parent, copy)
    victim = sorted(copy.glob("training*.png"))[0]
    victim.unlink()
    page = browser((copy / "report.html").as_uri())
    assert page.wait_for("(s => s !== 'pending' && s)(document.getElementById('selfcheck').dataset.status)") == "fail"
    assert victim.name in page.eval("document.getElementById('selfcheck').dataset.broken")
    assert "did not load" in page.eval("document.getElementById('selfcheck-banner').textContent")

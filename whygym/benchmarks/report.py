"""Print the loaders' coverage figures (the numbers quoted in whygym/benchmarks/README.md).

Run: ``python -m whygym.benchmarks.report`` (data root: ``$WHYGYM_DATA`` or ``<repo>/../shared/data``).
"""

from __future__ import annotations

import json
import re
from collections import Counter

from whygym.benchmarks._io import data_root
from whygym.benchmarks.calm import load_calm
from whygym.benchmarks.caugym import load_caugym
from whygym.benchmarks.cladder import load_cladder
from whygym.benchmarks.parse import default_word_agreement, parse_calm_record
from whygym.items import PROB_TASKS

P_CODES = PROB_TASKS


def _ok(items) -> str:
    return f"{sum('parse_error' not in i.meta for i in items)}/{len(items)}"


def main() -> None:
    root = data_root()
    calm = load_calm(root / "calm_lite")
    p = [i for i in calm if i.meta["calm_task"].endswith("-P")]
    b7 = [i for i in calm if i.meta["calm_task"][:-2] in P_CODES and i.meta["calm_task"].endswith("-B")]
    print(f"CaLM Lite: {len(calm)} items loaded from {len({i.meta['file'] for i in calm})} files")
    for lang in ("EN", "CN"):
        print(f"  parsed without error, *-P_* {lang}: {_ok([i for i in p if i.meta['language'] == lang])}; "
              f"*-B_* natural {lang}: {_ok([i for i in b7 if i.meta['language'] == lang])}")
    en = [i for i in p if i.meta["language"] == "EN"]
    src = Counter((i.meta["parse"].get("given_source"), i.meta["parse"].get("words_vs_math")) for i in en)
    print(f"  EN *-P_* given source / words-vs-math: {dict(src)}")
    by = {(i.meta["calm_file"], i.meta["index"]): i for i in p}
    agree = Counter()
    for (stem, idx), e in by.items():
        if stem.endswith("_EN"):
            c = by[(stem[:-3] + "_CN", idx)]
            agree["given"] += c.given == e.given
            agree["query"] += c.query == e.query
            agree["graph"] += (c.graph.get("nodes"), c.graph.get("edges")) == (e.graph.get("nodes"), e.graph.get("edges"))
            agree["n"] += 1
    print(f"  CN parsed equal to its EN twin on {agree['n']}: given {agree['given']}, query {agree['query']}, "
          f"graph {agree['graph']}")
    raw = {}
    for f in sorted((root / "calm_lite").rglob("*-P_*.json")):
        for n, ln in enumerate(f.read_text(encoding="utf-8").splitlines()):
            if ln.strip():
                r = json.loads(ln)
                raw[(f.stem, r.get("index", n + 1))] = r
    for label, kw in (("words, value words learned from the math", {"given_from": "words"}),
                      ("words, default value words only (math ignored)", {"use_math": False})):
        ok = Counter()
        for (stem, idx), e in by.items():
            if stem.endswith("_EN"):
                for lang in ("EN", "CN"):
                    key = (stem[:-3] + "_" + lang, idx)
                    g, q, gv, pr, _ = parse_calm_record(raw[key], e.task, lang.lower(), **kw)
                    ok[lang, "given"] += gv == e.given
                    ok[lang, "query"] += q == e.query
        print(f"  {label}: given == EN math on EN {ok['EN', 'given']}/700, CN {ok['CN', 'given']}/700; "
              f"query == EN on EN {ok['EN', 'query']}/700, CN {ok['CN', 'query']}/700")
    cn_src = Counter(i.meta["parse"].get("given_source") for i in p if i.meta["language"] == "CN")
    print(f"  CN *-P_* given source: {dict(cn_src)}")
    conf = Counter((i.meta["language"], i.task) for i in p if "label_conflict" in i.meta)
    print(f"  Reason conclusion vs sign of gt_answer disagree: {dict(conf)}")
    for lang, suf in (("en", "EN"), ("cn", "CN")):
        recs = []
        for f in sorted((root / "calm_lite").rglob(f"*_{suf}.json")):
            if re.match(r"(ATE|CDE|ETT|NDE|NIE|PN|PS)-[PB]_", f.name):
                recs += [json.loads(ln) for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
        print(f"  default value words vs the items' own math ({suf}, P and B files): "
              f"{default_word_agreement(recs, lang)}")
    calm_by_prompt = {i.prompt: i for i in en}
    for s in ("base", "rephrased", "omitted", "insufficient"):
        items = load_caugym(root / "caugym" / f"{s}_dataset.json")
        line = f"CauGym {s}: {len(items)} items, parsed without error {_ok(items)}"
        if s == "base":
            same = sum(i.prompt in calm_by_prompt for i in items)
            line += f"; prompt == CaLM Lite EN prompt on {same}/{len(items)}"
            line += (f"; given == CaLM given (same letters) on {sum(i.given == calm_by_prompt[i.prompt].given for i in items)}"
                     f"/{len(items)}")
            alone = load_caugym(root / "caugym" / f"{s}_dataset.json", use_reason=False)
            line += f"; prompt alone (no Reason) parsed {_ok(alone)}"
            conf = Counter(i.task for i in items if "label_conflict" in i.meta)
            line += f"; gold/Reason/sign conflicts {dict(conf)}"
        print(line)
    derived = [i for i in calm if i.meta["calm_task"] in ("CORR-B", "EAE-B", "CR-B", "CB-B", "BAS-B")]
    print(f"CaLM CLadder-derived sets: graph from reasoning {sum(bool(i.graph) for i in derived)}/{len(derived)}, "
          f"given {sum(bool(i.given) for i in derived)}/{len(derived)}")
    cl = load_cladder(root / "cladder_sample" / "cladder_sample.json")
    print(f"CLadder sample: {len(cl)} items, graph parsed {_ok(cl)}, given from reasoning "
          f"{sum(bool(i.given) for i in cl)}/{len(cl)}")


if __name__ == "__main__":
    main()

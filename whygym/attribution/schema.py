"""``attribution.json``: its one schema, how it is written, and the typed reader every consumer uses.

``whygym attribute`` writes one file per output folder; each mode keeps the other modes' sections. Top-level
keys (every one optional to a reader: a file may hold only a ``layers`` or a ``discovery`` section):

==============  ==========================================================================================
``schema``      :data:`PROMPT_SCHEMA` when the prompt factorial wrote the top level, else :data:`SCHEMA`; the
                number after the slash is the version (:data:`SCHEMA_VERSION`)
``kind``        ``"prompt"``
``components``  the factors of the 2^k design, e.g. ``["names", "data"]``
``levels``      component -> ``{"on": level, "off": level}``
``arms``        arm label (``names=fake,data=present``) -> component -> level, in design order
``n_items``     base items; ``tasks``: their task names
``model``       ``{"name", "config"}``
``settings``    decoding and bootstrap settings and the command's own (``benchmark``, ``argv``, ``wall_seconds``)
``evaluation``  which path evaluated the arms (``path``), cache counts
``results``     metric (``correct``, ``label``, ``parsed``, ``loglik``) -> scores: ``main``, ``interaction``,
                ``conditional``, ``marginal`` (name -> interval), ``study`` (``CAK``, ``CAD``, ``MAK``,
                ``MAD`` -> interval, ``note``), ``arm_means`` (arm code -> mean), ``n_items``
``per_item``    per base item and arm: each metric and the output
``plots``       the PNG files drawn
``layers``      ``whygym attribute --layers``: ``rows`` (``module``, ``layer``, ``kind``, method -> interval),
                ``methods``, ``ranking`` (method -> modules by \\|effect\\|), ``baseline`` (``clean_logp``,
                ``counterfactual_logp``), ``n_items``, ``counterfactual``, ``model``, ``benchmark``, ``argv``
``discovery``   ``whygym attribute --discovery KIND``: kind -> ``summary`` (``settings``: setting -> metric
                -> interval, ``attribution``: CAK.. -> interval, ``metric``, ``n_trials``), ``records``,
                ``model``, ``argv``
==============  ==========================================================================================

An interval is ``{"point", "low", "high", "n"}`` (``n`` and ``per_item`` where recorded); a value that was
not finite is written as ``null``. :func:`read_attribution` turns a document into :class:`Attribution`
records, taking every missing, null or odd entry as absent, so files of any version so far load.

>>> a = Attribution.from_doc({"schema": PROMPT_SCHEMA, "components": ["names"],
...                           "results": {"correct": {"conditional": {"names": {"point": 0.5, "low": 0.2,
...                                                                           "high": 0.8, "n": 10}}}}})
>>> a.version, a.results["correct"].conditional["names"].excludes_zero, a.layers is None
(1, True, True)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ATTRIBUTION_FILE", "SCHEMA", "PROMPT_SCHEMA", "SCHEMA_VERSION", "Interval", "MetricScores",
           "LayerRow", "LayerSection", "DiscoverySection", "Attribution", "json_safe", "write_doc", "load_doc",
           "read_attribution"]

ATTRIBUTION_FILE = "attribution.json"
SCHEMA_VERSION = 1
SCHEMA = f"whygym.attribution/{SCHEMA_VERSION}"
PROMPT_SCHEMA = f"whygym.attribution.prompt/{SCHEMA_VERSION}"
STUDY_SCORES = ("CAK", "CAD", "MAK", "MAD")


# ------------------------------------------------------------------------------------------------ writing
def json_safe(o: Any) -> Any:
    """Strict JSON: non-finite floats -> None, numpy values -> Python, keys -> str."""
    if isinstance(o, dict):
        return {str(k): json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    if hasattr(o, "tolist"):
        return json_safe(o.tolist())
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def write_doc(out_dir: str | os.PathLike, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``out_dir/attribution.json`` atomically; return the document as written."""
    from whygym.items import atomic_write_text

    doc = json_safe(dict(doc))
    atomic_write_text(Path(out_dir) / ATTRIBUTION_FILE, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return doc


def load_doc(source: Mapping[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """The raw document: a mapping as is, else the file (or ``attribution.json`` in the folder) parsed."""
    if isinstance(source, Mapping):
        return dict(source)
    p = Path(source)
    if p.is_dir():
        p = p / ATTRIBUTION_FILE
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no attribution file; write one with `whygym attribute --out DIR`") from None


# ------------------------------------------------------------------------------------------------ reading
def _num(x: Any) -> float | None:
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _name(model: Any) -> str | None:
    n = _dict(model).get("name")
    return None if n is None else str(n)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% interval (``None`` where not recorded or not finite)."""

    point: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None

    @classmethod
    def read(cls, x: Any) -> Interval | None:
        if not isinstance(x, dict):
            return None
        return cls(_num(x.get("point")), _num(x.get("low")), _num(x.get("high")), _int(x.get("n")))

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def _intervals(x: Any) -> dict[str, Interval]:
    return {str(k): iv for k, v in _dict(x).items() if (iv := Interval.read(v)) is not None}


@dataclass(frozen=True)
class MetricScores:
    """``results[metric]``: the factorial's scores on one metric."""

    n_items: int | None = None
    main: dict[str, Interval] = field(default_factory=dict)
    interaction: dict[str, Interval] = field(default_factory=dict)
    conditional: dict[str, Interval] = field(default_factory=dict)
    marginal: dict[str, Interval] = field(default_factory=dict)
    study: dict[str, Interval] = field(default_factory=dict)  # CAK, CAD, MAK, MAD
    arm_means: dict[str, float | None] = field(default_factory=dict)

    @classmethod
    def read(cls, x: dict[str, Any]) -> MetricScores:
        study = _dict(x.get("study"))
        return cls(_int(x.get("n_items")), _intervals(x.get("main")), _intervals(x.get("interaction")),
                   _intervals(x.get("conditional")), _intervals(x.get("marginal")),
                   {k: iv for k in STUDY_SCORES if (iv := Interval.read(study.get(k))) is not None},
                   {str(k): _num(v) for k, v in _dict(x.get("arm_means")).items()})


@dataclass(frozen=True)
class LayerRow:
    """One module of a layer attribution: method (``mean_ablation``, ``patching``, ...) -> effect."""

    module: str | None
    kind: str | None
    layer: int | None
    effects: dict[str, Interval]


@dataclass(frozen=True)
class LayerSection:
    """The ``layers`` section (``whygym attribute --layers``)."""

    rows: list[LayerRow]
    methods: list[str]
    ranking: dict[str, list[str]]
    n_items: int | None
    clean_logp: list[float]
    counterfactual_logp: list[float]
    counterfactual: dict[str, Any]
    model_name: str | None
    argv: Any

    @classmethod
    def read(cls, x: dict[str, Any]) -> LayerSection:
        rows = [LayerRow(None if r.get("module") is None else str(r["module"]), r.get("kind"), _int(r.get("layer")),
                         _intervals({k: v for k, v in r.items() if k not in ("module", "kind", "layer")}))
                for r in x.get("rows") or [] if isinstance(r, dict)]
        base = _dict(x.get("baseline"))
        return cls(rows, [str(m) for m in x.get("methods") or []],
                   {str(m): [str(v) for v in mods] for m, mods in _dict(x.get("ranking")).items()
                    if isinstance(mods, list)},
                   _int(x.get("n_items")), [v for v in base.get("clean_logp") or [] if _num(v) is not None],
                   [v for v in base.get("counterfactual_logp") or [] if _num(v) is not None],
                   _dict(x.get("counterfactual")), _name(x.get("model")), x.get("argv"))


@dataclass(frozen=True)
class DiscoverySection:
    """One ``discovery[kind]`` section (``whygym attribute --discovery KIND``)."""

    kind: str
    n_trials: int | None
    metric: str  # the metric CAK..MAD are computed on
    settings: dict[str, dict[str, Interval]]  # setting -> tdr / fdr / f1 / shd
    attribution: dict[str, Interval]  # CAK, CAD, MAK, MAD
    model_name: str | None
    argv: Any

    @classmethod
    def read(cls, kind: str, x: Any) -> DiscoverySection:
        x = _dict(x)
        s = _dict(x.get("summary"))
        return cls(kind, _int(s.get("n_trials")), str(s.get("metric") or "tdr"),
                   {str(k): _intervals(v) for k, v in _dict(s.get("settings")).items()},
                   _intervals(s.get("attribution")), _name(x.get("model")), x.get("argv"))


@dataclass(frozen=True)
class Attribution:
    """An ``attribution.json`` as records. ``sections``: which of results, layers, discovery the file holds
    (not null); one that is there but not a mapping reads as ``None`` while ``sections`` still names it."""

    schema: str | None = None
    version: int | None = None
    kind: str | None = None
    components: list[str] = field(default_factory=list)
    levels: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # component -> (on, off)
    arms: list[str] = field(default_factory=list)  # arm labels, in design order
    n_items: int | None = None
    tasks: list[str] = field(default_factory=list)
    model_name: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # free-form: shown as recorded
    results: dict[str, MetricScores] | None = None  # None: no table of effects (absent or not a mapping)
    layers: LayerSection | None = None
    discovery: dict[str, DiscoverySection] | None = None
    sections: tuple[str, ...] = ()

    @property
    def argv(self) -> Any:
        return self.settings.get("argv")

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Attribution:
        schema = doc.get("schema")
        version = str(schema).rpartition("/")[2] if schema else ""
        res, lay, disc = doc.get("results"), doc.get("layers"), doc.get("discovery")
        return cls(
            schema=None if schema is None else str(schema), version=int(version) if version.isdigit() else None,
            kind=doc.get("kind"), components=[str(c) for c in doc.get("components") or []],
            levels={str(c): (_dict(v).get("on"), _dict(v).get("off")) for c, v in _dict(doc.get("levels")).items()},
            arms=[str(a) for a in _dict(doc.get("arms"))], n_items=_int(doc.get("n_items")),
            tasks=[str(t) for t in doc.get("tasks") or []], model_name=_name(doc.get("model")),
            settings=_dict(doc.get("settings")),
            results={str(m): MetricScores.read(v) for m, v in res.items() if isinstance(v, dict)}
            if isinstance(res, dict) else None,
            layers=LayerSection.read(lay) if isinstance(lay, dict) else None,
            discovery={str(k): DiscoverySection.read(str(k), v) for k, v in disc.items()}
            if isinstance(disc, dict) else None,
            sections=tuple(k for k in ("results", "layers", "discovery") if doc.get(k) is not None))


def read_attribution(source: Mapping[str, Any] | str | os.PathLike) -> Attribution:
    """:class:`Attribution` from a document, an ``attribution.json`` or the folder holding one."""
    return Attribution.from_doc(load_doc(source))

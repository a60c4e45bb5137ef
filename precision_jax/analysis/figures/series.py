"""Runs grouped into series, named for a reader, and fitted with a power law.

Series: within one target, runs belong to the same series when they agree on
every config key that varies across the runs, except the seed and the *size*
keys (widths, numbers of points), which move a run along the curve
(:func:`series_keys`).

Names: a series is named the way a figure's author would label it ("ReLU depth 2",
"tanh, Adam → LM", "simplex"), not by a dump of its keys. Each config key gives a
phrase (a net's activation, a model kind's name, ``depth 2``, a chain's stages
``Adam → BFGS``, ``Adam lr 0.003``); the phrases are taken in that order, and one
is kept only if it tells apart series that the ones kept so far do not, so a
label holds just enough to be told from its neighbours (:func:`name_series`).
Every series keeps its full distinguishing keys (:attr:`Named.keys`) for a
caption or a table.

Fits: the exponent α of ``error ≈ A · size^α`` is the least-squares log–log
slope over the stated range, with a percentile interval from a bootstrap over
seeds (:func:`precision_jax.analysis.power_laws.bootstrap_exponent`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from precision_jax.analysis.figures.runs import Entry, varying_keys
from precision_jax.analysis.figures.style import STAGE_NAMES

LABEL_LIMIT = 48  # series names: longer ones are cut, with a hash of the whole for uniqueness
SIZE_KEY = re.compile(r"(^|\.)(width|widths|train_points|test_points|points_per_axis|n_points|init_seed)$")
IGNORED_KEY = re.compile(r"^(seed|name|target(\..*)?|output\..*)$")
STAGE_KEY = re.compile(r"^((?:boost\.)?train)\.(\d+)\.(.+)$")
ACTIVATION_NAMES = {"relu": "ReLU", "silu": "SiLU", "gelu": "GELU", "elu": "ELU", "selu": "SELU"}
MODEL_NAMES = {"mlp": "MLP", "chebyshev": "Chebyshev"}


def series_keys(records: list[Entry]) -> list[str]:
    """The config keys that tell series apart: those that vary, less seeds, sizes, names, targets, output."""
    return [k for k in varying_keys(records) if not SIZE_KEY.search(k) and not IGNORED_KEY.match(k)]


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        return "-".join(map(_value, value))
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _model_name(config: dict) -> str:
    """A net by its activation ("ReLU", "tanh MLP" when alone), any other kind by its name ("simplex")."""
    kind = str(config.get("model.kind", "model"))
    activation = config.get("model.activation")
    if kind == "mlp" and activation is not None:
        return ACTIVATION_NAMES.get(str(activation), str(activation))
    return MODEL_NAMES.get(kind, kind)


def _stage_name(kind) -> str:
    return STAGE_NAMES.get(str(kind), str(kind))


def _chain(config: dict, prefix: str) -> str:
    kinds, i = [], 0
    while f"{prefix}.{i}.kind" in config:
        kinds.append(_stage_name(config[f"{prefix}.{i}.kind"]))
        i += 1
    return " → ".join(kinds)


def _phrases(keys: list[str]) -> list[tuple[str, Callable[[dict], str]]]:
    """(group, phrase of a run's config) per distinguishing key, in the order labels are built: the model's
    name, its other keys, the chains' stages, each stage's settings, everything else. Phrases of the
    ``model`` group are joined by spaces ("ReLU depth 2"), groups by commas."""
    out: list[tuple[str, Callable[[dict], str]]] = []
    model = [k for k in keys if k.startswith("model.")]
    if {"model.kind", "model.activation"} & set(model):
        out.append(("model", _model_name))
    for k in model:
        if k not in ("model.kind", "model.activation"):
            leaf = k.split(".", 1)[1]
            out.append(("model", lambda c, k=k, leaf=leaf: f"{leaf} {_value(c.get(k))}" if k in c else ""))
    stage_keys = [k for k in keys if STAGE_KEY.match(k)]
    for prefix in dict.fromkeys(STAGE_KEY.match(k).group(1) for k in stage_keys):
        head = "boost " if prefix.startswith("boost") else ""
        if any(STAGE_KEY.match(k).group(3) == "kind" for k in stage_keys if k.startswith(prefix + ".")):
            out.append(("chain", lambda c, p=prefix, h=head: h + _chain(c, p) if f"{p}.0.kind" in c else ""))
    for k in stage_keys:
        prefix, index, leaf = STAGE_KEY.match(k).groups()
        if leaf == "kind":
            continue
        head = "boost " if prefix.startswith("boost") else ""

        def phrase(c, k=k, kind_key=f"{prefix}.{index}.kind", leaf=leaf, head=head):
            if c.get(k) is None:
                return ""
            stage = _stage_name(c.get(kind_key))
            return f"{head}{stage} {leaf} {_value(c[k])}"
        out.append(("stage", phrase))
    for k in keys:
        if not k.startswith("model.") and not STAGE_KEY.match(k):
            name = k.split(".", 1)[1] if k.startswith("data.") else k.replace(".", " ")
            out.append(("other", lambda c, k=k, name=name: f"{name} {_value(c[k])}" if c.get(k) not in (None, ())
                        else ""))
    return out


@dataclass
class Named:
    """A series: its label, the runs in it, and the config keys that set it apart (:func:`describe`)."""

    label: str
    runs: list[Entry]
    keys: dict


def name_series(runs: list[Entry]) -> list[Named]:
    """The runs of one target grouped into series (in first-seen order), each with a short, distinct label.

    Phrases are kept greedily (module docstring); series still alike after every phrase (a key no phrase
    reads) are told apart by their first differing ``key=value``, and, as a last resort, by a number.
    """
    keys = series_keys(runs)
    groups: dict[str, list[Entry]] = {}
    for r in runs:
        groups.setdefault(json.dumps([r.config.get(k) for k in keys], default=str), []).append(r)
    configs = [g[0].config for g in groups.values()]
    chosen: list[tuple[str, Callable]] = []
    for group, phrase in _phrases(keys):
        before = len({tuple(p(c) for _, p in chosen) for c in configs})
        after = len({tuple(p(c) for _, p in chosen + [(group, phrase)]) for c in configs})
        if after > before:
            chosen.append((group, phrase))
    labels = []
    for c in configs:
        model = " ".join(p(c) for g, p in chosen if g == "model" and p(c))
        rest = [p(c) for g, p in chosen if g != "model" and p(c)]
        labels.append(", ".join(([model] if model else []) + rest) or _model_name(c))
    for i, c in enumerate(configs):  # distinct series, one label: name the first key that differs
        twins = [j for j, label in enumerate(labels) if label == labels[i] and j != i]
        for j in twins:
            k = next((k for k in keys if configs[j].get(k) != c.get(k)), None)
            if k is not None:
                labels[j] = f"{labels[j]}, {k.split('.')[-1]} {_value(configs[j].get(k))}"
    labels = [abbreviate(label, LABEL_LIMIT) for label in labels]
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} #{seen[label]}"
    return [Named(label, g, _distinguishing(c, configs, keys)) for label, g, c in zip(labels, groups.values(), configs)]


def _distinguishing(config: dict, configs: list[dict], keys: list[str]) -> dict:
    """The keys this series sets to a value another series sets differently (a key only one of them has,
    such as a stage setting of another chain, says nothing a stage kind does not)."""
    def given(c, k):
        return c.get(k) not in (None, ())

    out = {k: config[k] for k in keys if given(config, k)
           and any(given(c, k) and c[k] != config[k] for c in configs)}
    return out or {k: config[k] for k in keys if given(config, k)}


def abbreviate(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start, "…" and 6 hex digits of its hash
    (so two long texts with the same start stay apart)."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:6]
    return f"{text[:max(1, limit - 8)].rstrip(' ,=_-')}…{digest}"


def group_series(records: list[Entry]) -> dict[str, list[Named]]:
    """``{target: [series]}`` over complete runs, targets in sorted order."""
    by_target: dict[str, list[Entry]] = {}
    for r in records:
        if r.status != "failed":
            by_target.setdefault(r.target, []).append(r)
    return {target: name_series(runs) for target, runs in sorted(by_target.items())}


def describe(keys: dict) -> str:
    """A series' distinguishing keys as ``key=value, ...`` (for a caption or a table)."""
    return ", ".join(f"{k}={_value(v)}" for k, v in keys.items()) or "(the only series)"


# --------------------------------------------------------------------------- fitting


def _size(value: float) -> str:
    return f"{value:.0f}" if value >= 1 and float(value).is_integer() else f"{value:.3g}"


@dataclass
class SeriesFit:
    target: str
    series: str
    x: str
    metric: str
    exponent: float
    low: float
    high: float
    size_range: tuple[float, float]
    n_points: int
    n_seeds: int
    interpolant: bool

    def as_dict(self) -> dict:
        return {"target": self.target, "series": self.series, "x": self.x, "metric": self.metric,
                "exponent": self.exponent, "ci_low": self.low, "ci_high": self.high,
                "range": list(self.size_range), "points": self.n_points, "seeds": self.n_seeds}


def fit_points(sizes, errors, seeds, fit_range=None, n_boot: int = 1000, level: float = 0.95
               ) -> Optional[dict]:
    """The power law through ``(sizes, errors)``: ``{exponent, low, high, range, points, seeds, log_a}``
    (``low``/``high`` NaN with one seed), or None with fewer than two sizes."""
    from precision_jax.analysis import power_laws

    sizes, errors, seeds = np.asarray(sizes, float), np.asarray(errors, float), np.asarray(seeds).astype(str)
    keep = np.isfinite(sizes) & np.isfinite(errors) & (errors > 0) & (sizes > 0)
    if fit_range is not None:
        keep &= (sizes >= fit_range[0]) & (sizes <= fit_range[1])
    sizes, errors, seeds = sizes[keep], errors[keep], seeds[keep]
    if len(np.unique(sizes)) < 2:
        return None
    if len(np.unique(seeds)) >= 2:
        exponent, low, high = power_laws.bootstrap_exponent(sizes, errors, seeds, n_boot=n_boot, seed=0, level=level)
    else:
        exponent, low, high = power_laws.fit_power_law(sizes, errors).exponent, float("nan"), float("nan")
    return {"exponent": exponent, "low": low, "high": high, "range": (float(sizes.min()), float(sizes.max())),
            "points": int(sizes.size), "seeds": len(np.unique(seeds)),
            "log_a": float(np.mean(np.log(errors) - exponent * np.log(sizes)))}


def fit_legend(fit: dict, x: str) -> str:
    lo, hi = fit["range"]
    ci = f" [{fit['low']:+.2f}, {fit['high']:+.2f}]" if np.isfinite(fit["low"]) else ""
    return f"α = {fit['exponent']:+.2f}{ci}  (fit over {x} = {_size(lo)}–{_size(hi)})"


def fit_all(records: list[Entry], x: str = "N", metric: str = "rmse", fit_range=None) -> list[SeriesFit]:
    """Every series of every target with at least two sizes, fitted."""
    fits = []
    for target, named in group_series(records).items():
        for s in named:
            fit = fit_points([r.size(x) for r in s.runs], [r.metric(metric) for r in s.runs],
                             [r.seed for r in s.runs], fit_range)
            if fit is not None:
                fits.append(SeriesFit(target, s.label, x, metric, fit["exponent"], fit["low"], fit["high"],
                                      fit["range"], fit["points"], fit["seeds"], all(r.interpolant for r in s.runs)))
    return fits


# --------------------------------------------------------------------------- tables


def table_rows(records: list[Entry]) -> tuple[list[str], list[dict]]:
    """Columns (varying config keys, then sizes, errors, status, time) and one row per record."""
    keys = [k for k in varying_keys(records) if not k.startswith("output.") and k != "seed"] + ["seed"]
    columns = ["target", *keys, "N", "D", "train_rmse", "test_rmse", "test_relative_rmse", "status",
               "wall_seconds", "run_id", "reason"]
    rows = []
    for r in records:
        row = {"target": r.target, **{k: r.config.get(k) for k in keys}}
        row.update({c: r.value(c) for c in ("N", "D", "train_rmse", "test_rmse", "test_relative_rmse", "status",
                                            "wall_seconds", "run_id")})
        row["reason"] = r.reason
        rows.append(row)
    rows.sort(key=lambda row: tuple(str(row.get(c)) if not isinstance(row.get(c), (int, float)) or
                                    isinstance(row.get(c), bool) else f"{row.get(c):020.6f}"
                                    for c in ["target", *keys]))
    return columns, rows

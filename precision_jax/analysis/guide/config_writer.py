"""The recommended method as a ready-to-run config: built, validated as ``prec run`` would, written as YAML.

:func:`recommended_config` builds the config mapping of a recommended method:

* interpolants are sized to reach the float64 floor on a smooth target: Chebyshev degree 40 per axis (30 in
  3-D, (degree + 1)^d nodes), a spline on 200, 100² or 30³ points, simplex on 10,000;
* networks are a tanh net (ReLU for a target with a kink, the teacher's activation for a teacher) trained for
  precision with Levenberg–Marquardt (:data:`PRECISION_CHAIN`, the chain of ``configs/precision/I.11.19.yaml``)
  or, when not smooth, with Adam then BFGS (:data:`ROUGH_CHAIN`). LM factorizes the N × N Gauss–Newton matrix
  densely (O(N³) a step), so a modular net is made as wide as keeps N ≤ :data:`LM_MAX_PARAMS`.

:func:`ready_config` validates it with the checks ``prec run`` makes before training and rewrites data paths
relative to the config's folder; :func:`config_yaml` renders it in the style of ``configs/`` and
:func:`write_config` writes it atomically, then reads it back as ``prec run`` will.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from precision_jax.analysis.guide.candidates import Candidate, Recommendation
from precision_jax.analysis.guide.net_sizing import modular_model, modular_params
from precision_jax.analysis.guide.target_analysis import CONFIG_SUFFIXES, Analysis, GuideError
from precision_jax.experiment import build_config, load_config
from precision_jax.runs.plan import preflight

__all__ = ["PRECISION_CHAIN", "ROUGH_CHAIN", "LM_MAX_PARAMS", "recommended_config", "ready_config", "config_yaml",
           "write_config"]

PRECISION_CHAIN = [{"kind": "lm", "maxiter": 300, "subsample": 4000},
                   {"kind": "lm", "maxiter": 150, "subsample": 4000, "focus": 0.3},
                   {"kind": "lm", "maxiter": 150, "subsample": 4000, "focus": 0.3}]
ROUGH_CHAIN = [{"kind": "adam", "lr": 1.0e-3, "steps": 20000}, {"kind": "bfgs", "maxiter": 5000}]
LM_MAX_PARAMS = 3000  # below the lm stage's dense-factorization cap (max_params 4000)


def _experiment_name(a: Analysis) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(a.name.split(":")[0]).stem if a.kind == "data" else a.name)
    base = base.strip("._")
    return ("guide_" + (base or "target"))[:100]


def _net_model(a: Analysis, method: Candidate, activation: str, smooth: bool) -> dict:
    """The ``model:`` section of the recommended net."""
    if method.key == "modular" and (modular_params(a.graph, 4) <= LM_MAX_PARAMS or not smooth):
        width = max((w for w in range(4, 17) if modular_params(a.graph, w) <= LM_MAX_PARAMS), default=4)
        return modular_model(a.graph, activation, width)
    if a.kind == "teacher":
        hidden = max(a.teacher_widths[1:-1] or (3,)) if a.teacher_widths else 3
        return {"kind": "mlp", "depth": 3, "width": max(20, 2 * hidden), "activation": activation}
    return {"kind": "mlp", "depth": 3, "width": 20, "activation": activation}


def recommended_config(a: Analysis, method: Candidate) -> dict:
    """The config mapping that runs ``method`` on the analysed target (data paths absolute; module docstring)."""
    cfg: dict[str, Any] = {"name": _experiment_name(a), "seed": 0, "target": dict(a.target)}
    if method.key in ("chebyshev", "spline", "simplex"):
        if method.key == "chebyshev":
            nodes = {1: 41, 2: 41, 3: 31}[a.d] ** a.d  # degree 40 (30 in 3-D) per axis
            points, compactification, model = nodes if a.kind != "data" else "auto", 1.0, {"kind": "chebyshev"}
        elif method.key == "spline":
            points = {1: 200, 2: 100 ** 2, 3: 30 ** 3}[a.d] if a.kind != "data" else "auto"  # a table: every row
            compactification, model = 0.8, dict(method.model)
        else:
            points = "auto" if a.kind == "data" else {1: 10000, 2: 10000, 3: 10000}.get(a.d, 5000)
            compactification, model = 0.8, {"kind": "simplex"}
        cfg["data"] = {"train_points": points, "test_points": 30000, "test_compactification": compactification}
        cfg["model"] = model
    else:
        smooth = a.smooth.smooth or a.kind == "data"
        activation = a.activation if a.kind == "teacher" else ("tanh" if smooth else "relu")
        cfg["model"] = _net_model(a, method, activation, smooth)
        # Full-batch Adam over 20,000 steps is what a rough target costs; LM fits subsamples of many points.
        points = "auto" if a.kind == "data" else 100000 if smooth else 20000
        cfg["data"] = {"train_points": points, "test_points": 10000, "test_compactification": 1.0,
                       "standardize": True}
        chain = PRECISION_CHAIN if smooth else ROUGH_CHAIN
        if a.kind == "data" and smooth:
            sub = min(4000, a.pool or 4000)
            chain = [{**s, "subsample": sub} for s in chain]
        cfg["train"] = [dict(s) for s in chain]
        cfg["output"] = {"dir": "results", "log_every": 50}
    if a.kind == "data":
        cfg["data"].pop("test_compactification", None)
    order = ("name", "seed", "target", "data", "model", "train", "output")
    return {k: cfg[k] for k in order if k in cfg}


def _relocate(cfg: dict, config_dir: Optional[Path]) -> dict:
    """The config with its data paths relative to ``config_dir`` (where the file will be read from)."""
    out = copy.deepcopy(cfg)
    if config_dir is not None:
        for key in ("data", "test_data"):
            path = out["target"].get(key)
            if isinstance(path, str):
                relative = os.path.relpath(path, os.path.abspath(config_dir))
                # Beside or below the config: relative, so the folder can move; elsewhere: absolute.
                out["target"][key] = path if relative.startswith("..") else relative
    return out


def ready_config(rec: Recommendation, config_dir: Optional[Path] = None, source: str = "guide"):
    """(config mapping with paths relative to ``config_dir``, validated ExperimentConfig).

    Validated by :func:`precision_jax.experiment.build_config` and :func:`precision_jax.runs.plan.preflight`, the
    checks ``prec run`` makes before it trains.
    """
    validated = build_config(rec.config, source=source)
    preflight([validated])
    return _relocate(rec.config, config_dir), validated


def config_yaml(cfg: dict, header: Sequence[str] = ()) -> str:
    """YAML in the style of ``configs/``: sections block, each stage and module one flow line."""
    class Flow(dict):
        pass

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(Flow, lambda dumper, data: dumper.represent_mapping(
        "tag:yaml.org,2002:map", data.items(), flow_style=True))
    cfg = dict(cfg)
    if "train" in cfg:
        cfg["train"] = [Flow(stage) for stage in cfg["train"]]
    if isinstance(cfg.get("model"), dict) and "modules" in cfg["model"]:
        cfg["model"] = {**cfg["model"], "modules": [Flow(m) for m in cfg["model"]["modules"]]}
    text = yaml.dump(cfg, Dumper=Dumper, sort_keys=False, default_flow_style=None, allow_unicode=True, width=110)
    return "".join(f"# {line}\n" for line in header) + text


def write_config(rec: Recommendation, path: Path, header: Sequence[str] = (), force: bool = False) -> Path:
    """Validate the recommended config and write it to ``path`` (refusing to overwrite without ``force``)."""
    path = Path(path)
    if path.exists() and not force:
        raise GuideError(f"{path} exists; use --force to overwrite it", "", "--write")
    if path.suffix.lower() not in CONFIG_SUFFIXES:
        raise GuideError(f"{path}: a config file ends in .yaml or .yml", "", "--write")
    if not path.parent.is_dir():
        raise GuideError(f"{path.parent} is not a folder", "", "--write")
    cfg, _ = ready_config(rec, path.parent)
    text = config_yaml(cfg, header)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    load_config(path)  # what `prec run` will read
    return path

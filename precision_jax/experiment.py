"""The experiment schema: what a config file may say, as frozen dataclasses.

``prec schema`` prints every key below with its type, default, range and doc;
:func:`load_config` turns a YAML file (plus ``key=value`` overrides) into an
:class:`ExperimentConfig` or raises one :class:`~precision_jax.config.engine.ConfigError`
naming the file and key. The parsing itself is :mod:`precision_jax.config.engine`;
``model:`` and the stages of ``train:`` are dispatched on their ``kind`` through
:mod:`precision_jax.config.kinds`. Importing the approximator and stage packages
here fills those registries, so every kind is known once this module is
imported. Nothing that those packages import may import this module.

Shape of a config (``prec schema`` has every key)::

    name: str                         # experiment name, the store's subdirectory
    seed: int [0]
    target: {equation | formula + variables | teacher | data + inputs, output, test_data}
    data: {train_points, test_points, test_compactification, standardize}
    model: {kind: mlp, ...}           # a registered model kind
    train: [{kind: adam, ...}, ...]   # registered stage kinds, run in order
    boost:                            # optional: F = f_0 + Σ_k c_k f_k
      rounds: 2                       # rounds after the main chain
      normalize: mean_abs             # mean_abs | rms | max
      model: null                     # null: the same as `model`
      train: [{kind: lm}]             # each round's chain
    output: {dir, log_every, save_params}
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union

from precision_jax import models as _model_kinds  # noqa: F401  (importing it registers every model kind)
from precision_jax.config.auto_budget import AutoTrain, is_auto
from precision_jax.config.engine import (
    Check,
    ConfigError,
    FieldDoc,
    apply_override,
    checked,
    class_doc,
    field_docs,
    non_negative,
    parse_dataclass,
    parse_override,
    positive,
    read_yaml,
    to_dict,
    unit_interval,
)
from precision_jax.config.kinds import MODEL_AUTO, STAGE_KINDS, model_configs, model_field, stages_field
from precision_jax.engine import stages as _stage_kinds  # noqa: F401  (importing it registers every stage kind)
from precision_jax.engine.boosting import BoostConfig
from precision_jax.models.mlp import MLPConfig, check_activation
from precision_jax.problems import data_target
from precision_jax.problems.formula import FormulaError, parse_formula
from precision_jax.problems.targets import equation_target, feynman_registry

# Names other layers have always imported from here; they are defined below config.py in the pipeline,
# so re-exporting them closes no import circle.
__all__ = ["BoostConfig", "ConfigError", "DataConfig", "ExperimentConfig", "MLPConfig", "OutputConfig",
           "SchemaTable", "TargetConfig", "TeacherConfig", "apply_override", "build_config", "load_config",
           "parse_override", "read_yaml", "schema_tables", "to_dict"]


def _fail_unless(condition: bool, what: str, key: str) -> None:
    if not condition:
        raise ConfigError(what, key)


@dataclass(frozen=True)
class TeacherConfig:
    """A random MLP as the target (teacher–student): its widths, activation and seed."""

    widths: tuple[int, ...] = checked(doc="layer widths from the input dimension to the one output, e.g. [1, 3, 3, 1]")
    activation: str = checked("tanh", doc="the teacher's nonlinearity")
    seed: int = checked(0, doc="seed of the teacher's random weights")

    def __post_init__(self):
        _fail_unless(len(self.widths) >= 2, "needs at least an input and an output width", "widths")
        _fail_unless(all(w > 0 for w in self.widths), "widths must be positive", "widths")
        _fail_unless(self.widths[-1] == 1, "a teacher has one output (last width 1)", "widths")
        check_activation(self.activation, "activation")


_SHA256 = Check(lambda v: re.fullmatch(r"[0-9a-f]{64}", v) is not None, "64 lowercase hex digits")


@dataclass(frozen=True)
class TargetConfig:
    """The function to fit: exactly one of a Feynman equation, a formula, a teacher network or a data file."""

    equation: Optional[str] = checked(None, doc="a Feynman registry id, e.g. I.8.14 (`prec targets` lists them)")
    formula: Optional[str] = checked(None, doc="an inline formula, e.g. exp(x*y), read by a restricted parser")
    variables: Optional[dict[str, tuple[float, float]]] = checked(
        None, doc="a formula's variables and their ranges, e.g. {x: [-1, 1], y: [0, 2]}")
    teacher: Optional[TeacherConfig] = checked(None, doc="a random MLP as the target")
    # A data file (precision_jax/problems/data_files.py has the formats and checks, data_target.py the splits).
    data: Optional[str] = checked(None, doc="a data file to fit: .csv with a header, .npz or .npy; relative to "
                                  "the config file")
    inputs: Optional[tuple[str, ...]] = checked(None, doc="a data file's input columns, in order; null: every "
                                                "column but the output (filled in when the config is read)")
    output: Optional[Union[str, tuple[str, ...]]] = checked(None, doc="a data file's one output column; null: "
                                                            "the last column (filled in when the config is read)")
    test_data: Optional[str] = checked(None, doc="a data file with the same columns as the test set; null: a "
                                       "seeded 20% of data's rows are held out")
    data_sha256: Optional[str] = checked(None, _SHA256, doc="SHA-256 of data, filled in when the config is read "
                                         "(a changed file is a new run); written by hand it pins the file")
    test_data_sha256: Optional[str] = checked(None, _SHA256, doc="SHA-256 of test_data, filled in like data_sha256")

    def __post_init__(self):
        chosen = [k for k in ("equation", "formula", "teacher", "data") if getattr(self, k) is not None]
        _fail_unless(len(chosen) == 1,
                     f"give exactly one of equation, formula, teacher, data (got {chosen or 'none'})", "")
        if self.data is not None:
            for key, value in data_target.resolve_config(self).items():
                object.__setattr__(self, key, value)  # the resolved config records paths, hashes and columns
        else:
            for key in ("inputs", "output", "test_data", "data_sha256", "test_data_sha256"):
                _fail_unless(getattr(self, key) is None, "only a data-file target (data: path) takes this key", key)
        if self.equation is not None and self.equation not in feynman_registry():
            try:
                equation_target(self.equation)
            except (KeyError, ValueError) as e:
                raise ConfigError(str(e), "equation") from None
        if self.formula is not None:
            _fail_unless(bool(self.variables), "a formula needs its variables, e.g. {x: [-1, 1]}", "variables")
            for name, (low, high) in self.variables.items():
                _fail_unless(low < high, f"range must have low < high, got [{low}, {high}]", f"variables.{name}")
            try:
                parse_formula(self.formula, tuple(self.variables))
            except FormulaError as e:
                raise ConfigError(str(e), "formula") from None
        else:
            _fail_unless(self.variables is None, "variables only go with a formula", "variables")


@dataclass(frozen=True)
class DataConfig:
    """Training and test points: uniform in the target's box, or a regular training grid; test points uniform."""

    train_points: Union[int, Literal["auto"]] = checked(
        "auto", doc="D, training points; auto: N // (d+1), the paper's D for N parameters", range="> 0 or auto")
    test_points: int = checked(30000, positive, doc="test points")
    test_compactification: float = checked(
        0.8, unit_interval, doc="test points come from the box shrunk by this factor around its centre")
    standardize: bool = checked(False, doc="standardize inputs with the training set's mean and std")
    sampling: Literal["uniform", "grid"] = checked(
        "uniform", doc="training points: uniform at random, or a regular grid of round(D^(1/d)) points per axis "
        "over the whole box (D becomes that count)")

    def __post_init__(self):
        if self.train_points != "auto":
            positive(self.train_points, "train_points")


@dataclass(frozen=True)
class OutputConfig:
    """Where runs are written and how finely their curves are logged."""

    dir: str = checked("results", doc="the store's root; runs go to <dir>/<name>/<run id>/")
    log_every: int = checked(100, positive, doc="curve resolution, in steps or iterations")
    save_params: bool = checked(True, doc="write the fitted parameters (model.npz)")
    checkpoint_every: float = checked(60.0, positive, doc="seconds between checkpoints of an unfinished run")
    max_time: Optional[float] = checked(None, positive, doc="stop a run after this many seconds of training, "
                                        "resumably (status timeout); null: no cap")
    certify: bool = checked(False, doc="after training, search the target's box for the largest |f - model| "
                            "(as `prec certify` does) and record it in summary.json; formula, equation and teacher "
                            "targets only")


# A run's name is a directory of the store: one path component of plain characters that cannot climb out
# of it (no separators, no "..", no leading dot that would hide it or make it look like a temporary write).
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
NAME_RANGE = "[A-Za-z0-9._-]+, not starting with a dot"


def _check_name(name: str, key: str) -> None:
    _fail_unless(len(name) <= 100 and NAME_PATTERN.fullmatch(name) is not None,
                 f"must be a plain name ({NAME_RANGE}, at most 100 characters), got {name!r}", key)


def target_dimension(target: TargetConfig) -> int:
    """d, the number of inputs of the target a config names (already validated)."""
    if target.teacher is not None:
        return int(target.teacher.widths[0])
    if target.formula is not None:
        return len(target.variables)
    if target.data is not None:
        return len(target.inputs)
    row = feynman_registry().get(target.equation)
    return int(row.d) if row is not None else int(equation_target(target.equation).d)


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a target, data, a model and its training, and where the run goes."""

    name: str = checked(check=_check_name, doc="the experiment's name, its directory in the store",
                        range=NAME_RANGE)
    target: TargetConfig = checked(doc="the function to fit: one of equation, formula (+ variables), teacher, "
                                       "data")
    model: Any = model_field(doc="the approximator, by kind (see the model kinds); auto (data files): short probes "
                                 "of the candidate kinds on the training rows choose it, then the winner is fitted "
                                 "(precision_jax/runs/auto_model.py)", allow_auto=True)
    train: Union[tuple[Any, ...], str, AutoTrain] = stages_field(
        doc="optimizer stages, run in order, each from the previous one's best θ; auto: the chain that "
            "precision_jax/engine/auto_chain.py sizes from d, D and N (boosting included); {auto: {budget: 30m, "
            "goal: 1e-12}}: that chain grown to fill a wall-time budget, stopping at a training RMSE", allow_auto=True)
    boost: Optional[BoostConfig] = checked(None, doc="boosting rounds after `train`; null: none")
    data: DataConfig = checked(DataConfig(), doc="training and test points")
    output: OutputConfig = checked(OutputConfig(), doc="where the run is written")
    seed: int = checked(0, non_negative, doc="seed of data sampling, initialisation and batching")

    def __post_init__(self):
        _fail_unless(not is_auto(self.train) or self.boost is None,
                     "train: auto chooses the boosting rounds itself; remove the boost section", "boost")
        _fail_unless(not (self.output.certify and self.target.data is not None),
                     "a data-file target has no formula between its rows, so only the data's own points can be "
                     "checked (test_max_abs_error is that check); remove output.certify", "output.certify")
        model = self.model
        if model == MODEL_AUTO:
            _fail_unless(self.target.data is not None, "model: auto chooses among methods by probing a data file's "
                         "rows; for a formula, equation or teacher give a model kind (`prec guide --probe` "
                         "recommends one)", "model")
            _fail_unless(self.train in ((), "auto"), "model: auto picks the training too (none for an "
                         "interpolant, train: auto for a net); remove train or write train: auto", "train")
            _fail_unless(self.boost is None, "model: auto picks the training too; remove the boost section", "boost")
        # On a data file chebyshev is a least-squares series (no nodes of its own): any D ≥ (degree+1)^d goes.
        if getattr(model, "kind", None) == "chebyshev" and model.degree is not None \
                and self.data.train_points != "auto" and self.target.data is None:
            nodes = (model.degree + 1) ** target_dimension(self.target)
            _fail_unless(self.data.train_points == nodes,
                         f"a chebyshev model of degree {model.degree} is fitted at its own (degree+1)^d = "
                         f"{nodes} nodes, not at {self.data.train_points} points; set train_points: {nodes} "
                         f"or leave model.degree unset (degree = floor(D^(1/d)) - 1)", "data.train_points")

    def to_dict(self) -> dict:
        return to_dict(self)


def build_config(data: dict, overrides: list[str] = (), source: str = "") -> ExperimentConfig:
    """Validate ``data`` (after applying ``key=value`` overrides) into an :class:`ExperimentConfig`."""
    data = copy.deepcopy(data)
    try:
        for text in overrides:
            path, value = parse_override(text)
            apply_override(data, path, value)
        return parse_dataclass(ExperimentConfig, data)
    except ConfigError as e:
        raise e.located(source) from None


SWEEP_ONLY_KEYS = ("base", "grid", "zip")


def load_config(path: str | Path, overrides: list[str] = ()) -> ExperimentConfig:
    """Read, override and validate the experiment config at ``path``."""
    data = read_yaml(path)
    sweep_keys = [k for k in SWEEP_ONLY_KEYS if k in data]
    if sweep_keys:
        raise ConfigError(f"this is a sweep spec (it has {', '.join(sweep_keys)}), not an experiment config; "
                          f"run it with `prec sweep {path}`", source=str(path))
    data_target.absolutize_paths(data, Path(path).parent)  # the file's own paths; overrides' are the shell's (cwd)
    return build_config(data, list(overrides), source=str(path))


@dataclass(frozen=True)
class SchemaTable:
    """One table of ``prec schema``: the experiment config, or one model or stage kind."""

    group: Literal["experiment", "model", "stage"]
    name: str            # "experiment", or the kind
    doc: str             # one line: the class's docstring
    rows: tuple[FieldDoc, ...]


def schema_tables() -> list[SchemaTable]:
    """Every key a config may hold: the experiment's (sections expanded), then each model and stage kind's."""
    tables = [SchemaTable("experiment", "experiment", class_doc(ExperimentConfig),
                          tuple(field_docs(ExperimentConfig)))]
    for group, registry in (("model", model_configs()), ("stage", STAGE_KINDS)):
        tables += [SchemaTable(group, kind, class_doc(cls), tuple(field_docs(cls)))
                   for kind, cls in registry.items()]
    return tables

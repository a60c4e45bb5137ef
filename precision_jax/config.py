"""Experiment configs: strict YAML → frozen dataclasses.

A config is data, never code: YAML is safe-loaded, every key is checked
against the schema below, and the first problem found is raised as a
:class:`ConfigError` whose message names the file, the dotted key path and
what was expected (with the closest valid key when a typo is likely).

Schema (``?`` marks optional keys, defaults in brackets)::

    name: str                         # experiment name, the store's subdirectory
    seed: int [0]                     # data sampling, initialisation, batching
    target:                           # exactly one of
      equation: I.8.14                #   a Feynman registry id
      formula: "exp(x*y)"             #   an inline formula with its variables
      variables: {x: [-1, 1], y: [-1, 1]}
      teacher: {widths: [1,3,3,1], activation: tanh, seed: 0}
    data:
      train_points: int | auto [auto]  # auto: D = N // (d+1)
      test_points: int [30000]
      test_compactification: float [0.8]   # in (0, 1]
      standardize: bool [false]       # standardize inputs with train mean/std
    model:
      kind: mlp [mlp]                 # further kinds register themselves
      ...                             # kind-specific keys
    train:                            # ordered optimizer stages
      - {kind: adam, lr: 1e-3, steps: 20000}
      - {kind: bfgs, maxiter: 5000}
    output:
      dir: results ["results"]
      log_every: int [100]            # curve resolution, in steps/iterations
      save_params: bool [true]

Model and stage kinds are looked up in registries (:data:`MODEL_KINDS`,
:data:`STAGE_KINDS`) so that new approximators and optimizers add a dataclass
and a ``register_*`` call, nothing else.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union

import yaml


class ConfigError(ValueError):
    """A config problem, with ``where`` (file and key path) and ``what`` (the problem)."""

    def __init__(self, what: str, key: str = "", source: str = ""):
        self.what, self.key, self.source = what, key, source
        where = ": ".join(p for p in (source, key) if p)
        super().__init__(f"{where}: {what}" if where else what)

    def located(self, source: str) -> "ConfigError":
        return ConfigError(self.what, self.key, source)


def _check(condition: bool, what: str, key: str) -> None:
    if not condition:
        raise ConfigError(what, key)


def positive(value, key):
    _check(value > 0, f"must be > 0, got {value!r}", key)


def non_negative(value, key):
    _check(value >= 0, f"must be >= 0, got {value!r}", key)


def fraction(value, key):
    _check(0 <= value <= 1, f"must be in [0, 1], got {value!r}", key)


def unit_interval(value, key):
    _check(0 < value <= 1, f"must be in (0, 1], got {value!r}", key)


def checked(default=dataclasses.MISSING, check=None, doc: str = "", **kwargs):
    """A dataclass field with a validation callback ``check(value, key)``."""
    return field(default=default, metadata={"check": check, "doc": doc}, **kwargs)


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class TeacherConfig:
    widths: tuple[int, ...]
    activation: str = "tanh"
    seed: int = 0

    def __post_init__(self):
        _check(len(self.widths) >= 2, "needs at least an input and an output width", "widths")
        _check(all(w > 0 for w in self.widths), "widths must be positive", "widths")
        _check(self.widths[-1] == 1, "a teacher has one output (last width 1)", "widths")
        _check_activation(self.activation, "activation")


@dataclass(frozen=True)
class TargetConfig:
    equation: Optional[str] = None
    formula: Optional[str] = None
    variables: Optional[dict[str, tuple[float, float]]] = None
    teacher: Optional[TeacherConfig] = None

    def __post_init__(self):
        from precision_jax.formula import FormulaError, parse_formula
        from precision_jax.targets import equation_target, feynman_registry

        chosen = [k for k in ("equation", "formula", "teacher") if getattr(self, k) is not None]
        _check(len(chosen) == 1, f"give exactly one of equation, formula, teacher (got {chosen or 'none'})", "")
        if self.equation is not None and self.equation not in feynman_registry():
            try:
                equation_target(self.equation)
            except (KeyError, ValueError) as e:
                raise ConfigError(str(e), "equation") from None
        if self.formula is not None:
            _check(bool(self.variables), "a formula needs its variables, e.g. {x: [-1, 1]}", "variables")
            for name, (low, high) in self.variables.items():
                _check(low < high, f"range must have low < high, got [{low}, {high}]", f"variables.{name}")
            try:
                parse_formula(self.formula, tuple(self.variables))
            except FormulaError as e:
                raise ConfigError(str(e), "formula") from None
        else:
            _check(self.variables is None, "variables only go with a formula", "variables")


@dataclass(frozen=True)
class DataConfig:
    train_points: Union[int, Literal["auto"]] = checked("auto", doc="D, or auto = N // (d+1)")
    test_points: int = checked(30000, positive)
    test_compactification: float = checked(0.8, unit_interval)
    standardize: bool = False

    def __post_init__(self):
        if self.train_points != "auto":
            positive(self.train_points, "train_points")


@dataclass(frozen=True)
class OutputConfig:
    dir: str = "results"
    log_every: int = checked(100, positive)
    save_params: bool = True


@dataclass(frozen=True)
class MLPConfig:
    """Dense MLP: give ``depth`` and ``width``, or explicit hidden ``widths``."""

    kind: Literal["mlp"] = "mlp"
    depth: Optional[int] = checked(None, lambda v, k: v is None or positive(v, k))
    width: Optional[int] = checked(None, lambda v, k: v is None or positive(v, k))
    widths: Optional[tuple[int, ...]] = None
    activation: str = "tanh"
    init_seed: Optional[int] = None

    def __post_init__(self):
        _check_activation(self.activation, "activation")
        if self.widths is not None:
            _check(self.depth is None and self.width is None,
                   "give either widths or depth and width, not both", "widths")
            _check(all(w > 0 for w in self.widths), "widths must be positive", "widths")
        else:
            _check(self.depth is not None and self.width is not None,
                   "give depth and width (or widths)", "depth" if self.depth is None else "width")

    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(self.widths) if self.widths is not None else (self.width,) * (self.depth - 1)


def _check_activation(name: str, key: str) -> None:
    from precision_jax.approximators.mlp import ACTIVATIONS

    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}", key)


MODEL_KINDS: dict[str, type] = {"mlp": MLPConfig}
STAGE_KINDS: dict[str, type] = {}


def register_model(kind: str, cls: type) -> type:
    MODEL_KINDS[kind] = cls
    return cls


def register_stage(kind: str, cls: type) -> type:
    STAGE_KINDS[kind] = cls
    return cls


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    target: TargetConfig
    model: Any
    train: tuple[Any, ...] = ()
    data: DataConfig = DataConfig()
    output: OutputConfig = OutputConfig()
    seed: int = checked(0, non_negative)

    def to_dict(self) -> dict:
        return to_dict(self)


# --------------------------------------------------------------------------- parsing


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin in (tuple, list):
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a YAML value to ``tp``, raising :class:`ConfigError` naming ``key``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as e:
                errors.append(e)
        raise ConfigError(f"expected {_type_name(tp)}, got {value!r}", key)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise ConfigError(f"expected {_type_name(tp)}, got {value!r}", key)
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, key)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"expected {_type_name(tp)}, got {value!r}", key)
        (item_tp, *rest) = typing.get_args(tp)
        if rest and rest[0] is not Ellipsis:  # fixed-length tuple
            if len(value) != len(typing.get_args(tp)):
                raise ConfigError(f"expected {len(typing.get_args(tp))} items, got {len(value)}", key)
            return tuple(_coerce(v, t, f"{key}.{i}") for i, (v, t) in enumerate(zip(value, typing.get_args(tp))))
        return tuple(_coerce(v, item_tp, f"{key}.{i}") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected a mapping, got {value!r}", key)
        ktp, vtp = typing.get_args(tp)
        return {_coerce(k, ktp, key): _coerce(v, vtp, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)  # 1e5 in YAML is a float; accept it as an integer
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if number.is_integer():
                    return int(number)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. an equation id that YAML read as a number
    else:
        raise TypeError(f"unsupported schema type {tp!r}")
    raise ConfigError(f"expected {_type_name(tp)}, got {value!r}", key)


def _join(prefix: str, name: str) -> str:
    return ".".join(p for p in (prefix, name) if p)


def parse_dataclass(cls: type, data: Any, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and bad types."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, got {data!r}", prefix)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; expected one of: {', '.join(fields)}"
            raise ConfigError(f"unknown key {key!r}{hint}", _join(prefix, str(key)))
    kwargs = {}
    for name, f in fields.items():
        key = _join(prefix, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError("missing required key", key)
            continue
        if cls is ExperimentConfig and name in ("model", "train"):
            value = _parse_model(data[name], key) if name == "model" else _parse_stages(data[name], key)
        else:
            value = _coerce(data[name], hints[name], key)
        check = f.metadata.get("check")
        if check is not None and value is not None:
            try:
                check(value, key)
            except ConfigError as e:
                raise ConfigError(e.what, key) from None
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(e.what, _join(prefix, e.key)) from None


def _parse_kind(data: Any, key: str, registry: dict[str, type], what: str, default: str | None) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping with a 'kind' key, got {data!r}", key)
    kind = data.get("kind", default)
    if kind not in registry:
        close = difflib.get_close_matches(str(kind), registry, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown {what} kind {kind!r}{hint}; expected one of: {', '.join(registry)}",
                          _join(key, "kind"))
    return parse_dataclass(registry[kind], {**data, "kind": kind}, key)


def _parse_model(data: Any, key: str) -> Any:
    _import_plugins()
    return _parse_kind(data, key, MODEL_KINDS, "model", "mlp")


def _parse_stages(data: Any, key: str) -> tuple:
    _import_plugins()
    if not isinstance(data, (list, tuple)):
        raise ConfigError(f"expected a list of stages, got {data!r}", key)
    return tuple(_parse_kind(s, f"{key}.{i}", STAGE_KINDS, "stage", None) for i, s in enumerate(data))


def stage_config(stage_cls: type) -> type:
    """Decorator: make ``stage_cls`` a frozen dataclass and register it under its ``kind``."""
    cls = dataclass(frozen=True)(stage_cls)
    kind = typing.get_args(typing.get_type_hints(cls)["kind"])[0]
    return register_stage(kind, cls)


def model_config(model_cls: type) -> type:
    """Decorator: make ``model_cls`` a frozen dataclass and register it under its ``kind``."""
    cls = dataclass(frozen=True)(model_cls)
    kind = typing.get_args(typing.get_type_hints(cls)["kind"])[0]
    return register_model(kind, cls)


def _import_plugins() -> None:
    # Stages and models register themselves on import; importing here keeps
    # config parsing independent of import order elsewhere.
    import precision_jax.approximators  # noqa: F401
    import precision_jax.stages  # noqa: F401


# --------------------------------------------------------------------------- files and overrides


def to_dict(obj: Any) -> Any:
    """Plain YAML/JSON-ready data for a config dataclass (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.0.c=value`` → (["a", "b", "0", "c"], YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_override(data: dict, path: list[str], value: Any) -> None:
    """Set ``data[path]`` in nested dicts/lists; list items by index, missing dicts created."""
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        key = ".".join(path[: depth + 1])
        if isinstance(node, list):
            node = node[_index(part, node, key)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            raise ConfigError(f"cannot set a key inside {node!r}", key)
    last = path[-1]
    if isinstance(node, list):
        node[_index(last, node, ".".join(path))] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"cannot set a key inside {node!r}", ".".join(path))


def _index(part: str, items: list, key: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError(f"no list item {part!r} (the list has {len(items)} items)", key)
    return int(part)


def read_yaml(path: str | Path) -> dict:
    """Safe-load a YAML mapping, raising :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config: {e.strerror}", source=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"invalid YAML{where}: {getattr(e, 'problem', e)}", source=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("a config file must hold a mapping", source=str(path))
    return data


def build_config(data: dict, overrides: list[str] = (), source: str = "") -> ExperimentConfig:
    """Validate ``data`` (after applying ``key=value`` overrides) into an :class:`ExperimentConfig`."""
    import copy

    data = copy.deepcopy(data)
    try:
        for text in overrides:
            path, value = parse_override(text)
            apply_override(data, path, value)
        return parse_dataclass(ExperimentConfig, data)
    except ConfigError as e:
        raise e.located(source) from None


def load_config(path: str | Path, overrides: list[str] = ()) -> ExperimentConfig:
    """Read, override and validate the experiment config at ``path``."""
    return build_config(read_yaml(path), list(overrides), source=str(path))

"""Registries of config kinds: which dataclass parses a ``model:`` or a stage of a ``train:`` list.

A model or stage module defines its config as a class with a
``kind: Literal["name"]`` field and decorates it with :func:`model_config` or
:func:`stage_config`; importing the module registers the kind. A model kind's
module also calls :func:`register_model` once with everything else about the
kind (how it is built or fitted, its parameter count, its restorer and data
checks): :data:`MODEL_KINDS` holds one :class:`ModelKind` per kind. The experiment
schema (:mod:`precision_jax.experiment`) imports the approximator and stage
packages, so by the time a config is parsed every kind is known; the
registries themselves depend on nothing but the parsing engine, so the
modules that fill them never import the schema.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from precision_jax.config.auto_budget import parse_auto
from precision_jax.config.engine import ConfigError, join_key, parse_dataclass, parsed_field

MODEL_KINDS: dict[str, "ModelKind"] = {}  # kind -> ModelKind, filled by register_model
# kind -> stage config class, filled by stage_config. The class is the whole kind: its fields the schema, its
# methods (engine.stages.base.StageConfig) the stage it builds and the kind's other facts.
STAGE_KINDS: dict[str, type] = {}


def _boost_moved(item: Mapping, key: str) -> str:
    if key.startswith("boost."):
        return "boosting rounds do not nest: raise boost.rounds instead"
    stages = item.get("stages")
    rounds = f"; here rounds: {stages - 1}" if isinstance(stages, int) and not isinstance(stages, bool) else ""
    return ("boosting is no longer a stage: move this item to the top-level `boost:` section "
            f"(boost: {{rounds, normalize, model, train}}, rounds = stages − 1{rounds})")


# Stage kinds that configs used to accept: kind -> message(item, key of the list) saying where it went.
RETIRED_STAGE_KINDS: dict[str, Callable[[Mapping, str], str]] = {"boost": _boost_moved}


def _register(registry: dict[str, type], kind: str, cls: type, what: str) -> type:
    known = registry.get(kind)
    # The same class defined again (a module reloaded) replaces itself; a second class for a kind is a bug.
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"{what} kind {kind!r} is registered twice: {known.__module__}.{known.__qualname__} "
                         f"and {cls.__module__}.{cls.__qualname__}")
    registry[kind] = cls
    return cls


@dataclass(frozen=True)
class ModelKind:
    """Everything kind-specific about a model kind: one entry of :data:`MODEL_KINDS`, made by :func:`register_model`.

    A kind is *trainable* (``build``) or *fitted* (``fit``, ``restore``), never both:

    * ``config`` -- the dataclass ``model: {kind: <kind>, ...}`` parses into.
    * ``build(cfg, d, variables)`` -- the flat-θ ``TrainableModel`` an optimizer chain trains.
    * ``parameter_count(cfg, d)`` -- a trainable kind's N from its shape alone, without initialising it.
    * ``fit(cfg, target, dataset)`` -- an interpolant of a sampled target (raw inputs): an object with
      ``n_params``, ``n_train``, ``description``, ``state()`` and ``predict(x) -> (n,)``.
    * ``fit_rows(cfg, target, dataset)`` -- the same from a data file's rows, where that differs (default ``fit``).
    * ``restore(cfg, arrays)`` -- the interpolant whose ``state()`` is ``arrays``, without refitting.
    * ``check_rows(cfg, target, n_train, source)`` -- refuse, before anything is drawn, a data file this kind
      cannot fit with ``n_train`` training rows (``source`` says where the rows come from, for messages).
    """

    config: type
    build: Optional[Callable] = None
    parameter_count: Optional[Callable] = None
    fit: Optional[Callable] = None
    fit_rows: Optional[Callable] = None
    restore: Optional[Callable] = None
    check_rows: Optional[Callable] = None

    @property
    def kind(self) -> str:
        return kind_of(self.config)

    @property
    def trainable(self) -> bool:
        return self.build is not None

    def __post_init__(self):
        if (self.build is None) == (self.fit is None):
            raise TypeError(f"model kind {self.kind!r} needs exactly one of build (trainable) or fit (fitted)")
        if self.fit is not None and self.restore is None:
            raise TypeError(f"fitted model kind {self.kind!r} needs restore (its state() read back)")
        if self.build is not None and (self.fit_rows or self.restore or self.parameter_count is None):
            raise TypeError(f"trainable model kind {self.kind!r} takes build and parameter_count, not fitters")


def register_model(config: type, **facts: Callable) -> ModelKind:
    """Register model kind ``config.kind``: its config class and facts (the fields of :class:`ModelKind`).

    One call per kind, in the kind's own module; the order of the calls is the order error messages and
    ``prec schema`` list the kinds in.
    """
    entry = ModelKind(config, **facts)
    known = MODEL_KINDS.get(entry.kind)
    # The same class defined again (a module reloaded) replaces itself; a second class for a kind is a bug.
    if known is not None and (known.config.__module__, known.config.__qualname__) != \
            (config.__module__, config.__qualname__):
        raise ValueError(f"model kind {entry.kind!r} is registered twice: {known.config.__module__}."
                         f"{known.config.__qualname__} and {config.__module__}.{config.__qualname__}")
    MODEL_KINDS[entry.kind] = entry
    return entry


def model_configs() -> dict[str, type]:
    """kind -> config class of every registered model kind, in registration order."""
    return {kind: entry.config for kind, entry in MODEL_KINDS.items()}


def register_stage(kind: str, cls: type) -> type:
    """Make ``{kind: <kind>, ...}`` in a ``train:`` list parse into dataclass ``cls``."""
    return _register(STAGE_KINDS, kind, cls, "stage")


def kind_of(cls: type) -> str:
    """The kind a config class declares with its ``kind: Literal["name"]`` field."""
    hint = typing.get_type_hints(cls).get("kind")
    if typing.get_origin(hint) is not typing.Literal or len(typing.get_args(hint)) != 1:
        raise TypeError(f"{cls.__qualname__} needs a field kind: Literal['<name>']")
    return typing.get_args(hint)[0]


def model_config(model_cls: type) -> type:
    """Decorator: make ``model_cls`` a frozen dataclass with a ``kind``; :func:`register_model` registers it."""
    cls = dataclass(frozen=True)(model_cls)
    kind_of(cls)
    return cls


def stage_config(stage_cls: type) -> type:
    """Decorator: make ``stage_cls`` a frozen dataclass and register it under its ``kind`` (the one registration
    of a stage kind)."""
    cls = dataclass(frozen=True)(stage_cls)
    return register_stage(kind_of(cls), cls)


# --------------------------------------------------------------------------- parsing by kind


def parse_kind(data: Any, key: str, registry: Mapping[str, type], what: str, default: str | None = None) -> Any:
    """Parse mapping ``data`` into the dataclass that ``registry`` holds for its ``kind`` (or ``default``)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping with a 'kind' key, got {data!r}", key)
    kind = data.get("kind", default)
    if not isinstance(kind, str) or kind not in registry:  # a list or mapping would not even hash
        close = difflib.get_close_matches(str(kind), list(registry), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown {what} kind {kind!r}{hint}; expected one of: {', '.join(registry)}",
                          join_key(key, "kind"))
    return parse_dataclass(registry[kind], {**data, "kind": kind}, key)


def parse_model(data: Any, key: str) -> Any:
    """A model config; ``kind`` defaults to ``mlp``."""
    return parse_kind(data, key, model_configs(), "model", "mlp")


def parse_optional_model(data: Any, key: str) -> Any:
    """A model config, or ``None`` where the config leaves it empty."""
    return None if data is None else parse_model(data, key)


def parse_stages(data: Any, key: str) -> tuple:
    """A ``train:`` list: a tuple of stage configs, in order."""
    if not isinstance(data, (list, tuple)):
        raise ConfigError(f"expected a list of stages, got {data!r}", key)
    stages = []
    for i, item in enumerate(data):
        item_key = f"{key}.{i}"
        kind = item.get("kind") if isinstance(item, Mapping) else None
        if isinstance(kind, str) and kind in RETIRED_STAGE_KINDS and kind not in STAGE_KINDS:
            raise ConfigError(RETIRED_STAGE_KINDS[kind](item, key), join_key(item_key, "kind"))
        stages.append(parse_kind(item, item_key, STAGE_KINDS, "stage"))
    return tuple(stages)


def model_field(default=dataclasses.MISSING, *, doc: str = "", optional: bool = False, allow_auto: bool = False):
    """A dataclass field holding a model config, parsed by its ``kind`` (``optional``: null allowed;
    ``allow_auto``: or the word :data:`MODEL_AUTO`, kept as that string)."""
    if allow_auto:
        return parsed_field(_parse_model_or_auto, default, type="model | 'auto'", doc=doc)
    parse = parse_optional_model if optional else parse_model
    return parsed_field(parse, default, type="model | null" if optional else "model", doc=doc)


MODEL_AUTO = "auto"  # model: auto -- the run probes the candidate kinds and fits the winner (runs/auto_model.py)
MODEL_AUTO_VERSION = 2  # of runs/auto_model.py's probing rule: part of a model: auto run's id (runs/store.py)


def _parse_model_or_auto(data: Any, key: str):
    if data == MODEL_AUTO:
        return MODEL_AUTO
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping with a 'kind' key or 'auto', got {data!r}", key)
    return parse_model(data, key)


def stages_field(default=(), *, doc: str = "", allow_auto: bool = False):
    """A dataclass field holding a ``train:`` list of stage configs (``allow_auto``: or the word ``auto``)."""
    if not allow_auto:
        return parsed_field(parse_stages, default, type="list[stage]", doc=doc)
    return parsed_field(_parse_stages_or_auto, default, type="list[stage] | 'auto' | {auto: {budget, goal}}", doc=doc)


def _parse_stages_or_auto(data: Any, key: str):
    if data == "auto":
        return "auto"
    if isinstance(data, Mapping) and "auto" in data:
        return parse_auto(data, key)
    if not isinstance(data, (list, tuple)):
        raise ConfigError(f"expected a list of stages or 'auto', got {data!r}", key)
    return parse_stages(data, key)

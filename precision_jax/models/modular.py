"""Modular networks: small MLP modules wired as a formula's computation graph.

A modular net is a directed acyclic graph of modules ``m_1, ..., m_K``. Module
``m_k`` is a dense MLP (:mod:`precision_jax.models.mlp`) with
``depth_k`` linear layers, hidden width ``width_k`` and one scalar output; its
inputs are target variables and/or outputs of other modules:

    h_k(x) = MLP_k([u_{k,1}(x), ..., u_{k,a_k}(x)]),   u ∈ {x_j} ∪ {h_m : m ≠ k},

and the network's prediction is ``h_out(x)`` for the unique module that no
other module consumes. Evaluating the modules in a topological order makes
every input available when it is needed. The parameter vector θ concatenates
every module's (W, b) pairs, so

    N = Σ_k parameter_count((a_k, width_k, ..., width_k, 1)).

For I.8.14, d = √((x2−x1)² + (y2−y1)²), the paper's graph is
A(x1, x2), B(y1, y2) → C(A, B): each module has arity 2, so the net only ever
has to approximate functions of two variables, whereas a dense net sees all
four at once.

YAML (under ``model:``)::

    kind: modular
    activation: relu
    modules:
      - {name: A, inputs: [x1, x2], depth: 3, width: 8}
      - {name: B, inputs: [y1, y2], depth: 3, width: 8}
      - {name: C, inputs: [A, B],   depth: 3, width: 16}

Whether an input name that is not a module is a variable of the target can
only be checked when the target is known, so :func:`build_modular` does that
check; everything else (duplicates, cycles, exactly one output) is checked
when the config is parsed. Both raise :class:`ConfigError` naming the key,
e.g. ``model.modules.2.inputs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Sequence

import jax
import jax.numpy as jnp

from precision_jax.config.engine import ConfigError, checked, positive
from precision_jax.config.kinds import model_config, register_model
from precision_jax.models import mlp
from precision_jax.models.trainable import TrainableModel, flat_model

MODEL_KEY = "model"  # where a modular config sits in an experiment file, for build-time errors


@dataclass(frozen=True)
class ModuleConfig:
    """One module: a dense MLP from its ``inputs`` (variables or modules) to one scalar."""

    name: str = checked(doc="the module's name, which other modules list as an input")
    inputs: tuple[str, ...] = checked(doc="target variables and/or module names, in the order the MLP reads them")
    depth: int = checked(check=positive, doc="linear layers; 1 = an affine map")
    width: int = checked(check=positive, doc="hidden width")

    def __post_init__(self):
        if not self.name.strip():
            raise ConfigError("a module needs a non-empty name", "name")
        if not self.inputs:
            raise ConfigError(f"module {self.name!r} has no inputs; give variables or modules", "inputs")
        seen = set()
        for item in self.inputs:
            if item in seen:
                raise ConfigError(f"module {self.name!r} lists input {item!r} twice", "inputs")
            seen.add(item)

    def widths(self) -> tuple[int, ...]:
        """Layer widths ``(arity, width, ..., width, 1)`` of this module's MLP."""
        return mlp.layer_widths(len(self.inputs), self.depth, self.width)


@model_config
class ModularConfig:
    """A graph of MLP modules; the output is the one module that no other module consumes."""

    kind: Literal["modular"] = checked("modular", doc="MLP modules wired as a computation graph")
    modules: tuple[ModuleConfig, ...] = checked((), doc="the graph's modules; exactly one is read by no other")
    activation: str = checked("tanh", doc=mlp.ACTIVATION_DOC)
    init_seed: Optional[int] = checked(None, doc="initialisation seed; null: derived from the run's seed")

    def __post_init__(self):
        mlp.check_activation(self.activation, "activation")
        if not self.modules:
            raise ConfigError("give at least one module", "modules")
        index: dict[str, int] = {}
        for k, module in enumerate(self.modules):
            if module.name in index:
                raise ConfigError(f"duplicate module name {module.name!r} (also module {index[module.name]})",
                                  f"modules.{k}.name")
            index[module.name] = k
        self.topological_order()  # raises on a cycle
        outputs = self.output_candidates()
        if len(outputs) != 1:
            names = ", ".join(self.modules[k].name for k in outputs)
            raise ConfigError("the module graph must end in exactly one output (a module no other module "
                              f"uses); these are used by none: {names}", "modules")

    def module_index(self) -> dict[str, int]:
        return {m.name: k for k, m in enumerate(self.modules)}

    def output_candidates(self) -> list[int]:
        """Indices of the modules that no module takes as an input."""
        used = {name for m in self.modules for name in m.inputs}
        return [k for k, m in enumerate(self.modules) if m.name not in used]

    def output_index(self) -> int:
        return self.output_candidates()[0]

    def topological_order(self) -> list[int]:
        """Module indices so that each module comes after the modules it reads (depth-first).

        Raises :class:`ConfigError` at ``modules.K.inputs`` for a module ``K``
        on a cycle, naming the cycle.
        """
        index = self.module_index()
        state = [0] * len(self.modules)  # 0 unvisited, 1 on the current path, 2 done
        order: list[int] = []
        path: list[int] = []

        def visit(k: int) -> None:
            state[k] = 1
            path.append(k)
            for name in self.modules[k].inputs:
                j = index.get(name)
                if j is None:
                    continue  # a variable, checked against the target at build time
                if state[j] == 1:
                    cycle = [self.modules[i].name for i in path[path.index(j):]] + [name]
                    raise ConfigError(f"the module graph has a cycle: {' -> '.join(reversed(cycle))}",
                                      f"modules.{k}.inputs")
                if state[j] == 0:
                    visit(j)
            path.pop()
            state[k] = 2
            order.append(k)

        for k in range(len(self.modules)):
            if state[k] == 0:
                visit(k)
        return order

    def parameter_count(self) -> int:
        return sum(mlp.parameter_count(m.widths()) for m in self.modules)


def check_inputs(cfg: ModularConfig, variables: Sequence[str], key: str = MODEL_KEY) -> None:
    """Every module input must be a target variable or a module; every variable must be read.

    Raises :class:`ConfigError` at ``{key}.modules.K.inputs`` (or ``.name`` for a
    module named like a variable, ``.modules`` for an unused variable).
    """
    modules = cfg.module_index()
    variables = list(variables)
    for k, module in enumerate(cfg.modules):
        if module.name in variables:
            raise ConfigError(f"module name {module.name!r} is also a variable of the target; rename the module",
                              f"{key}.modules.{k}.name")
        for name in module.inputs:
            if name not in modules and name not in variables:
                raise ConfigError(f"unknown input {name!r}: neither a module nor a variable of the target "
                                  f"(variables: {', '.join(variables)})", f"{key}.modules.{k}.inputs")
    used = {name for m in cfg.modules for name in m.inputs}
    unused = [v for v in variables if v not in used]
    if unused:
        # A variable no module reads makes the net constant along it: almost surely a typo.
        raise ConfigError(f"no module reads variable(s) {', '.join(unused)}", f"{key}.modules")


def init_modular(key: jax.Array, cfg: ModularConfig) -> tuple:
    """Parameters: a tuple (in config order) of each module's ``[(W, b), ...]``, PyTorch-style init."""
    keys = jax.random.split(key, len(cfg.modules))
    return tuple(mlp.init_mlp(k, m.widths()) for k, m in zip(keys, cfg.modules))


def modular_apply(params: tuple, x: jax.Array, cfg: ModularConfig, variables: Sequence[str]) -> jax.Array:
    """Evaluate the graph on ``x`` of shape ``(n, d)`` (columns in ``variables`` order); returns ``(n,)``."""
    column = {name: j for j, name in enumerate(variables)}
    values: dict[str, jax.Array] = {}
    for k in cfg.topological_order():
        module = cfg.modules[k]
        inputs = jnp.stack([values[name] if name in values else x[:, column[name]] for name in module.inputs],
                           axis=1)
        values[module.name] = mlp.mlp_apply(params[k], inputs, cfg.activation)
    return values[cfg.modules[cfg.output_index()].name]


def build_modular(cfg: ModularConfig, d: int, variables: Optional[Sequence[str]] = None) -> TrainableModel:
    """The modular net for a target with input names ``variables`` (length ``d``), as a flat-θ model."""
    if variables is None:
        raise ConfigError("a modular model needs the target's variable names to wire its inputs", MODEL_KEY)
    variables = tuple(variables)
    if len(variables) != d:
        raise ValueError(f"got {len(variables)} variable names for d = {d} inputs")
    check_inputs(cfg, variables)
    graph = ", ".join(f"{m.name}({','.join(m.inputs)}) {'-'.join(map(str, m.widths()[1:-1])) or 'affine'}"
                      for m in cfg.modules)
    model = flat_model(lambda key: init_modular(key, cfg),
                       lambda params, x: modular_apply(params, x, cfg, variables),
                       f"modular [{graph}] {cfg.activation}")
    assert model.n_params == cfg.parameter_count()
    return model


register_model(ModularConfig, build=build_modular, parameter_count=lambda cfg, d: cfg.parameter_count())

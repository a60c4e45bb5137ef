"""Dense multilayer perceptrons as pure functions over a list of (W, b) pairs.

A network with layer widths ``(w_0, w_1, ..., w_L)`` (``w_0 = d`` inputs,
``w_L = 1`` output) has ``L`` linear layers -- the paper's "depth" -- and

    f(x) = A_L ∘ σ ∘ A_{L-1} ∘ ... ∘ σ ∘ A_1 (x),     A_l(h) = h W_l + b_l,

with ``W_l`` of shape ``(w_{l-1}, w_l)`` and ``b_l`` of shape ``(w_l,)``.
Its parameter count is ``N = Σ_l (w_{l-1} + 1) w_l``; for equal hidden
widths ``w`` this is the paper's ``(d+1)w + (depth-2)(w²+w) + (w+1)``.

Initialisation follows PyTorch's ``nn.Linear`` default, which the paper used:
every weight and bias of layer ``l`` is drawn from ``U(-1/√w_{l-1}, 1/√w_{l-1})``.

The config of an MLP approximator, ``model: {kind: mlp, ...}``, is :class:`MLPConfig`.
"""

from __future__ import annotations

from typing import Callable, Literal, Optional, Sequence

import jax
import jax.numpy as jnp

from precision_jax.parse import ConfigError, checked, positive
from precision_jax.registry import model_config

Params = list[tuple[jax.Array, jax.Array]]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "silu": jax.nn.silu,
    "relu2": lambda z: jax.nn.relu(z) ** 2,
    "relu3": lambda z: jax.nn.relu(z) ** 3,
}


def check_activation(name: str, key: str) -> None:
    """Raise :class:`ConfigError` at ``key`` unless ``name`` is in :data:`ACTIVATIONS`."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}", key)


ACTIVATION_DOC = "hidden-layer nonlinearity: " + ", ".join(ACTIVATIONS)


@model_config
class MLPConfig:
    """Dense MLP: give ``depth`` and ``width``, or explicit hidden ``widths``."""

    kind: Literal["mlp"] = checked("mlp", doc="a dense network")
    depth: Optional[int] = checked(None, positive, doc="linear layers (the paper's depth); with width")
    width: Optional[int] = checked(None, positive, doc="hidden width of every hidden layer; with depth")
    widths: Optional[tuple[int, ...]] = checked(None, doc="explicit hidden widths, instead of depth and width")
    activation: str = checked("tanh", doc=ACTIVATION_DOC)
    init_seed: Optional[int] = checked(None, doc="initialisation seed; null: derived from the run's seed")

    def __post_init__(self):
        check_activation(self.activation, "activation")
        if self.widths is not None:
            if self.depth is not None or self.width is not None:
                raise ConfigError("give either widths or depth and width, not both", "widths")
            if not all(w > 0 for w in self.widths):
                raise ConfigError("widths must be positive", "widths")
        elif self.depth is None or self.width is None:
            raise ConfigError("give depth and width (or widths)", "depth" if self.depth is None else "width")

    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(self.widths) if self.widths is not None else (self.width,) * (self.depth - 1)


def layer_widths(d_in: int, depth: int, width: int, d_out: int = 1) -> tuple[int, ...]:
    """Widths ``(d_in, width, ..., width, d_out)`` of a net with ``depth`` linear layers."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    return (d_in,) + (width,) * (depth - 1) + (d_out,)


def parameter_count(widths: Sequence[int]) -> int:
    """``N = Σ_l (w_{l-1} + 1) w_l`` for layer widths ``widths``."""
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def init_mlp(key: jax.Array, widths: Sequence[int]) -> Params:
    """Draw parameters with PyTorch's default ``U(±1/√fan_in)`` for weights and biases.

    Parameters
    ----------
    key : PRNG key.
    widths : layer widths ``(d_in, ..., d_out)``, at least two entries.

    Returns
    -------
    list of ``(W, b)``, ``W`` of shape ``(fan_in, fan_out)``, float64.
    """
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / jnp.sqrt(fan_in)
        w = jax.random.uniform(kw, (fan_in, fan_out), jnp.float64, -bound, bound)
        b = jax.random.uniform(kb, (fan_out,), jnp.float64, -bound, bound)
        params.append((w, b))
    return params


def mlp_apply(params: Params, x: jax.Array, activation: str = "tanh") -> jax.Array:
    """Evaluate the network on ``x`` of shape ``(n, d_in)``; returns shape ``(n,)`` for one output.

    With more than one output the result has shape ``(n, d_out)``.
    """
    sigma = ACTIVATIONS[activation]
    h = x
    for w, b in params[:-1]:
        h = sigma(h @ w + b)
    w, b = params[-1]
    out = h @ w + b
    return out[:, 0] if out.shape[-1] == 1 else out

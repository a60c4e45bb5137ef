"""Dense multilayer perceptrons as pure functions over a list of (W, b) pairs.

A network with layer widths ``(w_0, w_1, ..., w_L)`` (``w_0 = d`` inputs,
``w_L = 1`` output) has ``L`` linear layers -- the paper's "depth" -- and

    f(x) = A_L ∘ σ ∘ A_{L-1} ∘ ... ∘ σ ∘ A_1 (x),     A_l(h) = h W_l + b_l,

with ``W_l`` of shape ``(w_{l-1}, w_l)`` and ``b_l`` of shape ``(w_l,)``.
Its parameter count is ``N = Σ_l (w_{l-1} + 1) w_l``; for equal hidden
widths ``w`` this is the paper's ``(d+1)w + (depth-2)(w²+w) + (w+1)``.

Initialisation follows PyTorch's ``nn.Linear`` default, which the paper used:
every weight and bias of layer ``l`` is drawn from ``U(-1/√w_{l-1}, 1/√w_{l-1})``.

Teacher targets (:mod:`precision_jax.problems.targets`) and the ``mlp`` and
``modular`` models (:mod:`precision_jax.models`) share this one forward pass.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from precision_jax.config.engine import ConfigError

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

"""A fitted model as a plain function of raw inputs: F(x) = Σ_k c_k · f_k((x − shift) / scale).

A run's fitted model is a list of *parts* (one unless the run boosted), each a
model config, its arrays and a coefficient, plus the input standardization
the run trained under (``shift``/``scale``, or none). :class:`FittedModel`
rebuilds every part once and evaluates the sum on raw, unstandardized inputs,
so a reloaded model answers for the target's own variables:

* a trainable part (``mlp``, ``modular``, …) is ``build_model(cfg, d, variables).apply(θ, z)``
  with θ = ``arrays["theta"]``, jitted once per part;
* an interpolant part (``simplex``, ``spline``, ``chebyshev``) is the interpolant
  ``models.restore(cfg, arrays)`` rebuilt from its ``state()``.

Parts are duck-typed (``.model``, ``.arrays``, ``.coefficient``), so this
module needs nothing from the store that saves them.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax import models


class FittedModel:
    """``model(x)`` with x of shape ``(n, d)`` in the target's raw variables → ``(n,)`` float64 numpy.

    Attributes
    ----------
    parts : tuple -- the parts as given (``.model``, ``.arrays``, ``.coefficient``).
    models : tuple -- per part, its :class:`~precision_jax.models.TrainableModel` or interpolant.
    coefficients : tuple[float, ...] -- c_k.
    input_shift, input_scale : ndarray (d,) or None -- z = (x − shift) / scale; None: z = x.
    d : int; variables : tuple[str, ...]; n_params : int -- Σ_k N_k over the parts.
    """

    def __init__(self, parts: Sequence[Any], input_shift: Optional[np.ndarray], input_scale: Optional[np.ndarray],
                 target: Any):
        if not parts:
            raise ValueError("a fitted model needs at least one part")
        self.d = int(target.d)
        self.variables = tuple(getattr(target, "variables", ()) or ())
        if (input_shift is None) != (input_scale is None):
            raise ValueError("input_shift and input_scale come together (both or neither)")
        self.input_shift = None if input_shift is None else self._vector(input_shift, "input_shift")
        self.input_scale = None if input_scale is None else self._vector(input_scale, "input_scale")
        self.parts = tuple(parts)
        self.coefficients = tuple(float(p.coefficient) for p in self.parts)
        built = [self._build(k, p) for k, p in enumerate(self.parts)]
        self.models = tuple(model for model, _, _ in built)
        self._functions: tuple[Callable[[np.ndarray], np.ndarray], ...] = tuple(f for _, f, _ in built)
        self.n_params = int(sum(n for _, _, n in built))

    def _vector(self, value, name: str) -> np.ndarray:
        value = np.asarray(value, np.float64)
        if value.shape != (self.d,):
            raise ValueError(f"{name} must have shape ({self.d},), got {value.shape}")
        return value

    def _build(self, index: int, part) -> tuple[Any, Callable[[np.ndarray], np.ndarray], int]:
        kind = part.model.kind
        if models.is_interpolant(kind):
            interpolant = models.restore(part.model, part.arrays)
            return interpolant, lambda z: np.asarray(interpolant.predict(z), np.float64), int(interpolant.n_params)
        if not models.is_trainable(kind):
            raise ValueError(f"part {index}: unknown model kind {kind!r}")
        if "theta" not in part.arrays:
            raise ValueError(f"part {index} ({kind}) has no parameters 'theta'")
        model = models.build_model(part.model, self.d, self.variables or None)
        theta = jnp.asarray(np.asarray(part.arrays["theta"], np.float64))
        if theta.shape != (model.n_params,):
            raise ValueError(f"part {index}: theta has shape {tuple(theta.shape)}, the {model.description} "
                             f"model has {model.n_params} parameters")
        apply = jax.jit(model.apply)
        return model, lambda z: np.asarray(apply(theta, jnp.asarray(z, jnp.float64)), np.float64), model.n_params

    def standardize(self, x) -> np.ndarray:
        """Raw inputs ``(n, d)`` → the space the parts were fitted in (the identity without standardization)."""
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}), got {x.shape}")
        if self.input_shift is None:
            return x
        # The same jax expression as data.make_dataset, so z equals the training inputs bit for bit: XLA on CPU
        # divides by multiplying with the reciprocal, which differs from numpy's division in the last bit.
        return np.asarray((jnp.asarray(x) - self.input_shift) / self.input_scale, np.float64)

    def predict_standardized(self, z, parts: Optional[int] = None) -> np.ndarray:
        """Σ_{k < parts} c_k f_k(z) on standardized inputs (all parts by default)."""
        z = np.asarray(z, np.float64)
        count = len(self.parts) if parts is None else int(parts)
        if count < 1:
            return np.zeros(z.shape[0])
        out = self.coefficients[0] * self._functions[0](z)
        for c, f in zip(self.coefficients[1:count], self._functions[1:count]):
            out = out + c * f(z)
        return out

    def __call__(self, x) -> np.ndarray:
        return self.predict_standardized(self.standardize(x))

    predict = __call__

    def __repr__(self) -> str:
        kinds = "+".join(p.model.kind for p in self.parts)
        return f"FittedModel({kinds}, d={self.d}, N={self.n_params}, standardized={self.input_shift is not None})"

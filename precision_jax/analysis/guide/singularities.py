"""Smoothness of a target on its box: the kinks, jumps, poles and branch points of a formula.

``abs`` (and sign, min, max, floor, ceiling, mod, Heaviside, Piecewise, should the grammar ever grow them) is a
kink or a jump: ``abs(u)`` counts as not smooth when u changes sign on the box. Poles and branch points —
``u**(−k)``, ``u**(p/q)``, ``sqrt``, ``log`` at u = 0, ``arcsin``/``arccos``/``arctanh`` at |u| = 1, ``arccosh``
at 1, ``tan`` where cos u = 0 — are located by evaluating u and its gradient at the sample points and the box's
corners (:func:`box_points`). With s(u) the signed distance of u to the singular value, the distance in x is
linearized as

    dist(x) ≈ |s(u(x))| / (|s'(u)| · |∇u(x)|),

each coordinate measured in widths of the box. A sign change of s: the singularity is inside the box and the
target is not smooth (or not finite). Within :data:`NEAR_SINGULAR` (5 %) of a box width: smooth in the
interior, but its derivatives grow near that edge (splines and Chebyshev converge more slowly there). A singular
set touched but not crossed (√(x² + y²) at the origin) counts as inside when the points closest to it lie at
least :data:`INTERIOR_DEPTH` deep inside the box. Measuring in x, not in u, matters: 1/(eᵘ + e⁻ᵘ) has u-values
far from its pole however small they get relative to their range.

A teacher net is smooth when its activation is analytic (:func:`activation_smoothness`); a data file's
smoothness is :data:`UNKNOWN`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sympy

from precision_jax.problems.formula import compile_formula

__all__ = ["SMOOTH", "EDGE", "NOT_SMOOTH", "UNKNOWN", "SCALE_SAMPLES", "Smoothness", "box_points", "smoothness",
           "activation_smoothness"]

SMOOTH, EDGE, NOT_SMOOTH, UNKNOWN = "smooth", "smooth in the interior", "not smooth", "unknown"
SMOOTH_ACTIVATIONS = ("tanh", "sigmoid", "softplus", "silu")
SCALE_SAMPLES = 10_000                 # seeded points for the output scale and the singularity search
NEAR_SINGULAR = 0.05                   # a singularity this close to the box (in box widths) is "near"
INTERIOR_DEPTH = 0.1                   # ... and inside it when the points closest to it lie this deep in the box

_ALWAYS_ROUGH = ("sign", "Heaviside", "floor", "ceiling", "Mod", "Piecewise", "frac", "Min", "Max")


@dataclass(frozen=True)
class Smoothness:
    """``verdict``: smooth | smooth in the interior | not smooth | unknown; ``notes``: where and why."""

    verdict: str
    notes: tuple[str, ...] = ()

    @property
    def smooth(self) -> bool:
        return self.verdict in (SMOOTH, EDGE)


def activation_smoothness(activation: str) -> Smoothness:
    """A teacher net is sums, products and its activation: as smooth as the activation."""
    if activation in SMOOTH_ACTIVATIONS:
        return Smoothness(SMOOTH, (f"{activation} is analytic",))
    return Smoothness(NOT_SMOOTH, (f"{activation} has a kink (or a kink in a derivative)",))


def box_points(lows, highs, n: int = SCALE_SAMPLES, seed: int = 0) -> np.ndarray:
    """``n`` seeded uniform points, the centre and (d ≤ 12) the corners of the box."""
    lows, highs = np.asarray(lows, np.float64), np.asarray(highs, np.float64)
    d = lows.size
    unit = [np.random.default_rng(seed).random((n, d)), np.full((1, d), 0.5)]
    if d <= 12:
        unit.append(np.array(np.meshgrid(*[[0.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T)
    return lows + np.concatenate(unit) * (highs - lows)


def smoothness(expr, variables: Sequence[str], lows, highs) -> Smoothness:
    """Kinks, jumps, poles and branch points of ``expr`` on the box (module docstring)."""
    points = box_points(lows, highs)
    lo, hi = np.asarray(lows, np.float64), np.asarray(highs, np.float64)
    # How deep inside the box each point lies: 0 on a face, 0.5 at the centre.
    depth = np.min(np.minimum(points - lo, hi - points) / (hi - lo), axis=1)
    rough: list[str] = []
    edge: list[str] = []

    widths = hi - lo

    def values_and_gradients(u) -> tuple[np.ndarray, np.ndarray]:
        """u at the points and its gradient in box units (∂u/∂x_j · width_j)."""
        fn = compile_formula(u, variables)
        with np.errstate(all="ignore"):
            v = np.asarray(fn(points), np.float64)
            g = np.asarray(jax.vmap(jax.grad(lambda row: fn(row[None, :])[0]))(jnp.asarray(points)), np.float64)
        return v, g * widths


    def check(node, u, singular: Callable, slope: Callable, what: str) -> None:
        """``singular(v)``: signed distance of u's values v to the singular set (a sign change: it is crossed);
        ``slope(v)``: its derivative in v. The distance in x is linearized, |s| / (|s'| · |∇u|), in box units."""
        v, g = values_and_gradients(u)
        ok = np.isfinite(v) & np.isfinite(g).all(axis=1)
        if not ok.any():
            return
        s, at = singular(v[ok]), depth[ok]
        with np.errstate(all="ignore"):
            rate = np.abs(slope(v[ok])) * np.linalg.norm(g[ok], axis=1)
            distance = np.where(s == 0, 0.0, np.abs(s) / rate)
        # Linearizing is meaningful where s is small; where it is large it measures s's growth rate
        # (e^u + e^-u is far from 0 however steep it is), so only the closer half of the points count.
        distance = np.where(np.isnan(distance) | (np.abs(s) > np.median(np.abs(s))), np.inf, distance)
        if np.any(s < 0) and np.any(s > 0):
            rough.append(f"{node}: {what} inside the box")
            return
        closest = float(np.min(distance))
        if closest > NEAR_SINGULAR:
            return
        # Touched, not crossed (sqrt(x² + y²) at the origin): inside if the closest points lie inside the box.
        nearest = np.argsort(distance)[:20]
        if float(np.median(at[nearest])) > INTERIOR_DEPTH:
            rough.append(f"{node}: {what} inside the box")
        elif what != "kink":  # a kink on the box's boundary is invisible from inside
            where = "on the box's edge" if closest <= 1e-9 else f"{closest:.2g} of the box's width from it"
            edge.append(f"{node}: {what} {where}")

    def zero(v):
        return v

    def one(v):
        return np.ones_like(v)

    for node in sympy.preorder_traversal(expr):
        if not node.free_symbols or node.is_Symbol:
            continue
        name = type(node).__name__
        if name in _ALWAYS_ROUGH:
            rough.append(f"{node}: {name} is not smooth")
        elif isinstance(node, sympy.Abs):
            check(node, node.args[0], zero, one, "kink")
        elif isinstance(node, sympy.Pow):
            base, exponent = node.args
            if not base.free_symbols:
                continue
            if exponent.is_Integer and exponent >= 0:
                continue
            kind = "pole" if exponent.is_number and exponent < 0 else "branch point"
            check(node, base, zero, one, f"{kind} at {base} = 0")
        elif isinstance(node, sympy.log):
            check(node, node.args[0], zero, one, f"log singularity at {node.args[0]} = 0")
        elif isinstance(node, (sympy.asin, sympy.acos, sympy.atanh)):
            check(node, node.args[0], lambda v: 1.0 - np.abs(v), np.sign, f"branch point at |{node.args[0]}| = 1")
        elif isinstance(node, sympy.acosh):
            check(node, node.args[0], lambda v: v - 1.0, one, f"branch point at {node.args[0]} = 1")
        elif isinstance(node, sympy.tan):
            check(node, node.args[0], np.cos, np.sin, f"pole where cos({node.args[0]}) = 0")
    if rough:
        return Smoothness(NOT_SMOOTH, tuple(dict.fromkeys(rough + edge)))
    if edge:
        return Smoothness(EDGE, tuple(dict.fromkeys(edge)))
    return Smoothness(SMOOTH, ("analytic on the box",))

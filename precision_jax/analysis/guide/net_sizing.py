"""Networks sized to a parameter count: the dense and modular model sections the guide writes and probes.

A dense net of depth L and width w on d inputs has layer widths (w_0, …, w_L) = (d, w, …, w, 1) and

    N = Σ_l (w_{l−1} + 1) w_l

parameters (:func:`precision_jax.numerics.dense_net.parameter_count`). A modular net wired as a module graph is
one such net per module, on that module's inputs; a linear module (a sum of module outputs) is a single layer,
depth 1 and width 1. N grows with w, so :func:`width_for` finds the width whose N is closest to a target by a
scan over widths.
"""

from __future__ import annotations

from typing import Callable, Sequence

from precision_jax.analysis.guide.graph import GraphModule
from precision_jax.numerics.dense_net import layer_widths, parameter_count

__all__ = ["dense_params", "modular_params", "modular_model", "width_for"]


def _module_shape(m: GraphModule, depth: int, width: int) -> tuple[int, int]:
    """(depth, width) of one module's net: a linear module is one layer."""
    return (1, 1) if m.linear else (depth, width)


def dense_params(d: int, width: int, depth: int = 3) -> int:
    return parameter_count(layer_widths(d, depth, width))


def modular_params(graph: Sequence[GraphModule], width: int, depth: int = 3) -> int:
    total = 0
    for m in graph:
        m_depth, m_width = _module_shape(m, depth, width)
        total += dense_params(len(m.inputs), m_width, m_depth)
    return total


def modular_model(graph: Sequence[GraphModule], activation: str, width: int, depth: int = 3) -> dict:
    """The ``model:`` section of a modular net wired as ``graph``."""
    modules = []
    for m in graph:
        m_depth, m_width = _module_shape(m, depth, width)
        modules.append({"name": m.name, "inputs": list(m.inputs), "depth": m_depth, "width": m_width})
    return {"kind": "modular", "activation": activation, "modules": modules}


def width_for(count: Callable[[int], int], n_target: int, low: int = 2, high: int = 512) -> int:
    """The width whose parameter count is closest to ``n_target``."""
    return min(range(low, high + 1), key=lambda w: abs(count(w) - n_target))

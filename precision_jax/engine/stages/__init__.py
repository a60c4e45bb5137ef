"""Optimizer stages, each one file implementing the protocol of :mod:`precision_jax.engine.stages.base`.

Importing this package registers every stage's config (``registry.STAGE_KINDS``)
and builder (``base.BUILDERS``); :mod:`precision_jax.engine.driver` runs them.
"""

from precision_jax.engine.stages import adam, heavy_ball, lcs, lm, quasi_newton  # noqa: F401  (registration)
from precision_jax.engine.stages.base import BUILDERS, CurvePoint, Problem, Stage, build_stage

__all__ = ["BUILDERS", "CurvePoint", "Problem", "Stage", "build_stage"]

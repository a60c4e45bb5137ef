"""Optimizer stages, each one file implementing the protocol of :mod:`precision_jax.engine.stages.base`.

A stage kind is its config class (:class:`~precision_jax.engine.stages.base.StageConfig`),
registered in the one registry :data:`STAGE_KINDS` (kind -> config class) when
its module is imported: importing this package registers every kind, and
:mod:`precision_jax.engine.driver` runs them.
"""

from precision_jax.config.kinds import STAGE_KINDS
from precision_jax.engine.stages import adam, heavy_ball, lcs, lm, quasi_newton  # noqa: F401  (registration)
from precision_jax.engine.stages.base import CurvePoint, Problem, Stage, StageConfig, build_stage

__all__ = ["STAGE_KINDS", "CurvePoint", "Problem", "Stage", "StageConfig", "build_stage"]

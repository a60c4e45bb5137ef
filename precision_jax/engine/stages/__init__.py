"""Optimizer stages, each one file implementing the protocol of :mod:`precision_jax.engine.stages.base`.

A stage kind is its config class (:class:`~precision_jax.engine.stages.base.StageConfig`),
registered in the one registry :data:`STAGE_KINDS` (kind -> config class) when
its module is imported. Importing this package imports every module in it, so
a new stage is one new file here (its test aside); :mod:`precision_jax.engine.driver`
runs them.
"""

import importlib
import pkgutil

from precision_jax.config.kinds import STAGE_KINDS
from precision_jax.engine.stages.base import CurvePoint, Problem, Stage, StageConfig, build_stage

# Alphabetical, so the registry's order (``prec schema``, error messages) does not depend on the file system.
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["STAGE_KINDS", "CurvePoint", "Problem", "Stage", "StageConfig", "build_stage"]

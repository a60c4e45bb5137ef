"""Optimizer stages, chained by :func:`precision_jax.training.train_chain`.

Each stage registers its config dataclass (``kind``) with
:mod:`precision_jax.config` and its runner here, in :data:`RUNNERS`:
``runner(cfg, problem, theta, monitor, log_every) -> StageResult``.
Third-party optimizer libraries (optax, jaxopt) stay behind this interface.
"""

from precision_jax.stages.adam import AdamConfig, run_adam
from precision_jax.stages.base import Monitor, Problem, StageResult
from precision_jax.stages.boost import BoostConfig
from precision_jax.stages.lcs import LCSConfig, run_lcs
from precision_jax.stages.lm import LMConfig, run_lm
from precision_jax.stages.quasi_newton import (BFGSConfig, LBFGSConfig, RescaleConfig, run_quasi_newton,
                                                   run_rescale)

RUNNERS = {
    "adam": run_adam,
    "bfgs": run_quasi_newton,
    "lbfgs": run_quasi_newton,
    "lcs": run_lcs,
    "lm": run_lm,
    "rescale": run_rescale,
}

__all__ = ["RUNNERS", "Monitor", "Problem", "StageResult", "AdamConfig", "BFGSConfig", "LBFGSConfig", "LCSConfig",
           "LMConfig", "BoostConfig", "RescaleConfig"]

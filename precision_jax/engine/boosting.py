"""Boosting after the main chain: the fitted model is F = f₀ + Σ_k c_k f_k.

Each round k fits a fresh model f_k to the training residual r_k = y − F_{k−1}
scaled to unit size, r_k / c_k, with its own optimizer chain; c_k is mean |r|
(the paper), the RMS or max |r|. Because r_k / c_k is O(1), the stages work at
their comfortable scale while F gains the orders of magnitude.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from precision_jax.config.engine import ConfigError, checked, positive
from precision_jax.config.kinds import model_field, stages_field


@dataclass(frozen=True, kw_only=True)  # kw_only: the required `train` comes last, as in the YAML
class BoostConfig:
    """Boosting after the main chain: fresh models fitted to the scaled residual, F = f_0 + Σ_k c_k f_k."""

    rounds: int = checked(1, positive, doc="boosting rounds after the main chain (a former `stages: K` is K − 1)")
    normalize: Literal["mean_abs", "rms", "max"] = checked(
        "mean_abs", doc="the residual's scale 1/c_k: mean |r| (the paper), its RMS or max |r|")
    model: Any = model_field(None, optional=True, doc="every round's model; null: the same as the main `model`")
    train: tuple[Any, ...] = stages_field(dataclasses.MISSING, doc="every round's optimizer chain (at least one stage)")

    def __post_init__(self):
        if not self.train:
            raise ConfigError("boosting needs each round's optimizer chain, e.g. train: [{kind: lm}]", "train")

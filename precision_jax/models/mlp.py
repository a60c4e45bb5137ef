"""The ``mlp`` model kind: a dense network of given depth and width, or explicit hidden widths.

The network itself (forward pass, PyTorch-default initialisation, parameter
count) is :mod:`precision_jax.numerics.dense_net`; this module holds its
config, ``model: {kind: mlp, ...}`` (:class:`MLPConfig`).
"""

from __future__ import annotations

from typing import Literal, Optional

from precision_jax.config.engine import ConfigError, checked, positive
from precision_jax.config.kinds import model_config
from precision_jax.numerics.dense_net import (ACTIVATIONS, Params, check_activation, init_mlp,  # noqa: F401
                                             layer_widths, mlp_apply, parameter_count)

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

"""The ``mlp`` model kind: a dense network of given depth and width, or explicit hidden widths.

The network itself (forward pass, PyTorch-default initialisation, parameter
count) is :mod:`precision_jax.numerics.dense_net`; this module holds its
config, ``model: {kind: mlp, ...}`` (:class:`MLPConfig`), and its flat-θ build,
with N = Σ_l (w_{l-1} + 1) w_l over the layer widths (d, hidden…, 1).
"""

from __future__ import annotations

from typing import Literal, Optional, Sequence

from precision_jax.config.engine import ConfigError, checked, positive
from precision_jax.config.kinds import model_config, register_model
from precision_jax.models.trainable import TrainableModel, flat_model
from precision_jax.numerics.dense_net import (  # noqa: F401
    ACTIVATIONS,
    Params,
    check_activation,
    init_mlp,
    layer_widths,
    mlp_apply,
    parameter_count,
)

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


def network_widths(cfg: MLPConfig, d: int) -> tuple[int, ...]:
    """Layer widths (d, hidden…, 1) of the network ``cfg`` describes on ``d`` inputs."""
    return (d,) + cfg.hidden_widths() + (1,)


def build_mlp(cfg: MLPConfig, d: int, variables: Optional[Sequence[str]] = None) -> TrainableModel:
    """The dense network on ``d`` inputs as a flat-θ model (a dense net reads its inputs by position)."""
    widths = network_widths(cfg, d)
    model = flat_model(lambda key: init_mlp(key, widths), lambda params, x: mlp_apply(params, x, cfg.activation),
                       f"mlp {'-'.join(map(str, widths))} {cfg.activation}")
    assert model.n_params == parameter_count(widths)
    return model


register_model(MLPConfig, build=build_mlp, parameter_count=lambda cfg, d: parameter_count(network_widths(cfg, d)))

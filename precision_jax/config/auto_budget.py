"""``train: {auto: {budget: 30m, goal: 1e-12}}``: the settings of a budgeted ``train: auto`` chain.

``train: auto`` is the word alone (the chain sized from d, D and N only);
the mapping form adds

- ``budget``: the wall time the chain may fill, a duration ``"90s"``, ``"30m"``,
  ``"1.5h"`` or a number of seconds; null: the fixed flop budget of ``train: auto``;
- ``goal``: a training RMSE (full training set, in the target's units) at which
  the chain stops early; null: no goal.

The budget is held in seconds, so ``to_dict`` writes it back as a number that
parses to the same value (a run's config.yaml reads ``budget: 1800.0``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from precision_jax.config.engine import ConfigError, join_key

AUTO = "auto"
UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh])\s*")
DURATION_RANGE = 'a duration > 0 such as "90s", "30m", "1h" (or a number of seconds)'
SETTINGS = ("budget", "goal")


def parse_duration(value: Any, key: str) -> float:
    """Seconds in ``value``: ``"90s"``, ``"30m"``, ``"1h"``, or a number of seconds; > 0 and finite."""
    if isinstance(value, bool):
        raise ConfigError(f"expected {DURATION_RANGE}, got {value!r}", key)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)) is not None:
        seconds = float(match.group(1)) * UNIT_SECONDS[match.group(2)]
    else:
        raise ConfigError(f"expected {DURATION_RANGE}, got {value!r}", key)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"expected {DURATION_RANGE}, got {value!r}", key)
    return seconds


def _parse_goal(value: Any, key: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, str):  # YAML reads 1e-12 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ConfigError(f"expected a training RMSE > 0 such as 1e-12 (or null), got {value!r}", key)
    return float(value)


@dataclass(frozen=True)
class AutoSettings:
    """What a budgeted ``train: auto`` may spend and where it may stop."""

    budget: Optional[float] = None  # seconds of wall time; None: the unbudgeted rule's fixed flop budget
    goal: Optional[float] = None  # training RMSE at which the chain stops; None: none


@dataclass(frozen=True)
class AutoTrain:
    """``train: {auto: {...}}``: its one field is named ``auto`` so that ``to_dict`` writes the same form back."""

    auto: AutoSettings


def parse_auto(data: Mapping, key: str) -> AutoTrain:
    """``{auto: {budget, goal}}`` (``key``: the ``train`` key) into :class:`AutoTrain`; one-line refusals."""
    if set(data) != {AUTO}:
        extra = sorted(str(k) for k in data if k != AUTO)
        raise ConfigError(f"a train mapping holds only `auto`, got {', '.join(extra)}", key)
    settings = data[AUTO]
    auto_key = join_key(key, AUTO)
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise ConfigError(f"expected a mapping with budget and goal, got {settings!r}", auto_key)
    unknown = sorted(str(k) for k in settings if k not in SETTINGS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; train.auto takes {', '.join(SETTINGS)}",
                          join_key(auto_key, unknown[0]))
    budget = settings.get("budget")
    return AutoTrain(AutoSettings(
        budget=None if budget is None else parse_duration(budget, join_key(auto_key, "budget")),
        goal=_parse_goal(settings.get("goal"), join_key(auto_key, "goal"))))


def is_auto(train: Any) -> bool:
    """Whether a parsed ``train`` value is ``auto``, bare or budgeted."""
    return train == AUTO or isinstance(train, AutoTrain)


def auto_settings(train: Any) -> AutoSettings:
    """The budget and goal of an auto ``train`` value (bare ``auto``: neither)."""
    return train.auto if isinstance(train, AutoTrain) else AutoSettings()

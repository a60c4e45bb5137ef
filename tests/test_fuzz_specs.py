"""Fuzzing the sweep and figure spec readers (issue 26, item 1): mutated shipped specs and random mappings.

``parse_sweep`` returns a spec whose every point expands into a valid config (``expand``), or refuses with
one line of :class:`ConfigError` naming the file; ``parse_figure`` returns a figure spec whose run sets give
sweep mappings (every profile) that ``parse_sweep`` accepts or refuses the same way. Nothing else is raised,
nothing hangs, nothing is written outside the example's temporary folder. Counts and commands:
:mod:`tests.fuzz_support`.
"""

from __future__ import annotations

import copy

import yaml
from hypothesis import strategies as st

from precision_jax.analysis.reproduce.spec import PROFILES, parse_figure
from precision_jax.config.engine import ConfigError
from precision_jax.experiment import ExperimentConfig
from precision_jax.runs.sweep import expand, parse_sweep
from tests.fuzz_support import KEYS, ROOT, VALUES, assert_one_line, fuzz_pair, mutated, sandbox

SWEEP_DIR = ROOT / "configs" / "sweeps"
FIGURE_DIR = ROOT / "configs" / "figures"


def _small(doc: dict) -> dict:
    """A shipped sweep with each axis cut to its first two values (expansion validates every point)."""
    doc = dict(doc)
    doc["grid"] = {k: v[:2] for k, v in (doc.get("grid") or {}).items()}
    return doc


SWEEPS = {p.stem: _small(yaml.safe_load(p.read_text())) for p in sorted(SWEEP_DIR.glob("*.yaml"))}
FIGURES = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(FIGURE_DIR.glob("*.yaml"))}
SWEEP_SOURCE = str(SWEEP_DIR / "fuzzed.yaml")
FIGURE_SOURCE = str(FIGURE_DIR / "fuzzed.yaml")

random_sweeps = st.dictionaries(
    st.one_of(st.sampled_from(["name", "base", "grid", "zip", "output", "description"]), KEYS),
    st.one_of(VALUES, st.sampled_from(["../quickstart.yaml", "../classical/simplex_I.30.5.yaml", "missing.yaml",
                                       "/dev/null", "/etc/passwd", "..", "."]),
              st.dictionaries(st.sampled_from(["seed", "model.width", "model.depth", "train.0.lr", "output.dir",
                                               "a..b", "target.equation", "data.train_points"]),
                              st.lists(VALUES, max_size=3), max_size=3)),
    max_size=6)


def check_sweep(doc) -> None:
    """A sweep mapping: every point a valid config, or one line naming the file."""
    with sandbox():
        try:
            spec = parse_sweep(doc, SWEEP_SOURCE, SWEEP_DIR)
            runs = expand(spec)
        except ConfigError as e:
            assert_one_line(e, SWEEP_SOURCE)
            return
        assert all(isinstance(run.config, ExperimentConfig) for run in runs)


def check_figure(doc) -> None:
    """A figure mapping: run sets whose sweeps parse under every profile, or one line naming the file or key."""
    with sandbox() as tmp:
        try:
            spec = parse_figure(doc, FIGURE_SOURCE, FIGURE_DIR)
        except ConfigError as e:
            assert_one_line(e, FIGURE_SOURCE)
            return
        assert spec.runs and spec.panels
        for name, run_set in spec.runs.items():
            for profile in PROFILES:
                try:
                    sweep = run_set.sweep_data(profile, spec.experiment(name), str(tmp))
                    parse_sweep(sweep, FIGURE_SOURCE, FIGURE_DIR)
                except ConfigError as e:
                    assert_one_line(e, FIGURE_SOURCE, e.key)


def _figure_1(path: str, value):
    """Figure 1's spec (linear regions; the regressions were found on it when it was numbered 3) with the value at
    dotted ``path`` replaced."""
    doc = copy.deepcopy(FIGURES["1"])
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return doc


# Examples the fuzzing found, kept as regressions. Figure specs that parse_figure accepted and sweep_data then
# crashed on (AttributeError, TypeError), or that crashed parse_figure itself (TypeError: unhashable type).
SWEEP_REGRESSIONS: list = []
FIGURE_REGRESSIONS = [
    _figure_1("runs.cos_raw.profiles.smoke", {"set": [1]}),
    _figure_1("runs.cos_raw.profiles.smoke", {"set": {1: 2}}),
    _figure_1("runs.cos_raw.profiles.smoke", {"grid": [["seed", 1]]}),
    _figure_1("claims.0.lhs", {"metric": "min_test_rmse", "runs": "cos_raw", "at": "common", "with": []}),
    _figure_1("claims.0.lhs", {"measure": [], "runs": "cos_raw"}),
    _figure_1("panels.0.kind", []),
    _figure_1("panels.0.series.0.runs", []),
    _figure_1("panels.2.series", 1),   # TypeError: 'int' object is not iterable (found by the slow run)
]

test_sweep_mutated, test_sweep_mutated_slow = fuzz_pair(check_sweep, mutated(SWEEPS), 120, SWEEP_REGRESSIONS)
test_sweep_random, test_sweep_random_slow = fuzz_pair(check_sweep, random_sweeps, 120)
test_figure_mutated, test_figure_mutated_slow = fuzz_pair(check_figure, mutated(FIGURES), 200, FIGURE_REGRESSIONS)
test_figure_random, test_figure_random_slow = fuzz_pair(
    check_figure, st.dictionaries(st.one_of(st.sampled_from(["figure", "title", "layout", "size", "runs", "panels",
                                                             "claims", "note"]), KEYS), VALUES, max_size=8), 100)

"""Modular networks: wiring, parameter count, gradients, config errors, and modular vs dense on I.8.14."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import precision_jax  # noqa: F401
from precision_jax.experiment import ConfigError, build_config, load_config
from precision_jax.models import build_model, mlp
from precision_jax.models.modular import ModularConfig
from precision_jax.problems.targets import equation_target
from precision_jax.runs.training import run_experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(ROOT, "configs", "modular")


def modular_i814(width: int, depth: int = 3) -> dict:
    """The paper's I.8.14 graph: A(x1, x2), B(y1, y2) of width W/2 → C(A, B) of width W."""
    return {"kind": "modular", "activation": "relu", "modules": [
        {"name": "A", "inputs": ["x1", "x2"], "depth": depth, "width": width // 2},
        {"name": "B", "inputs": ["y1", "y2"], "depth": depth, "width": width // 2},
        {"name": "C", "inputs": ["A", "B"], "depth": depth, "width": width}]}


def experiment(model: dict, steps: int = 10, seed: int = 0, test_points: int = 2000) -> dict:
    return {"name": "modular_test", "seed": seed, "target": {"equation": "I.8.14"},
            "data": {"train_points": "auto", "test_points": test_points, "test_compactification": 0.8,
                     "standardize": True},
            "model": model, "train": [{"kind": "adam", "lr": 1e-3, "steps": steps}],
            "output": {"log_every": 1000}}


def model_for(cfg_model: ModularConfig, equation: str):
    target = equation_target(equation)
    return build_model(cfg_model, target.d, target.variables), target


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name, equation, n_expected", [
    ("I.8.14_modular.yaml", "I.8.14", 2 * (3 * 24 + 25 * 24 + 25) + (3 * 48 + 49 * 48 + 49)),
    ("II.6.15a_modular.yaml", "II.6.15a", 3 * (3 * 32 + 33) + 2 * (3 * 96 + 97)),
])
def test_shipped_graphs_count_every_module_parameter(name, equation, n_expected):
    cfg = load_config(os.path.join(CONFIGS, name)).model
    model, _ = model_for(cfg, equation)
    assert model.n_params == n_expected
    assert model.n_params == sum(mlp.parameter_count(m.widths()) for m in cfg.modules)
    theta = model.init(jax.random.PRNGKey(0))
    assert theta.shape == (n_expected,) and theta.dtype == jnp.float64


@pytest.mark.parametrize("dense, modular", [("I.8.14_dense.yaml", "I.8.14_modular.yaml"),
                                            ("II.6.15a_dense.yaml", "II.6.15a_modular.yaml")])
def test_shipped_dense_counterparts_have_about_equal_n(dense, modular):
    equation = dense.rsplit("_", 1)[0]
    n_dense = model_for(load_config(os.path.join(CONFIGS, dense)).model, equation)[0].n_params
    n_modular = model_for(load_config(os.path.join(CONFIGS, modular)).model, equation)[0].n_params
    assert abs(n_dense - n_modular) <= 0.06 * n_modular


def test_output_shape_and_wiring_match_the_formula_graph():
    cfg = build_config(experiment(modular_i814(8))).model
    model, target = model_for(cfg, "I.8.14")
    theta = model.init(jax.random.PRNGKey(3))
    x = jax.random.uniform(jax.random.PRNGKey(1), (17, 4), jnp.float64, 1, 5)
    y = model.apply(theta, x)
    assert y.shape == (17,) and y.dtype == jnp.float64
    a, b, c = model.unflatten(theta)  # config order
    by_hand = mlp.mlp_apply(c, jnp.stack([mlp.mlp_apply(a, x[:, :2], "relu"),
                                          mlp.mlp_apply(b, x[:, 2:], "relu")], axis=1), "relu")
    np.testing.assert_allclose(y, by_hand, rtol=0, atol=1e-14)
    # Listing the output module first changes nothing: modules run in topological order.
    shuffled = copy.deepcopy(modular_i814(8))
    shuffled["modules"] = shuffled["modules"][::-1]
    cfg2 = build_config(experiment(shuffled)).model
    model2, _ = model_for(cfg2, "I.8.14")
    theta2 = jnp.concatenate([jnp.ravel(v) for m in (c, b, a) for layer in m for v in layer])
    np.testing.assert_allclose(model2.apply(theta2, x), y, rtol=0, atol=1e-14)


def test_gradient_reaches_every_module_and_every_input():
    cfg = load_config(os.path.join(CONFIGS, "II.6.15a_modular.yaml")).model
    model, target = model_for(cfg, "II.6.15a")
    theta = model.init(jax.random.PRNGKey(0))
    x = jax.random.uniform(jax.random.PRNGKey(1), (64, target.d), jnp.float64, -1.5, 1.5)
    y = jnp.sin(jnp.sum(x, axis=1))
    grad = jax.grad(lambda t: jnp.mean((model.apply(t, x) - y) ** 2))(theta)
    per_module = model.unflatten(grad)
    for module, layers in zip(cfg.modules, per_module):
        for index, (gw, _gb) in enumerate(layers):
            assert float(jnp.linalg.norm(gw)) > 0, f"no gradient reaches {module.name} layer {index}"
    dy_dx = jax.grad(lambda z: jnp.sum(model.apply(theta, z)))(x)
    assert bool(jnp.all(jnp.any(dy_dx != 0, axis=0))), "some input does not reach the output"


# --------------------------------------------------------------------------- config errors


def _modules(*edits):
    modules = copy.deepcopy(modular_i814(8)["modules"])
    for edit in edits:
        edit(modules)
    return modules


PARSE_ERRORS = [
    ("cycle", _modules(lambda m: m[0]["inputs"].append("C"),
                       lambda m: m.append({"name": "D", "inputs": ["C"], "depth": 2, "width": 4})),
     "model.modules.2.inputs", "cycle"),
    ("self-loop", _modules(lambda m: m[2]["inputs"].append("C")), "model.modules.2.inputs", "cycle"),
    ("duplicate name", _modules(lambda m: m[1].update(name="A")), "model.modules.1.name", "duplicate"),
    ("two outputs", _modules(lambda m: m.append({"name": "D", "inputs": ["x1"], "depth": 2, "width": 4})),
     "model.modules", "exactly one output"),
    ("no inputs", _modules(lambda m: m[1].update(inputs=[])), "model.modules.1.inputs", "no inputs"),
    ("repeated input", _modules(lambda m: m[0].update(inputs=["x1", "x1"])), "model.modules.0.inputs", "twice"),
    ("no modules", [], "model.modules", "at least one"),
    ("zero depth", _modules(lambda m: m[2].update(depth=0)), "model.modules.2.depth", "> 0"),
]


@pytest.mark.parametrize("label, modules, key, words", PARSE_ERRORS, ids=[c[0] for c in PARSE_ERRORS])
def test_bad_graph_is_a_config_error_naming_the_key(label, modules, key, words):
    model = {**modular_i814(8), "modules": modules}
    with pytest.raises(ConfigError) as info:
        build_config(experiment(model))
    assert info.value.key == key and words in info.value.what


BUILD_ERRORS = [
    ("unknown input", _modules(lambda m: m[1].update(inputs=["y1", "y3"])), "model.modules.1.inputs", "'y3'"),
    ("module named like a variable", [{"name": "x1", "inputs": ["x2", "y1", "y2"], "depth": 2, "width": 4},
                                      {"name": "out", "inputs": ["x1"], "depth": 2, "width": 4}],
     "model.modules.0.name", "also a variable"),
    ("unused variable", _modules(lambda m: m[1].update(inputs=["y1"])), "model.modules", "y2"),
]


@pytest.mark.parametrize("label, modules, key, words", BUILD_ERRORS, ids=[c[0] for c in BUILD_ERRORS])
def test_inputs_are_checked_against_the_target_when_built(label, modules, key, words):
    cfg = build_config(experiment({**modular_i814(8), "modules": modules}))  # parses: names unknown yet
    with pytest.raises(ConfigError) as info:
        run_experiment(cfg)
    assert info.value.key == key and words in info.value.what


@pytest.mark.parametrize("label, modules, key", [
    ("unknown input", BUILD_ERRORS[0][1], "model.modules.1.inputs"),
    ("cycle", PARSE_ERRORS[0][1], "model.modules.2.inputs"),
])
def test_cli_bad_modular_config_is_one_line_and_exit_2(tmp_path, label, modules, key):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(experiment({**modular_i814(8), "modules": modules})))
    result = subprocess.run([sys.executable, "-m", "cli", "run", str(path), "--out", str(tmp_path / "store")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(path) in lines[0] and key in lines[0]
    assert not (tmp_path / "store").exists()


# --------------------------------------------------------------------------- modular vs dense


def compare(sizes, steps: int, seeds, test_points: int) -> dict:
    """Median test RMSE over ``seeds`` of the modular net and its depth-6 dense ReLU twin at each size.

    ``sizes`` are (W, dense width) pairs of about equal N (1.5W² + 10W + 3 vs 4w² + 10w + 1);
    the paper's protocol: D = N // 5 training points, standardized inputs, Adam lr 1e-3.
    """
    out = {}
    for width, dense_width in sizes:
        for label, model in (("modular", modular_i814(width)),
                             ("dense", {"kind": "mlp", "depth": 6, "width": dense_width, "activation": "relu"})):
            runs = [run_experiment(build_config(experiment(model, steps, seed, test_points))).summary
                    for seed in seeds]
            out[width, label] = (runs[0].N, float(np.median([r.metrics["test_rmse"] for r in runs])))
    return out


def _check_modular_wins_at_the_larger_size(results, sizes):
    (small, _), (large, _) = sizes
    n_mod, n_dense = results[large, "modular"][0], results[large, "dense"][0]
    assert abs(n_mod - n_dense) <= 0.06 * n_mod  # equal-N comparison
    assert results[large, "modular"][1] <= results[large, "dense"][1], results
    # Both nets improve with size: the comparison is between learning models.
    for label in ("modular", "dense"):
        assert results[large, label][1] < results[small, label][1], results


def test_modular_beats_equal_n_dense_relu_on_i814_at_the_larger_size():
    # N ≈ 340 and ≈ 1,100, half the paper's Adam budget. Single seeds are too noisy
    # at this size (in 8 seeds the larger modular net lost once, by 0.2%), so compare
    # medians over 3 seeds, as the paper does.
    sizes = [(12, 8), (24, 15)]
    results = compare(sizes, steps=10000, seeds=[0, 1, 2], test_points=2000)
    _check_modular_wins_at_the_larger_size(results, sizes)


@pytest.mark.slow
def test_modular_beats_equal_n_dense_relu_on_i814_full_budget():
    sizes = [(24, 15), (48, 30)]  # N ≈ 1,100 and ≈ 3,900, the shipped configs' size
    results = compare(sizes, steps=20000, seeds=[0, 1, 2], test_points=30000)
    _check_modular_wins_at_the_larger_size(results, sizes)

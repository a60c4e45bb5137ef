"""Config validation: every bad input is rejected before anything runs, naming the key."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import yaml

from precision_jax.config.engine import field_docs, to_dict
from precision_jax.config.kinds import MODEL_KINDS, STAGE_KINDS, model_configs
from precision_jax.experiment import BoostConfig, ConfigError, ExperimentConfig, build_config, load_config
from precision_jax.models.mlp import MLPConfig
from tests.test_cli import ROOT

BOOST = {"rounds": 2, "normalize": "rms", "train": [{"kind": "lm", "maxiter": 5}]}


def test_valid_config_resolves_defaults(small_teacher):
    cfg = build_config(small_teacher)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.data.test_points == 500 and cfg.output.save_params is True
    assert cfg.train[0].kind == "adam" and cfg.train[0].batch_size is None
    assert cfg.model.hidden_widths() == (10, 10)


@pytest.mark.parametrize(
    "mutate, key, fragment",
    [
        (lambda c: c["model"].update(widht=3), "model.widht", "did you mean 'width'"),
        (lambda c: c.update(sed=1), "sed", "did you mean 'seed'"),
        (lambda c: c["train"][1].update(maxiter="many"), "train.1.maxiter", "expected an integer"),
        (lambda c: c["train"][0].update(lr=-1.0), "train.0.lr", "must be > 0"),
        (lambda c: c["train"][0].update(kind="adamw"), "train.0.kind", "unknown stage kind"),
        (lambda c: c["model"].update(activation="gelu"), "model.activation", "unknown activation"),
        (lambda c: c["data"].update(test_compactification=1.5), "data.test_compactification", "(0, 1]"),
        (lambda c: c["data"].update(train_points="lots"), "data.train_points", "expected"),
        (lambda c: c.update(target={"equation": "I.8.14", "teacher": {"widths": [1, 1]}}), "target", "exactly one"),
        (lambda c: c.update(target={"formula": "x*y"}), "target.variables", "needs its variables"),
        (lambda c: c.pop("name"), "name", "missing required key"),
        (lambda c: c["model"].update(kind="transformer"), "model.kind", "unknown model kind"),
        (lambda c: c["train"][0].update(lr=float("inf")), "train.0.lr", "finite"),
        (lambda c: c["train"][0].update(lr=float("nan")), "train.0.lr", "finite"),
        (lambda c: c["data"].update(test_compactification=float("nan")), "data.test_compactification", "finite"),
        (lambda c: c.update(target={"formula": "x", "variables": {"x": [float("-inf"), 1]}}),
         "target.variables.x.0", "finite"),
        (lambda c: c.update(name="../elsewhere"), "name", "plain name"),
        (lambda c: c["train"].append({"kind": "boost", "stages": 3, "train": [{"kind": "lm"}]}), "train.2.kind",
         "top-level `boost:` section"),
        (lambda c: c.update(boost={**BOOST, "rounds": 0}), "boost.rounds", "must be > 0"),
        (lambda c: c.update(boost={**BOOST, "normalize": "l2"}), "boost.normalize", "expected"),
        (lambda c: c.update(boost={"rounds": 2}), "boost.train", "missing required key"),
        (lambda c: c.update(boost={**BOOST, "train": []}), "boost.train", "optimizer chain"),
        (lambda c: c.update(boost={**BOOST, "train": [{"kind": "bfgss"}]}), "boost.train.0.kind", "did you mean"),
        (lambda c: c.update(boost={**BOOST, "train": [{"kind": "boost"}]}), "boost.train.0.kind", "do not nest"),
        (lambda c: c.update(boost={**BOOST, "model": {"kind": "mlp", "depth": 2}}), "boost.model.width",
         "give depth and width"),
        (lambda c: c.update(boost={**BOOST, "stages": 3}), "boost.stages", "unknown key"),
    ],
)
def test_bad_config_names_the_key(small_teacher, mutate, key, fragment):
    mutate(small_teacher)
    with pytest.raises(ConfigError) as info:
        build_config(small_teacher, source="cfg.yaml")
    message = str(info.value)
    assert message.startswith(f"cfg.yaml: {key}:"), message
    assert fragment in message
    assert "\n" not in message


def test_overrides_apply_to_nested_keys_and_list_items(small_teacher):
    cfg = build_config(small_teacher, ["model.width=40", "seed=3", "train.0.lr=3e-4", "data.standardize=true"])
    assert cfg.model.width == 40 and cfg.seed == 3 and cfg.train[0].lr == 3e-4 and cfg.data.standardize


@pytest.mark.parametrize("override, key", [("train.5.lr=1", "train.5"), ("model.width=abc", "model.width"),
                                           ("nokey", ""), ("model.depht=2", "model.depht")])
def test_bad_overrides_are_config_errors(small_teacher, override, key):
    with pytest.raises(ConfigError) as info:
        build_config(small_teacher, [override])
    assert key in str(info.value)


def test_yaml_scientific_notation_without_dot_is_a_number(tmp_path, small_teacher):
    # YAML 1.1 reads `1e-3` as a string; configs written by people use it all the time.
    small_teacher["train"][0]["lr"] = "1e-3"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(small_teacher))
    assert load_config(path).train[0].lr == 1e-3


def test_yaml_is_safe_loaded(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("target, key, fragment", [
    ({"equation": "I.8.41"}, "target.equation", "I.8.14"),
    ({"formula": "__import__('os').system('true')", "variables": {"x": [0, 1]}}, "target.formula", ""),
    ({"formula": "exp(x*z)", "variables": {"x": [0, 1]}}, "target.formula", "z"),
])
def test_targets_are_checked_at_config_time(small_teacher, target, key, fragment):
    small_teacher["target"] = target
    with pytest.raises(ConfigError) as info:
        build_config(small_teacher, source="cfg.yaml")
    assert str(info.value).startswith(f"cfg.yaml: {key}:") and fragment in str(info.value)


def test_retired_boost_stage_says_how_many_rounds(small_teacher):
    small_teacher["train"].append({"kind": "boost", "stages": 3, "train": [{"kind": "lm"}]})
    with pytest.raises(ConfigError, match="rounds: 2"):
        build_config(small_teacher)


def test_boost_section_is_parsed_by_kind_and_frozen(small_teacher):
    small_teacher["boost"] = {**BOOST, "model": {"depth": 2, "width": 5}}
    cfg = build_config(small_teacher, ["boost.rounds=3", "boost.train.0.maxiter=7"])
    assert isinstance(cfg.boost, BoostConfig) and cfg.boost.rounds == 3 and cfg.boost.normalize == "rms"
    assert cfg.boost.model == MLPConfig(depth=2, width=5)
    assert [s.kind for s in cfg.boost.train] == ["lm"] and cfg.boost.train[0].maxiter == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.boost.rounds = 5
    del small_teacher["boost"]["model"]
    assert build_config(small_teacher).boost.model is None
    assert build_config({k: v for k, v in small_teacher.items() if k != "boost"}).boost is None


def test_resolved_config_round_trips_through_plain_data(small_teacher):
    small_teacher["boost"] = {**BOOST, "model": {"kind": "mlp", "widths": [4, 4]}}
    cfg = build_config(small_teacher)
    data = to_dict(cfg)
    assert yaml.safe_load(yaml.safe_dump(data)) == data
    assert build_config(data) == cfg


def test_every_config_class_is_frozen():
    classes = [ExperimentConfig, BoostConfig, *model_configs().values(), *STAGE_KINDS.values()]
    for cls in classes:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
    assert set(MODEL_KINDS) >= {"mlp", "modular", "simplex", "spline", "chebyshev"}
    assert {"adam", "bfgs", "lbfgs", "lm", "lcs"} <= set(STAGE_KINDS) and "boost" not in STAGE_KINDS


def test_prec_schema_lists_every_key_and_kind_with_a_doc():
    result = subprocess.run([sys.executable, "-m", "cli", "schema"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for kind in MODEL_KINDS:
        assert any(line.startswith(f"model kind {kind} ") for line in lines), kind
    for kind in STAGE_KINDS:
        assert any(line.startswith(f"stage kind {kind} ") for line in lines), kind
    experiment = lines[:lines.index("")]
    for row in field_docs(ExperimentConfig):
        assert row.doc, f"{row.key} has no doc"
        assert any(line.split()[0] == row.key and line.rstrip().endswith(row.doc) for line in experiment[2:]), row.key
    for kind, cls in model_configs().items():
        assert all(row.doc for row in field_docs(cls)), kind


def test_prec_schema_markdown_and_one_kind():
    result = subprocess.run([sys.executable, "-m", "cli", "schema", "boost", "--markdown"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| `boost.rounds` | int | `1` | > 0 |" in result.stdout
    assert "mean_abs \\| rms \\| max" in result.stdout
    unknown = subprocess.run([sys.executable, "-m", "cli", "schema", "adamw"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert unknown.returncode == 2 and "did you mean 'adam'" in unknown.stderr

"""Config validation: every bad input is rejected before anything runs, naming the key."""

from __future__ import annotations

import pytest
import yaml

from precision_jax.config import ConfigError, ExperimentConfig, build_config, load_config


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

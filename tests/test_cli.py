"""The `prec` command: end to end runs, one-line errors with exit status 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer.main
import yaml

from cli.main import app
from precision_jax.experiment import load_config
from precision_jax.runs import store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def prec(*args: str, cwd: str = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": ROOT})


def write(tmp_path, config: dict, name: str = "c.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_run_writes_a_complete_run_directory(tmp_path, small_teacher):
    small_teacher["train"][1]["maxiter"] = 100
    out = tmp_path / "store"
    path = write(tmp_path, small_teacher)
    result = prec("run", path, "--out", str(out), "model.width=8")
    assert result.returncode == 0, result.stderr
    runs = list(store.iter_runs(out))
    assert len(runs) == 1 and runs[0].parent == out / "small_teacher"
    assert runs[0] == store.run_dir(out, load_config(path, ["model.width=8"]))
    summary = store.read_summary(runs[0])
    assert summary.N == 1 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    assert "test RMSE" in result.stdout and str(runs[0]) in result.stdout.replace("\n", "")


@pytest.mark.parametrize(
    "edit, overrides, key",
    [
        (lambda c: c["model"].update(widht=3), [], "model.widht"),
        (lambda c: c["train"][0].update(steps="ten"), [], "train.0.steps"),
        (lambda c: c.update(target={"equation": "I.8.41"}), [], "target.equation"),
        (lambda c: None, ["train.7.lr=1"], "train.7"),
        (lambda c: None, ["model.width=-3"], "model.width"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, small_teacher, edit, overrides, key):
    edit(small_teacher)
    path = write(tmp_path, small_teacher)
    result = prec("run", path, *overrides, "--out", str(tmp_path / "store"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert path in lines[0] and key in lines[0]
    assert not (tmp_path / "store").exists()


def test_missing_config_file_is_exit_2(tmp_path):
    result = prec("run", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "cannot read config" in result.stderr


def test_targets_lists_registry_and_shows_one():
    listing = prec("targets")
    assert listing.returncode == 0 and "I.8.14" in listing.stdout and "Z.001" in listing.stdout
    one = prec("targets", "I.8.14")
    assert one.returncode == 0 and "x1" in one.stdout and "d = 4" in one.stdout
    bad = prec("targets", "I.8.41")
    assert bad.returncode == 2 and "I.8.14" in bad.stderr


def help_commands(text: str) -> list[str]:
    """The command names in the Commands panel of a ``--help`` screen, in the order shown."""
    assert "─ Commands ─" in text, text
    return re.findall(r"^│ (\S+) {2,}", text.split("─ Commands ─", 1)[1], re.MULTILINE)


def test_every_command_has_help_with_an_example():
    top = prec("--help")
    assert top.returncode == 0, top.stderr
    listed = help_commands(top.stdout)
    registered = typer.main.get_command(app).commands
    assert listed == list(registered) and len(listed) >= 13, listed  # --help shows every command there is
    without_example = []
    for name in listed:
        subcommands = list(getattr(registered[name], "commands", {}))  # a group (`prec runs`) lists its own
        if subcommands:
            group = prec(name, "--help")
            assert group.returncode == 0 and help_commands(group.stdout) == subcommands, group.stdout
        for path in [[name, sub] for sub in subcommands] or [[name]]:
            result = prec(*path, "--help")
            assert result.returncode == 0, (path, result.stderr)
            if not re.search(rf"Examples?: prec {' '.join(path)}\b", result.stdout):
                without_example.append(" ".join(path))
    assert without_example == [], f"--help without an 'Example: prec …' line: {without_example}"

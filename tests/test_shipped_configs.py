"""The configs shipped with the package: one lookup order for configs, sweeps and figure specs (a path given,
then ./configs, then the shipped copy), `prec configs list/copy`, and the packaging that puts configs/ in the
wheel. The wheel itself is built, installed and run from an empty folder by scripts/wheel_smoke.sh (CI)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from precision_jax.analysis.reproduce import spec
from precision_jax.config import shipped
from precision_jax.config.engine import ConfigError
from precision_jax.runs import sweep as sw

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "configs"
SWEEP = "name: {name}\nbase: {{name: {name}, target: {{equation: Z.001}}, model: {{kind: mlp, width: 3}}}}\n" \
        "grid: {{seed: [0]}}\n"


@pytest.fixture
def empty(tmp_path, monkeypatch) -> Path:
    """An empty working folder (no configs/ of its own)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def put(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_checkout_reads_the_top_level_configs():
    # No precision_jax/_configs in a checkout: the shipped tree is the repository's one configs/ folder.
    assert not (ROOT / "precision_jax" / "_configs").exists()
    assert shipped.shipped_root().resolve() == SHIPPED.resolve()


def test_an_installed_package_reads_its_packaged_copy(tmp_path, monkeypatch):
    package = tmp_path / "precision_jax"
    put(package / "_configs" / "quickstart.yaml", "name: packaged\n")
    monkeypatch.setattr(shipped.resources, "files", lambda name: package if name == "precision_jax" else None)
    assert shipped.shipped_root() == package / "_configs"
    monkeypatch.chdir(tmp_path)
    assert shipped.find("quickstart", "experiment").resolve() == (package / "_configs" / "quickstart.yaml").resolve()


def test_from_an_empty_folder_every_kind_resolves_to_the_shipped_copy(empty):
    assert shipped.find("quickstart", "experiment").resolve() == SHIPPED / "quickstart.yaml"
    assert shipped.find("precision/x_squared", "experiment").resolve() == SHIPPED / "precision/x_squared.yaml"
    # the paths the README and the configs' own comments write work from any folder too
    assert shipped.find("configs/precision/auto/xy.yaml", "experiment").resolve() == \
        SHIPPED / "precision/auto/xy.yaml"
    assert sw.resolve_sweep_path("widths").resolve() == SHIPPED / "sweeps/widths.yaml"
    assert spec.figure_path("3").resolve() == SHIPPED / "figures/3.yaml"
    assert spec.load_figure("3").figure == "3"
    assert spec.list_figures() == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "A1", "A2", "A3", "A4",
                                   "relu-x2-vs-simplex"]
    assert len(sw.expand(sw.load_sweep("widths"))) == 24
    assert not any(empty.iterdir())  # looking wrote nothing


def test_lookup_order_user_path_then_working_configs_then_shipped(empty):
    # 3. shipped
    assert sw.resolve_sweep_path("widths").resolve() == SHIPPED / "sweeps/widths.yaml"
    # 2. the working folder's configs/ comes before the shipped copy
    local = put(empty / "configs/sweeps/widths.yaml", SWEEP.format(name="local"))
    assert sw.resolve_sweep_path("widths") == Path("configs/sweeps/widths.yaml")
    assert sw.load_sweep("widths").name == "local"
    # 1. a path the user gives wins over both, even one that looks like a name
    put(empty / "widths", SWEEP.format(name="given"))
    assert sw.resolve_sweep_path("widths") == Path("widths")
    assert sw.load_sweep("widths").name == "given"
    elsewhere = put(empty / "mine/widths.yaml", SWEEP.format(name="elsewhere"))
    assert sw.load_sweep(str(elsewhere)).name == "elsewhere"
    assert local.read_text() == SWEEP.format(name="local")

    # the same order for experiment configs and figure specs
    put(empty / "configs/quickstart.yaml", "name: local_quickstart\n")
    assert shipped.find("quickstart", "experiment") == Path("configs/quickstart.yaml")
    assert shipped.find("precision/xy", "experiment").resolve() == SHIPPED / "precision/xy.yaml"
    figure = (SHIPPED / "figures/3.yaml").read_text().replace('figure: "3"', 'figure: "3x"')
    put(empty / "configs/figures/3x.yaml", figure)
    put(empty / "configs/figures/3.yaml", (SHIPPED / "figures/3.yaml").read_text())
    assert spec.figure_path("3") == Path("configs/figures/3.yaml")
    assert "3x" in spec.list_figures() and spec.list_figures().count("3") == 1


def test_a_name_found_nowhere_is_one_line_naming_the_places(empty):
    with pytest.raises(ConfigError) as info:
        sw.resolve_sweep_path("no-such-sweep")
    message = str(info.value)
    assert "no sweep named 'no-such-sweep'" in message and "configs/sweeps" in message
    assert "widths" in message and "\n" not in message
    with pytest.raises(ConfigError, match="no figure spec named 'Z9'"):
        spec.load_figure("Z9")
    # an absolute path is never a name: its reader refuses it in its own words
    assert shipped.find(str(empty / "nope.yaml"), "experiment") == empty / "nope.yaml"


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_configs_list_shows_each_kind_and_a_working_copy(empty):
    code, out = invoke("configs", "list")
    assert code == 0, out
    for kind, name in (("experiments", "quickstart"), ("experiments", "precision/auto/xy"), ("sweeps", "widths"),
                       ("figures", "A4")):
        assert any(kind in line and f" {name} " in line for line in out.splitlines()), (kind, name)
    assert "configs/sweeps/widths.yaml" not in out
    put(empty / "configs/sweeps/widths.yaml", SWEEP.format(name="local"))
    code, out = invoke("configs", "list")
    assert code == 0 and "configs/sweeps/widths.yaml" in out


def test_configs_copy_writes_the_file_and_what_it_names_where_a_name_finds_them(empty):
    code, out = invoke("configs", "copy", "simplex")
    assert code == 0, out
    sweep_copy, base_copy = empty / "configs/sweeps/simplex.yaml", empty / "configs/classical/simplex_I.30.5.yaml"
    assert sweep_copy.read_bytes() == (SHIPPED / "sweeps/simplex.yaml").read_bytes()
    assert base_copy.read_bytes() == (SHIPPED / "classical/simplex_I.30.5.yaml").read_bytes()
    assert sw.resolve_sweep_path("simplex") == Path("configs/sweeps/simplex.yaml")
    assert sw.load_sweep("simplex").base["name"]  # its base, read through the copy's relative path
    # a data file comes along with the config that reads it; into another folder, the same layout
    code, out = invoke("configs", "copy", "examples/own_data", "elsewhere")
    assert code == 0, out
    assert (empty / "elsewhere/examples/xy_samples.csv").read_bytes() == \
        (SHIPPED / "examples/xy_samples.csv").read_bytes()


def test_configs_copy_never_overwrites(empty):
    mine = put(empty / "configs/sweeps/widths.yaml", "# my own widths\nname: mine\n")
    before = mine.read_bytes()
    code, out = invoke("configs", "copy", "widths")
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1 and "configs/sweeps/widths.yaml" in lines[0] and "exists" in lines[0], out
    assert mine.read_bytes() == before
    # a file the copy names that is already there is the user's: kept byte for byte, and the copy still made
    base = put(empty / "configs/classical/simplex_I.30.5.yaml", "# edited\n")
    code, out = invoke("configs", "copy", "simplex")
    assert code == 0, out
    assert base.read_text() == "# edited\n" and (empty / "configs/sweeps/simplex.yaml").is_file()


@pytest.mark.parametrize("name, fragment", [("nope", "no shipped config, sweep or figure spec named 'nope'"),
                                            ("../configs/quickstart", "no shipped")])
def test_configs_copy_refuses_an_unknown_name(empty, name, fragment):
    code, out = invoke("configs", "copy", name)
    assert code == 2 and fragment in out and len(out.strip().splitlines()) == 1, out
    assert not any(empty.iterdir())


def test_prec_run_a_shipped_name_from_an_empty_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "cli", "run", "quickstart", "train.0.steps=10",
                             "train.1.maxiter=5", "data.train_points=50", "data.test_points=50", "-q"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    assert (tmp_path / run).resolve().is_relative_to((tmp_path / "results" / "quickstart").resolve())
    assert (tmp_path / run / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_the_wheel_lists_every_package_and_ships_configs():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for top in ("cli", "precision_jax")
               for p in (ROOT / top).rglob("__init__.py")}
    listed = set(setuptools["packages"])
    assert listed - {"precision_jax._configs"} == on_disk
    assert setuptools["package-dir"] == {"precision_jax._configs": "configs"}
    globs = setuptools["package-data"]["precision_jax._configs"]
    shipped_files = {p for p in SHIPPED.rglob("*") if p.is_file()}
    covered = {p for g in globs for p in SHIPPED.glob(g)}
    assert shipped_files and shipped_files == covered, sorted(map(str, shipped_files - covered))

"""Issue 12, "nothing bad gets in, nothing is lost": every refusal is one line, exit status 2, no traceback,
nothing written, and it comes before any data are drawn; Ctrl-C is exit status 130 and one line.

CLI behaviour runs as ``python -m cli`` in a subprocess where the exit status, stderr and the absence of a
traceback are the point, and in-process (Typer's runner, the library) where that is cheaper. Stores are built
with :func:`precision_jax.runs.store.write_run` from made-up records, so no test trains more than a few Adam steps.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from precision_jax import models
from precision_jax.analysis.figures import series as figure_series
from precision_jax.analysis.figures import style as figure_style
from precision_jax.config.engine import MAX_YAML_BYTES, MAX_YAML_NODES, ConfigError, read_yaml
from precision_jax.engine.stages.base import CurvePoint
from precision_jax.experiment import build_config
from precision_jax.runs import atomic_files, provenance, store
from precision_jax.runs import sweep as sw

ROOT = Path(__file__).resolve().parent.parent

TINY = {
    "name": "tiny",
    "seed": 0,
    "target": {"teacher": {"widths": [1, 3, 3, 1], "activation": "tanh", "seed": 0}},
    "data": {"train_points": 100, "test_points": 100, "test_compactification": 1.0},
    "model": {"kind": "mlp", "depth": 3, "width": 6, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-2, "steps": 5}],
    "output": {"log_every": 5},
}
# Fitted, not trained: a full `prec run` in about a second (a jitted target, no training loop to compile).
CHEB = {"name": "cheb", "seed": 0, "target": {"formula": "exp(x)", "variables": {"x": [-1, 1]}},
        "data": {"train_points": 9, "test_points": 200}, "model": {"kind": "chebyshev"}}


# --------------------------------------------------------------------------- helpers


def prec(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


# `prec` with every JAX loop primitive replaced by a failure: a stage's iterations are a lax.scan or a
# lax.while_loop, so a command that traces any of them exits with status 1 and a traceback, not a refusal.
UNTRAINED_PREC = """
import jax

def no_training(*args, **kwargs):
    raise AssertionError("a training loop was traced before the refusal")

jax.lax.scan = jax.lax.while_loop = jax.lax.fori_loop = no_training
from cli.main import app
app(prog_name="prec")
"""


def prec_without_training(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """:func:`prec`, failing if anything trains (a refusal must come before the first training step)."""
    return subprocess.run([sys.executable, "-c", UNTRAINED_PREC, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def invoke(*args: str):
    """``prec ARGS`` in this process (Typer's runner; stdout and stderr apart)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def refused(result, *fragments: str) -> str:
    """Assert exit status 2 and exactly one ``prec: error: …`` line on stderr containing ``fragments``."""
    code = getattr(result, "returncode", getattr(result, "exit_code", None))
    stderr = result.stderr
    assert code == 2, (code, result.stdout, stderr)
    assert "Traceback" not in stderr + result.stdout, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prec: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def files_under(path: Path) -> dict[str, float]:
    """Every file below ``path`` with its modification time (to see that nothing was written or lost)."""
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in sorted(path.rglob("*")) if p.is_file()} \
        if path.exists() else {}


def fake_run(root: Path, data: dict = TINY, test_rmse: float = 1e-3, **summary_changes) -> Path:
    """A complete run of config ``data`` in the store at ``root``, written by the store from a made-up record."""
    cfg = build_config(data)
    info = store.TargetInfo("teacher", 1, ("x0",), (-1.0,), (1.0,))
    if models.is_trainable(cfg.model.kind):  # a trained net: a curve, a stage row, θ
        model = models.build_model(cfg.model, 1)
        description, n, arrays = model.description, model.n_params, {"theta": np.zeros(model.n_params)}
        stage = {"round": 0, "stage": 0, "kind": "adam", "steps": 5, "stop_reason": "max_steps", "seconds": 0.1}
        curve = [CurvePoint(round=0, stage=0, kind="adam", step=s, train_rmse=test_rmse * (5 - s),
                            test_rmse=test_rmse * (6 - s), seconds=0.01 * s) for s in range(5)]
    else:  # a fitted interpolant: no curve
        description, n, arrays = cfg.model.kind, 2 * cfg.data.train_points, {"state": np.zeros(1)}
        stage = {"round": 0, "stage": 0, "kind": "fit", "steps": 0, "stop_reason": "fitted", "seconds": 0.1}
        curve = []
    fields = dict(name=cfg.name, seed=cfg.seed, status="complete", target=info, model=description, N=n, D=100,
                  n_test=100, metrics={"train_rmse": test_rmse / 2, "test_rmse": test_rmse,
                                       "test_relative_rmse": test_rmse},
                  stages=[stage], wall_seconds=0.5, numerics={},
                  provenance=provenance.collect(time.time() - 1))
    summary = store.Summary(**{**fields, **summary_changes})
    parts = [store.Part(cfg.model, arrays)]
    return store.write_run(root, store.RunRecord(cfg, summary, curve, parts, None, None))


def with_changes(base: dict, **changes) -> dict:
    data = copy.deepcopy(base)
    for key, value in changes.items():
        node = data
        *parents, last = key.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


# --------------------------------------------------------------------------- 1. names that escape the store


def test_run_names_that_escape_the_store_are_refused(tmp_path):
    out = tmp_path / "store"
    config = write_yaml(tmp_path / "c.yaml", {**TINY, "name": "../../x"})
    refused(prec("run", config, "--out", out), str(config), "name", "plain name")
    for name in ("/etc/x", ".hidden", "..", "a/b", "a b", ""):
        with pytest.raises(ConfigError, match="name: must be a plain name"):
            build_config({**TINY, "name": name})
    # The store guards itself too: a config built around the schema, or a name folder linked elsewhere.
    cfg = dataclasses.replace(build_config(TINY), name="../../x")
    with pytest.raises(store.StoreError, match="only inside its root"):
        store.run_dir(out, cfg)
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "tiny").symlink_to(elsewhere)
    with pytest.raises(store.StoreError, match="outside the store"):
        fake_run(out)
    assert list(elsewhere.iterdir()) == [] and not (tmp_path.parent / "x").exists()


# --------------------------------------------------------------------------- 3. output folders


def test_output_folder_that_is_a_file_unwritable_or_full_is_refused_before_training(tmp_path):
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    config = write_yaml(tmp_path / "c.yaml", TINY)
    # before training: no stage's loop is even traced (benchmarks/refusal_latency.py times the refusal)
    refused(prec_without_training("run", config, "--out", a_file), str(a_file), "is a file, not a folder")
    # the config's own output.dir, under a file
    config_out = write_yaml(tmp_path / "c2.yaml", with_changes(TINY, output__dir=str(a_file / "sub")))
    refused(invoke("run", config_out), f"{a_file} is a file")
    # full: less free space than the threshold
    line = refused(prec_without_training("run", config, "--out", tmp_path / "store", env={"PREC_MIN_FREE_MB": "1e12"}),
                   "MiB free")
    assert "PREC_MIN_FREE_MB" in line
    # read-only: sysfs refuses new files even to root
    if Path("/sys/kernel").is_dir():
        refused(invoke("run", config, "--out", "/sys/prec-test"), "/sys/prec-test", "cannot be created")
    # sweep and plot check their folders the same way
    spec = write_yaml(tmp_path / "s.yaml", {"base": TINY, "grid": {"seed": [0, 1]}})
    refused(invoke("sweep", spec, "--out", a_file), "is a file, not a folder")
    store_root = tmp_path / "runs"
    fake_run(store_root)
    refused(invoke("plot", store_root, "--out", a_file), "is a file, not a folder")
    assert a_file.read_text() == "not a folder" and not (tmp_path / "store").exists()
    assert not list(tmp_path.glob("**/.prec-write-test-*"))
    if os.geteuid() != 0:  # root writes anywhere; elsewhere a read-only folder is refused the same way
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        refused(invoke("run", config, "--out", locked / "store"), "cannot be created")


def test_check_writable_writes_nothing(tmp_path):
    atomic_files.check_writable(tmp_path / "new" / "deeper")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(store.StoreError, match="only .* MiB free"):
        atomic_files.check_writable(tmp_path, need_bytes=1 << 62)


# --------------------------------------------------------------------------- 5. files that are not YAML text


def alias_bomb() -> str:
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    previous = "a"
    for name in "bcdefghi":  # 9^9 ≈ 3.9e8 nodes once expanded
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text


@pytest.mark.parametrize("content, fragment", [
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8 text", id="binary"),
    pytest.param("name: caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9", id="latin-1"),
    pytest.param(alias_bomb().encode(), "alias bomb", id="alias-bomb"),
    pytest.param(b"a: &a [1, *a]\n", "recursive alias", id="recursive-alias"),
    pytest.param(b"a: " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "nested deeper than", id="deep-nesting"),
    pytest.param(b"- 1\n- 2\n", "must hold a mapping", id="not-a-mapping"),
    pytest.param(b"name: [unclosed\n", "invalid YAML", id="invalid"),
])
def test_files_that_are_not_yaml_text_are_one_line_errors(tmp_path, content, fragment):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as error:
            read_yaml(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Refused before it costs memory: the 1 MiB read buffer and the parser's state, never the 9^9 nodes of the
    # bomb or 50,000 parser frames (benchmarks/refusal_latency.py times each refusal).
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB"
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path)) and fragment in message, message
    with pytest.raises(ConfigError, match=re.escape(fragment)):  # sweep specs are read the same way
        sw.load_sweep(path)


def test_huge_file_and_alias_bomb_refused_by_prec_run_and_sweep_unread_and_unexpanded(tmp_path):
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as f:
        f.truncate(4 << 30)  # a sparse 4 GiB file: refused from its size, never read
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    # Refused from the size the file system reports (reading stops at 1 MiB + 1 byte and would say "over"), and
    # by a node count that stops at MAX_YAML_NODES of the bomb's 3.9e8 (benchmarks/refusal_latency.py times both).
    from_size = f"file is {4 << 10:.1f} MiB; a config is at most {MAX_YAML_BYTES >> 20} MiB"
    counted = f"more than {MAX_YAML_NODES:,} YAML nodes once aliases are expanded (an alias bomb"
    for command, path, fragment in (("run", huge, from_size), ("sweep", huge, from_size),
                                    ("run", bomb, counted), ("sweep", bomb, counted)):
        refused(prec(command, path, "--out", tmp_path / "store"), str(path), fragment)
    assert not (tmp_path / "store").exists()


# --------------------------------------------------------------------------- 6. corrupt run files


def test_corrupt_model_or_summary_is_one_line_naming_the_file(tmp_path):
    root = tmp_path / "results"
    run = fake_run(root)
    other = fake_run(root, with_changes(TINY, seed=1))
    (run / "model.npz").write_bytes((run / "model.npz").read_bytes()[:100])  # truncated
    refused(invoke("hessian", run), str(run / "model.npz"), "corrupt or truncated")
    with pytest.raises(store.StoreError, match="model.npz"):
        store.load_model(run)
    (other / "summary.json").write_text('{"format_version": 2, "name": "ti')  # truncated
    refused(invoke("plot", other, "--out", tmp_path / "plots"), str(other / "summary.json"), "corrupt")
    refused(invoke("runs", "show", other), str(other / "summary.json"))
    refused(invoke("hessian", other), str(other / "summary.json"))
    # a store with a corrupt run: tables and plots skip it and count it
    good = fake_run(root, with_changes(TINY, seed=2))
    result = invoke("table", root, "--json")
    assert result.exit_code == 0 and "skipped 1 unreadable run(s)" in result.stderr, result.stderr
    assert {row["run_id"] for row in json.loads(result.stdout)} == {run.name, good.name}
    result = invoke("plot", root, "--out", tmp_path / "plots")
    assert result.exit_code == 0 and "skipped 1 unreadable" in result.stderr and "Traceback" not in result.output
    result = invoke("runs", "list", root)
    assert result.exit_code == 0 and "unreadable run skipped" in result.stderr


# --------------------------------------------------------------------------- 7. already complete


def test_complete_run_is_not_rerun_and_force_keeps_foreign_files(tmp_path):
    out = tmp_path / "store"
    config = write_yaml(tmp_path / "c.yaml", TINY)
    run = fake_run(out, TINY, test_rmse=4.25e-3)
    before = files_under(out)
    result = prec("run", config, "--out", out)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.strip().splitlines() == [
        f"{run}: already complete (complete, test RMSE 4.250e-03); nothing to do (--force runs it again)"]
    assert files_under(out) == before
    # --force trains it again (a Chebyshev fit: seconds), replacing prec's files and keeping everyone else's
    cheb = write_yaml(tmp_path / "cheb.yaml", CHEB)
    first = prec("run", cheb, "--out", out, "-q")
    assert first.returncode == 0, first.stderr
    path = Path(first.stdout.strip())
    (path / "notes.txt").write_text("mine")
    (path / "plots").mkdir()
    (path / "plots" / "figure.png").write_bytes(b"png")
    assert prec("run", cheb, "--out", out, "-q").stdout.strip() == str(path)  # complete: untouched
    forced = prec("run", cheb, "--out", out, "--force", "-q")
    assert forced.returncode == 0, forced.stderr
    assert (path / "notes.txt").read_text() == "mine" and (path / "plots" / "figure.png").read_bytes() == b"png"
    assert "--force" in store.read_summary(path).provenance["command"]
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(store.TMP_PREFIX)] == []


# --------------------------------------------------------------------------- 9. Ctrl-C


def interrupt(args, out: Path, wait_for: str | None = None, after: float = 0.0) -> subprocess.CompletedProcess:
    """Start ``prec ARGS``, send SIGINT ``after`` seconds (or once stdout shows ``wait_for``), collect it."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "cli", *map(str, args)], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    seen = ""
    if wait_for is not None:
        deadline = time.monotonic() + 240
        while wait_for not in seen and time.monotonic() < deadline and process.poll() is None:
            seen += process.stdout.readline()
    else:
        time.sleep(after)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(args, process.returncode, seen + stdout, stderr)


@pytest.mark.parametrize("moment", ["import", "compilation", "training"])
def test_ctrl_c_exits_130_with_one_line(tmp_path, moment):
    out = tmp_path / "store"
    kept = fake_run(out, with_changes(TINY, seed=7))
    before = files_under(kept)
    config = write_yaml(tmp_path / "long.yaml", with_changes(TINY, train=[{"kind": "adam", "steps": 10_000_000}],
                                                            output={"log_every": 2000}))
    args = ["run", config, "--out", out]
    if moment == "import":
        result = interrupt(args, out, after=0.3)
    elif moment == "compilation":
        result = interrupt(args, out, after=5.0)  # imports done (~3 s), first chunk still compiling
    else:
        result = interrupt(args, out, wait_for="step")
    assert result.returncode == 130, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "Segmentation fault" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prec: interrupted"), result.stderr
    assert "complete runs are kept; run the same command to resume" in lines[0]
    if moment == "training":
        assert re.search(r"interrupted at tiny: stage 0 adam step \d+", lines[0]), lines[0]
    assert files_under(kept) == before  # the complete run is untouched
    assert [p for p in store.iter_runs(out)] == [kept]  # and the interrupted one never looks complete


@pytest.mark.parametrize("moment", ["workers starting", "training"])
def test_ctrl_c_to_a_parallel_sweep_stops_its_workers(tmp_path, moment):
    """Ctrl-C in the terminal (SIGINT to the whole process group) while the spawned workers are still importing,
    or ``kill -INT`` to the parent alone while they train (the parent forwards it): one line, status 130."""
    base = write_yaml(tmp_path / "long.yaml", with_changes(TINY, train=[{"kind": "adam", "steps": 10_000_000}],
                                                          output={"log_every": 2000}))
    spec = write_yaml(tmp_path / "s.yaml", {"base": str(base), "grid": {"model.width": [4, 6]}})
    process = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "cli", "sweep", str(spec), "--out",
                                str(tmp_path / "store"),
                                "--jobs", "2", "--no-progress"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               start_new_session=True)  # its own process group, as a terminal would give it
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline:  # the two spawned workers (and a resource tracker)
        time.sleep(0.5)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        workers = [int(w) for w in children.read_text().split()] if children.exists() else []
    if len(workers) < 2:
        process.kill()
        process.communicate()
        pytest.skip("no /proc/<pid>/task/<tid>/children to find the workers by")
    if moment == "training":
        time.sleep(3)
        process.send_signal(signal.SIGINT)  # to the parent alone (kill -INT), not to the terminal's process group
    else:
        os.killpg(process.pid, signal.SIGINT)  # the workers have just been spawned: still unpickling, importing
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGABRT)  # faulthandler: every thread's stack
        time.sleep(2)
        for pid in [*workers, process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        stdout, stderr = process.communicate()
        pytest.fail(f"the interrupted sweep did not exit:\n{stderr[-6000:]}")
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prec: interrupted"), stderr
    time.sleep(2)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "zombie" not in
             Path(f"/proc/{w}/status").read_text().lower()]
    assert alive == [], "workers left running after the sweep was interrupted"


# --------------------------------------------------------------------------- 12. provenance, --version


def test_provenance_is_collected_and_round_trips(tmp_path, monkeypatch):
    start = time.time() - 5
    # git_state is read once per process (the checkout the process's code came from); a commit made while a
    # long suite runs would otherwise make the HEAD read below differ from it.
    provenance.git_state.cache_clear()
    p = provenance.collect(start)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["started_utc"]) and p["started_utc"] <= p["finished_utc"]
    assert p["command"] == sys.argv and p["host"] and p["cpu_count"] >= 1 and p["cpu_model"]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert p["git"]["commit"] == head.stdout.strip() and isinstance(p["git"]["dirty"], bool)
    assert {"jax", "jaxlib", "optax", "numpy", "scipy"} <= set(p["versions"])
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    assert provenance.collect()["threads"] == {"OPENBLAS_NUM_THREADS": "1",
                                               "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
                                               **{k: os.environ[k] for k in provenance.THREAD_VARIABLES
                                                  if k in os.environ and k not in ("OPENBLAS_NUM_THREADS",
                                                                                   "XLA_FLAGS")}}
    provenance.git_state.cache_clear()
    monkeypatch.setattr(provenance, "project_root", lambda: tmp_path)  # not a checkout
    assert provenance.git_state() == {"commit": "unknown", "dirty": "unknown"}
    provenance.git_state.cache_clear()
    run = fake_run(tmp_path / "store")
    written = store.read_summary(run).provenance
    assert written == json.loads((run / "summary.json").read_text())["provenance"] and written["git"]
    old = json.loads((run / "summary.json").read_text())
    del old["provenance"]  # a summary written before provenance existed still reads
    (run / "summary.json").write_text(json.dumps(old))
    assert store.read_summary(run).provenance == {}


def test_version_lists_prec_and_its_numerical_stack():
    result = prec("--version")
    assert result.returncode == 0 and result.stderr == ""
    assert re.fullmatch(r"prec \S+ \(jax \S+, jaxlib \S+, optax \S+, numpy \S+, scipy \S+\)\n", result.stdout)


# --------------------------------------------------------------------------- 13. prec runs


def test_runs_list_show_and_diff(tmp_path):
    root = tmp_path / "results"
    a = fake_run(root, TINY, test_rmse=1e-3)
    b = fake_run(root, with_changes(TINY, seed=1, model__width=8), test_rmse=2e-3)
    shutil.copytree(a, root / "copy" / "tiny" / a.name)  # the same run in another folder: listed once
    listing = invoke("runs", "list", root, "--json")
    assert listing.exit_code == 0, listing.output
    rows = json.loads(listing.stdout)
    assert {r["run_id"] for r in rows} == {a.name, b.name} and len(rows) == 2
    assert {k for k in rows[0]} >= {"name", "run_id", "status", "N", "D", "test_rmse", "wall_seconds", "seed"}
    text = invoke("runs", "list", root).stdout
    assert a.name in text and "1.000e-03" in text
    show = invoke("runs", "show", a)
    assert show.exit_code == 0 and "provenance" in show.stdout and "started_utc" in show.stdout
    assert "test_rmse" in show.stdout and "max_steps" in show.stdout and "width: 6" in show.stdout
    diff = json.loads(invoke("runs", "diff", a, b, "--json").stdout)
    assert {d["key"] for d in diff["config"]} == {"seed", "model.width"}
    assert {d["key"] for d in diff["metrics"]} >= {"test_rmse"}
    same = invoke("runs", "diff", a, root / "copy" / "tiny" / a.name)
    assert same.exit_code == 0 and "same config" in same.stdout
    refused(invoke("runs", "show", tmp_path), "not a prec run directory")


# --------------------------------------------------------------------------- 15. where names resolve


def test_named_sweeps_and_bases_resolve_from_any_folder(tmp_path):
    result = prec("sweep", "widths", "--dry-run", "--out", tmp_path / "store", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "24 runs" in result.stdout
    simplex = sw.expand(sw.load_sweep("simplex"))
    assert sorted({r.config.data.train_points for r in simplex}) == [1000, 2000, 5000, 10000, 20000, 30000]
    assert {r.config.seed for r in simplex} == {0, 1, 2} and {r.config.target.equation for r in simplex} == {"I.30.5"}
    # a spec's base: relative to the spec's folder
    write_yaml(tmp_path / "configs" / "tiny.yaml", TINY)
    spec = write_yaml(tmp_path / "configs" / "sweeps" / "mine.yaml", {"base": "../tiny.yaml", "grid": {"seed": [0, 1]}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = prec("sweep", spec, "--dry-run", "--out", tmp_path / "store", cwd=elsewhere)
    assert result.returncode == 0 and "2 runs" in result.stdout, result.stderr
    assert not (tmp_path / "store").exists()


def test_plot_writes_into_the_store_by_default(tmp_path):
    root = tmp_path / "results"
    for width in (4, 6, 8):
        fake_run(root, with_changes(TINY, model__width=width), test_rmse=1.0 / width)
    result = invoke("plot", root)
    assert result.exit_code == 0, result.output
    assert any(p.suffix == ".png" for p in (root / "plots").iterdir())


# --------------------------------------------------------------------------- 16. readable plot names


def test_mixed_store_plots_with_short_names_and_counts_copies_once(tmp_path, monkeypatch):
    root = tmp_path / "results"
    chains = [[{"kind": "adam", "lr": 1e-3, "steps": 5, "batch_size": 50, "warmup_steps": 1},
               {"kind": "bfgs", "maxiter": 7}],
              [{"kind": "adam", "lr": 3e-3, "steps": 5}, {"kind": "lm", "maxiter": 3, "subsample": 50}]]
    for c, chain in enumerate(chains):
        for width in (4, 6, 8):
            for seed in (0, 1):
                fake_run(root, with_changes(TINY, seed=seed, train=chain, model__width=width),
                         test_rmse=(1 + c) / width)
    for points in (10, 20, 40):
        fake_run(root, {**CHEB, "model": {"kind": "simplex"}, "data": {"train_points": points, "test_points": 9},
                        "target": TINY["target"], "name": "tiny"}, test_rmse=1.0 / points)
    copied = next(store.iter_runs(root))
    shutil.copytree(copied, root / "backup" / copied.parent.name / copied.name)

    lines_drawn = {}
    save = figure_style.save

    def counting_save(fig, out, stem, **kwargs):
        lines_drawn[stem] = [len(ax.lines) for ax in fig.axes]
        return save(fig, out, stem, **kwargs)

    monkeypatch.setattr(figure_style, "save", counting_save)
    result = invoke("plot", root, "--out", tmp_path / "plots")
    assert result.exit_code == 0, result.output
    names = [p.name for p in (tmp_path / "plots").iterdir()]
    assert names and max(len(n) for n in names) <= figure_style.STEM_LIMIT + 4, names
    assert "counted once" in result.stderr
    curves = {stem: n for stem, n in lines_drawn.items() if stem.startswith("curve-")}
    assert len(curves) == 2 and all(n[0] == 2 * 6 + 2 for n in curves.values())  # 6 runs: test + train, + 2 keys
    fits = json.loads(invoke("fit", root, "--json").stdout)
    assert len(fits) == 3 and max(len(f["series"]) for f in fits) <= figure_series.LABEL_LIMIT
    assert len({f["series"] for f in fits}) == 3 and all(f["points"] in (3, 6) for f in fits)
    table = json.loads(invoke("table", root, "--json").stdout)
    assert len(table) == 15 and len({r["run_id"] for r in table}) == 15


# --------------------------------------------------------------------------- 17. a sweep given to prec run


def test_prec_run_on_a_sweep_spec_names_prec_sweep(tmp_path):
    spec = write_yaml(tmp_path / "s.yaml", {"base": TINY, "grid": {"seed": [0, 1]}})
    refused(invoke("run", spec, "--out", tmp_path / "store"), str(spec), "is a sweep spec", f"prec sweep {spec}")
    refused(invoke("run", ROOT / "configs" / "sweeps" / "widths.yaml"), "sweep spec")
    assert not (tmp_path / "store").exists()


# --------------------------------------------------------------------------- 19. interpolant metrics


def test_interpolant_train_rmse_is_measured_on_its_fitted_points():
    from precision_jax.runs.training import run_experiment

    spline = build_config({**CHEB, "data": {"train_points": 400, "test_points": 500},
                           "target": {"formula": "exp(x*y)", "variables": {"x": [-1, 1], "y": [-1, 1]}},
                           "model": {"kind": "spline", "order": 3}})
    summary = run_experiment(spline).summary
    assert summary.D == 400 and summary.metrics["train_rmse"] < 1e-14 < summary.metrics["test_rmse"]
    cheb = run_experiment(build_config({**CHEB, "data": {"train_points": 21, "test_points": 500},
                                        "model": {"kind": "chebyshev", "degree": 20}})).summary
    assert cheb.D == cheb.N == 21 and cheb.metrics["train_rmse"] < 1e-15
    with pytest.raises(ConfigError, match="data.train_points: a chebyshev model of degree 20 .* 21 nodes"):
        build_config({**CHEB, "data": {"train_points": 500}, "model": {"kind": "chebyshev", "degree": 20}})


# --------------------------------------------------------------------------- 20. --no-progress


def test_sweep_without_progress_prints_a_line_per_finished_run(tmp_path):
    spec = write_yaml(tmp_path / "s.yaml", {"base": CHEB, "grid": {"data.train_points": [5, 9], "seed": [0, 1]}})
    result = prec("sweep", spec, "--out", tmp_path / "store", "--no-progress")
    assert result.returncode == 0, result.stderr
    done = [line for line in result.stdout.splitlines() if re.match(r"\[\d/4\] done ", line)]
    assert len(done) == 4 and "4 done" in result.stdout
    again = prec("sweep", spec, "--out", tmp_path / "store", "--no-progress")
    assert again.returncode == 0 and "4 skipped" in again.stdout and "] done" not in again.stdout

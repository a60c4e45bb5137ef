"""Chaos soak: three `prec sweep` processes on one store, killed (kill -9 or Ctrl-C) and restarted at random.

The sweep is ``len(widths) × seeds`` short runs (a small MLP on II.8.31, a few
hundred Adam steps then a short BFGS; seeds grouped, so seed-batching,
checkpoints and per-run locks are all exercised). First a clean single-process
`prec sweep` of the same spec writes a reference store (timed). Then three
`prec sweep SPEC --out STORE --no-progress` processes (``python -m cli``, this
checkout) share a second store and a cold compilation cache, while a killer
every U(2, 6) s (seeded) sends SIGKILL or SIGINT to a random live one and
starts it again once it has exited. This goes on for ``--minutes`` or until
every run is complete; the live processes are then left to finish (killed after
``--drain`` s), and one last, unkilled `prec sweep` completes whatever is left.

Checks (exit status 1 if any fails):

- every run id of the spec has exactly one run directory, readable by
  :func:`precision_jax.runs.store.read_summary`; no run was reported ``done``
  by two processes (duplicates 0), none is missing (lost 0), none failed;
- its metrics equal the reference store's bit for bit (``==`` on the floats,
  NaN equal to NaN), and so do its ``model.npz`` arrays;
- no ``.tmp-`` directory or file is left (any found is listed with the pid in
  its name and which process that was, and how it ended), and no ``.ckpt-``
  checkpoint: every run is complete, so any left is half-written state (a
  group finished in parts used to leave its whole-group checkpoint);
- no lock blocks: after every process has exited, each ``.lock-`` file can be
  taken at once, and the final sweep leaves no run incomplete;
- every process exited as its signal says (SIGKILL: -9; SIGINT: 130; not
  killed: 0), and no captured stdout/stderr holds ``Traceback``.

Counts go to ``--json`` (default benchmarks/results/chaos.json).

    python benchmarks/chaos.py [--minutes 10] [--seed 0] [--widths 3 4 ... 14] [--seeds 4]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's precision_jax, as `python -m cli` (cwd REPO) runs it

BASE = {
    "name": "chaos",
    "target": {"equation": "II.8.31"},
    "data": {"train_points": 300, "test_points": 1000, "standardize": True},
    "model": {"kind": "mlp", "depth": 3, "width": 4, "activation": "tanh"},
    "train": [{"kind": "adam", "lr": 1e-3, "steps": 400}, {"kind": "bfgs", "maxiter": 100}],
    "output": {"log_every": 50},
}
SIGINT_PATIENCE = 30.0  # seconds a Ctrl-C may take to end a process (prec: 10 s) before it counts as hung
OUTCOME_LINE = re.compile(r"^\[\d+/\d+\] (\w+)\s+(.*?)(?:  \((.*)\))?$")


@dataclass
class Proc:
    """One started `prec sweep` process: which slot, what was sent to it and how it ended."""

    slot: int
    number: int  # global start count
    pid: int
    log: str
    started: float
    final: bool = False
    signal: Optional[str] = None  # SIGKILL | SIGINT | None
    signalled_at: Optional[float] = None
    returncode: Optional[int] = None
    ended: Optional[float] = None
    hung: bool = False
    popen: Optional[subprocess.Popen] = field(default=None, repr=False)

    def expected(self) -> bool:
        if self.signal == "SIGKILL":
            return self.returncode == -signal.SIGKILL
        if self.signal == "SIGINT":
            # 130 is prec's interrupted status; 0 if the Ctrl-C landed as the sweep ended by itself
            return self.returncode in (130, 0) and not self.hung
        return self.returncode == 0


def sweep_command(spec: Path, store_root: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "cli", "sweep", str(spec), "--out", str(store_root), "--no-progress",
            "--cache-dir", str(cache)]


def start(slot: int, number: int, spec: Path, store_root: Path, cache: Path, logs: Path, env: dict,
          final: bool = False) -> Proc:
    log = logs / ("final.log" if final else f"p{number:03d}-slot{slot}.log")
    with open(log, "wb") as out:
        popen = subprocess.Popen(sweep_command(spec, store_root, cache), cwd=REPO, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return Proc(slot, number, popen.pid, str(log), time.monotonic(), final=final, popen=popen)


def all_complete(run_dirs: dict[str, Path]) -> int:
    return sum((path / "summary.json").is_file() for path in run_dirs.values())


def same_float(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the killer runs (at most)")
    parser.add_argument("--seed", type=int, default=0, help="the killer's random seed")
    parser.add_argument("--widths", type=int, nargs="+", default=list(range(3, 15)))
    parser.add_argument("--seeds", type=int, default=4, help="seeds per width (one seed group per width)")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--min-gap", type=float, default=2.0)
    parser.add_argument("--max-gap", type=float, default=6.0)
    parser.add_argument("--drain", type=float, default=120.0, help="seconds the live processes get to finish "
                                                                  "once the killer stops")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "chaos.json")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a fresh temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (stores and logs) on success")
    args = parser.parse_args()

    from precision_jax.runs import store
    from precision_jax.runs import sweep as sw

    work = args.workdir or Path(tempfile.mkdtemp(prefix="prec-chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    (work / "base.yaml").write_text(yaml.safe_dump(BASE))
    spec = work / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "chaos", "base": "base.yaml",
                                    "grid": {"model.width": args.widths, "seed": list(range(args.seeds))}}))
    runs = sw.expand(sw.load_sweep(str(spec)))
    groups = sw.group_runs(runs)
    ref_root, chaos_root = work / "reference", work / "chaos"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PREC_JAX_CACHE", None)
    print(f"work folder {work}; {len(runs)} runs in {len(groups)} seed groups; {os.cpu_count()} CPUs", flush=True)

    # The reference: one clean, unkilled sweep into its own store, with its own cold cache.
    t0 = time.perf_counter()
    with open(logs / "reference.log", "wb") as out:
        rc = subprocess.run(sweep_command(spec, ref_root, work / "cache-reference"), cwd=REPO, env=env,
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    reference_seconds = time.perf_counter() - t0
    print(f"reference sweep: {reference_seconds:.1f} s, exit {rc}", flush=True)
    if rc != 0:
        sys.exit(f"FAIL: the reference sweep exited {rc}; see {logs / 'reference.log'}")

    run_dirs = {r.run_id: store.run_dir(chaos_root, r.config) for r in runs}
    rng = random.Random(args.seed)
    cache = work / "cache-chaos"
    procs: list[Proc] = []
    live: dict[int, Proc] = {}
    number = 0
    restarts = 0
    natural_restarts = 0
    hangs = 0

    def launch(slot: int) -> None:
        nonlocal number
        number += 1
        p = start(slot, number, spec, chaos_root, cache, logs, env)
        procs.append(p)
        live[slot] = p

    def reap(p: Proc) -> bool:
        rc = p.popen.poll()
        if rc is None:
            return False
        p.returncode, p.ended = rc, time.monotonic()
        return True

    t_chaos = time.monotonic()
    deadline = t_chaos + 60 * args.minutes
    for slot in range(args.processes):
        launch(slot)
    next_kill = time.monotonic() + rng.uniform(args.min_gap, args.max_gap)
    complete = 0
    while True:
        now = time.monotonic()
        complete = all_complete(run_dirs)
        if complete == len(runs) or now >= deadline:
            break
        for slot, p in list(live.items()):
            if reap(p):
                del live[slot]
                restarts += 1
                natural_restarts += p.signal is None
                launch(slot)
            elif p.signal == "SIGINT" and now - p.signalled_at > SIGINT_PATIENCE and not p.hung:
                p.hung = True  # a Ctrl-C that did not end the process: a defect; end it so the soak goes on
                hangs += 1
                os.kill(p.pid, signal.SIGKILL)
        if now >= next_kill:
            candidates = [p for p in live.values() if p.signal is None]
            if candidates:
                victim = rng.choice(candidates)
                name = rng.choice(["SIGKILL", "SIGINT"])
                victim.signal, victim.signalled_at = name, now
                try:
                    os.kill(victim.pid, getattr(signal, name))
                except ProcessLookupError:
                    victim.signal = None  # it had just exited by itself
            next_kill = now + rng.uniform(args.min_gap, args.max_gap)
        time.sleep(0.1)
    chaos_seconds = time.monotonic() - t_chaos
    print(f"killer stopped after {chaos_seconds:.0f} s with {complete}/{len(runs)} runs complete", flush=True)

    # Drain: no more kills; the live processes finish (or are killed after --drain s).
    drain_end = time.monotonic() + args.drain
    while live and time.monotonic() < drain_end:
        for slot, p in list(live.items()):
            if reap(p):
                del live[slot]
        time.sleep(0.2)
    for p in live.values():
        p.signal, p.signalled_at = "SIGKILL", time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        p.popen.wait()
        reap(p)
    live.clear()

    # No lock may be held now that every process has ended.
    blocked_locks = []
    for lock in sorted(chaos_root.rglob(".lock-*")):
        with open(lock, "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            except BlockingIOError:
                blocked_locks.append(str(lock.relative_to(chaos_root)))
    complete_before_final = all_complete(run_dirs)

    # The final, unkilled sweep.
    t0 = time.perf_counter()
    final = start(-1, number + 1, spec, chaos_root, cache, logs, env, final=True)
    final.popen.wait()
    reap(final)
    procs.append(final)
    final_seconds = time.perf_counter() - t0
    print(f"final sweep: {final_seconds:.1f} s, exit {final.returncode}", flush=True)

    # ---------------------------------------------------------------- checks
    failures: list[str] = []
    done_by: dict[str, list[int]] = {}
    tracebacks = []
    for p in procs:
        text = Path(p.log).read_text(errors="replace")
        if "Traceback" in text:
            tracebacks.append(p.log)
        for line in text.splitlines():
            m = OUTCOME_LINE.match(line.strip())
            if m and m.group(1) in ("done", "diverged"):
                done_by.setdefault(m.group(2), []).append(p.number)
            elif m and m.group(1) in ("failed", "timeout"):
                failures.append(f"{Path(p.log).name}: {line.strip()}")
    labels = {r.run_id: r.label for r in runs}
    duplicates = {label: who for label, who in done_by.items() if len(who) > 1}
    unknown = sorted(set(done_by) - set(labels.values()))

    lost, unreadable, mismatched, arrays_differ, partial = [], [], [], [], []
    for r in runs:
        path = run_dirs[r.run_id]
        if not store.is_complete(path):
            lost.append(r.run_id)
            continue
        try:
            got = store.read_summary(path)
        except Exception as exc:  # noqa: BLE001  (any unreadable summary is a failed check, named)
            unreadable.append(f"{r.run_id}: {exc}")
            continue
        if (got.batch or {}).get("seeds", 1) < args.seeds:  # no batch entry: trained alone
            partial.append(r.run_id)  # a group finished in parts: batched over fewer seeds than the reference
        want = store.read_summary(store.run_dir(ref_root, r.config))
        keys = set(got.metrics) | set(want.metrics)
        diff = [k for k in sorted(keys) if not same_float(got.metrics.get(k), want.metrics.get(k))]
        if diff:
            mismatched.append(f"{r.label} ({r.run_id}): " + ", ".join(
                f"{k} {got.metrics.get(k)!r} vs reference {want.metrics.get(k)!r}" for k in diff))
        a = store.read_arrays(path / "model.npz")
        b = store.read_arrays(store.run_dir(ref_root, r.config) / "model.npz")
        if set(a) != set(b) or any(a[k].dtype != b[k].dtype or a[k].shape != b[k].shape
                                   or a[k].tobytes() != b[k].tobytes() for k in a):
            arrays_differ.append(f"{r.label} ({r.run_id})")

    # One run directory per run id, nothing else beside them but prec's own lock and checkpoint files.
    expected_names = {p.name for p in run_dirs.values()}
    run_parent = next(iter(run_dirs.values())).parent
    entries = sorted(run_parent.iterdir()) if run_parent.is_dir() else []
    extra_dirs = [e.name for e in entries if e.is_dir() and e.name not in expected_names
                  and not e.name.startswith(".tmp-")]
    failed_records = [str(p.relative_to(chaos_root)) for p in chaos_root.rglob("failed.json")]
    pids = {p.pid: p for p in procs}
    leftovers = []
    for path in sorted(chaos_root.rglob("*.tmp-*")):
        m = re.search(r"\.tmp-(?:.*-)?(\d+)-[0-9a-f]{8}$", path.name)
        owner = pids.get(int(m.group(1))) if m else None
        whose = (f"pid {owner.pid}, process #{owner.number} (slot {owner.slot}), sent {owner.signal or 'nothing'}, "
                 f"exit {owner.returncode}") if owner else "unknown pid"
        leftovers.append(f"{path.relative_to(chaos_root)} ({'dir' if path.is_dir() else 'file'}; {whose})")
    checkpoints = [str(p.relative_to(chaos_root)) for p in chaos_root.rglob(".ckpt-*") if ".tmp-" not in p.name]
    bad_exits = [f"process #{p.number} (slot {p.slot}{', final' if p.final else ''}): sent {p.signal or 'nothing'}, "
                 f"exit {p.returncode}{' (hung after SIGINT)' if p.hung else ''}; log {p.log}"
                 for p in procs if not p.expected()]

    kills = {"SIGKILL": sum(p.signal == "SIGKILL" and not p.final for p in procs),
             "SIGINT": sum(p.signal == "SIGINT" for p in procs)}
    survived = {name: sum(p.signal == name and p.expected() for p in procs) for name in kills}
    lifetimes = [p.ended - p.started for p in procs if p.ended is not None and not p.final]
    sigint_exit = [p.ended - p.signalled_at for p in procs if p.signal == "SIGINT" and p.ended is not None]
    counts = {
        "runs": len(runs), "seed_groups": len(groups), "processes_at_once": args.processes,
        "minutes": args.minutes, "seed": args.seed, "cpus": os.cpu_count(),
        "processes_started": len(procs) - 1, "restarts": restarts, "natural_restarts": natural_restarts,
        "kills": kills, "kills_survived": survived, "sigint_hangs": hangs,
        "process_lifetime_seconds_median": round(sorted(lifetimes)[len(lifetimes) // 2], 1) if lifetimes else None,
        "sigint_exit_seconds_max": round(max(sigint_exit), 2) if sigint_exit else None,
        "complete_when_killer_stopped": complete, "complete_before_final_sweep": complete_before_final,
        "completed_by_final_sweep": len(runs) - complete_before_final - len(lost),
        "duplicates": len(duplicates) + len(extra_dirs), "lost": len(lost), "failed_records": len(failed_records),
        "runs_batched_with_fewer_seeds": len(partial),
        "metric_mismatches": len(mismatched), "model_array_mismatches": len(arrays_differ),
        "unreadable": len(unreadable), "tmp_leftovers": len(leftovers), "checkpoints_left": len(checkpoints),
        "blocked_locks": len(blocked_locks), "tracebacks": len(tracebacks), "unexpected_exits": len(bad_exits),
        "reference_seconds": round(reference_seconds, 1), "chaos_seconds": round(chaos_seconds, 1),
        "final_sweep_seconds": round(final_seconds, 1),
        "wall_seconds": round(reference_seconds + chaos_seconds + final_seconds, 1),
    }
    problems = {
        "duplicates (reported done by more than one process)": [f"{k}: processes {v}" for k, v in duplicates.items()],
        "run directories that are no run id of the spec": extra_dirs,
        "outcome lines naming no run of the spec": unknown,
        "lost runs (incomplete after the final sweep)": lost,
        "unreadable summaries": unreadable,
        "failure records": failed_records,
        "failed or timed-out outcomes": failures,
        "metrics that differ from the reference": mismatched,
        "model arrays that differ from the reference": arrays_differ,
        "half-written .tmp- entries left": leftovers,
        "checkpoints left with every run complete": checkpoints,
        "locks still held with every process ended": blocked_locks,
        "logs with a Traceback": tracebacks,
        "unexpected exits": bad_exits,
    }
    if final.returncode != 0:
        problems["final sweep"] = [f"exit {final.returncode}; log {final.log}"]
    problems = {k: v for k, v in problems.items() if v}

    print(f"{len(runs)} runs, {len(groups)} seed groups, {args.processes} processes at once, {os.cpu_count()} CPUs")
    print(f"reference sweep {reference_seconds:.1f} s; chaos {chaos_seconds:.1f} s; final sweep {final_seconds:.1f} s")
    print(f"kills: {kills['SIGKILL']} SIGKILL, {kills['SIGINT']} SIGINT; survived {survived['SIGKILL']} + "
          f"{survived['SIGINT']}; restarts {restarts} ({natural_restarts} after a natural exit)")
    print(f"complete when the killer stopped {complete}/{len(runs)}; before the final sweep "
          f"{complete_before_final}/{len(runs)}")
    print(f"runs trained in a partial seed group (fewer seeds batched than the reference): {len(partial)}")
    print(f"duplicates {counts['duplicates']}, lost {len(lost)}, metric mismatches {len(mismatched)}, "
          f"model-array mismatches {len(arrays_differ)}, .tmp- leftovers {len(leftovers)}, "
          f"blocked locks {len(blocked_locks)}, tracebacks {len(tracebacks)}, unexpected exits {len(bad_exits)}")
    print(f"checkpoints left {len(checkpoints)}")
    for what, items in problems.items():
        print(f"FAIL {what}:")
        for item in items:
            print(f"  {item}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"counts": counts, "problems": problems, "checkpoints_left": checkpoints,
                                     "processes": [{f.name: getattr(p, f.name) for f in fields(p) if f.name != "popen"}
                                                   for p in procs]}, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    if problems or args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# The package as a user gets it: build the wheel from the tracked files, install it (not editable) into a fresh
# virtual environment, and from an empty folder run the shipped names (quickstart, the widths sweep, figure 3,
# the guide) with `prec` and with `python -m cli`. Each must exit 0 and write only under that folder; the
# checkout must be left as it was. Dependencies come from pip's usual indexes and cache (jax & co. are wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/prec-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH  # the installed wheel only, never the checkout
t0=$SECONDS

# Build from a copy of what git would commit: a stale build/ or an untracked file in the checkout cannot slip
# into the wheel, and the build writes nothing here.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C "$work/src"
python3 -m pip wheel --quiet --no-deps -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/prec-*.whl)
python3 - "$wheel" <<'EOF'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
for need in ("precision_jax/_configs/quickstart.yaml", "precision_jax/_configs/sweeps/widths.yaml",
             "precision_jax/_configs/figures/3.yaml", "precision_jax/_configs/examples/xy_samples.csv",
             "precision_jax/_configs/precision/auto/xy.yaml", "cli/__main__.py"):
    assert need in names, f"wheel lacks {need}"
assert not any(n.startswith(("configs/", "tests/")) for n in names), "wheel has a top-level configs/ or tests/"
print(f"wheel_smoke: {sys.argv[1].rsplit('/', 1)[-1]}: {len(names)} files")
EOF
python3 -m venv "$work/venv"
# (pip.conf's second index has no page for some names and says so per name: noise, filtered)
"$work/venv/bin/python" -m pip install --quiet "$wheel" 2>&1 | { grep -v "is ignored: it is neither a file" || true; }
(cd "$work" && "$work/venv/bin/python" - "$work/venv" <<'EOF'
import sys
from pathlib import Path
import cli, precision_jax
from precision_jax.config import shipped
venv = Path(sys.argv[1]).resolve()
for what in (Path(cli.__file__), Path(precision_jax.__file__), shipped.shipped_root()):
    assert what.resolve().is_relative_to(venv), f"{what} is not the installed wheel's"
print(f"wheel_smoke: configs read from {shipped.shipped_root()}")
EOF
)
echo "wheel_smoke: built and installed in $((SECONDS - t0)) s"

# New files only (?? untracked, !! ignored): what a command that wrote into the checkout would leave.
new_files() { git status --porcelain --ignored --untracked-files=all | grep -E '^(\?\?|!!)' || true; }
before=$(new_files)
mkdir "$work/user"
cd "$work/user"
prec=("$work/venv/bin/prec")
step() { echo "wheel_smoke: ${prec[*]##*/} $*"; local s=$SECONDS; "${prec[@]}" "$@" >"$work/out.txt" 2>&1 \
         || { cat "$work/out.txt"; echo "wheel_smoke: FAILED: prec $*"; exit 1; }; echo "  ok ($((SECONDS - s)) s)"; }
# The shipped names, smaller: the quickstart as written trains for ~15 s, which tells nothing more here.
step run quickstart train.0.steps=200 train.1.maxiter=200
step sweep widths --dry-run
step reproduce 3 --profile smoke
step guide I.12.11 --write guide.yaml
step configs list
prec=("$work/venv/bin/python" -m cli)  # for environments without the script on PATH
step --version
step configs copy quickstart  # into ./configs, where the name now finds it: the same config, so the same run
step run quickstart train.0.steps=200 train.1.maxiter=200 --quiet
grep -qx "results/quickstart/[0-9a-f]*" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }

# What they wrote is here: the quickstart's run, figure 3's runs and report, the guide's config.
ls -d results/quickstart/*/ results/reproduce-smoke/3 guide.yaml configs/quickstart.yaml >/dev/null
find . -path ./results -prune -o -type f -print | sort
cd "$checkout"
after=$(new_files)
if [ "$before" != "$after" ]; then
    echo "wheel_smoke: FAILED: the commands wrote into the checkout:"; diff <(echo "$before") <(echo "$after") || true
    exit 1
fi
echo "wheel_smoke: passed in $((SECONDS - t0)) s"

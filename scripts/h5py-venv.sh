#!/usr/bin/env bash
# Installs pinned h5py and numpy into target/h5py-venv (or $H5PY_VENV) for the test that reads
# our ptychodus product files back with them (`crates/ptycho-data/tests/product_files.rs`).
# Idempotent: a marker file records the installed pins and a rerun with the same pins only
# checks it. Prints the venv's python executable on its last line of stdout.
#
# Usage: scripts/h5py-venv.sh            (from anywhere; the venv goes under the workspace)
set -euo pipefail

# Binary wheels of both exist for CPython 3.10 to 3.13 on Linux, macOS and Windows.
PINS="h5py==3.14.0 numpy==2.2.6"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${H5PY_VENV:-$root/target/h5py-venv}"
python="$venv/bin/python"
marker="$venv/pins.installed"

# Test processes (nextest runs each test in its own) may call this at the same time: one
# installs, the others wait for it and then find the marker.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
fi

if [[ -x "$python" && -f "$marker" && "$(cat "$marker")" == "$PINS" ]]; then
    echo "$PINS already installed in $venv" >&2
    echo "$python"
    exit 0
fi

if [[ ! -x "$python" ]]; then
    echo "creating the virtual environment $venv" >&2
    python3 -m venv "$venv" >&2 || {
        echo "error: python3 -m venv $venv failed (is python3 with the venv module installed?)" >&2
        exit 1
    }
fi

echo "installing $PINS into $venv (about 40 MB, once)" >&2
start=$(date +%s)
# shellcheck disable=SC2086 # the pins are separate arguments
"$python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: $PINS >&2
echo "installed in $(( $(date +%s) - start )) s" >&2
echo "$PINS" > "$marker"
echo "$python"

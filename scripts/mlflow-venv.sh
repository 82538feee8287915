#!/usr/bin/env bash
# Installs the pinned MLflow into target/mlflow-venv (or $MLFLOW_VENV) for the tracking tests
# (`crates/ptycho-workflows/tests/mlflow_server.rs`) and for looking at runs with `mlflow ui`.
# Idempotent: a marker file records the installed version and a rerun with the same pin only
# checks it. Prints the venv's mlflow executable on its last line of stdout.
#
# Usage: scripts/mlflow-venv.sh            (from anywhere; the venv goes under the workspace)
set -euo pipefail

MLFLOW_VERSION="3.17.2"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MLFLOW_VENV:-$root/target/mlflow-venv}"
python="$venv/bin/python"
marker="$venv/mlflow-version.installed"

# Test processes (nextest runs each test in its own) may call this at the same time: one
# installs, the others wait for it and then find the marker.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
fi

if [[ -x "$venv/bin/mlflow" && -f "$marker" && "$(cat "$marker")" == "$MLFLOW_VERSION" ]]; then
    echo "mlflow $MLFLOW_VERSION already installed in $venv" >&2
    echo "$venv/bin/mlflow"
    exit 0
fi

if [[ ! -x "$python" ]]; then
    echo "creating the virtual environment $venv" >&2
    python3 -m venv "$venv" >&2 || {
        echo "error: python3 -m venv $venv failed (is python3 with the venv module installed?)" >&2
        exit 1
    }
fi

echo "installing mlflow==$MLFLOW_VERSION into $venv (a few hundred MB, once)" >&2
start=$(date +%s)
"$python" -m pip install --quiet --disable-pip-version-check "mlflow==$MLFLOW_VERSION" >&2
echo "installed mlflow $MLFLOW_VERSION in $(( $(date +%s) - start )) s" >&2
echo "$MLFLOW_VERSION" > "$marker"
echo "$venv/bin/mlflow"

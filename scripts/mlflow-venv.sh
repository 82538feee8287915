#!/usr/bin/env bash
# Installs the pinned MLflow into target/mlflow-venv (or $MLFLOW_VENV) for the tracking tests
# (`crates/ptycho-workflows/tests/mlflow_server.rs`) and for looking at runs with `mlflow ui`.
# Idempotent (see pinned-venv.sh). Prints the venv's mlflow executable on its last line of stdout.
#
# Usage: scripts/mlflow-venv.sh            (from anywhere; the venv goes under the workspace)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/pinned-venv.sh"

pinned_venv "${MLFLOW_VENV:-$here/../target/mlflow-venv}" mlflow "a few hundred MB" mlflow==3.17.2

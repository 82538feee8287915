#!/usr/bin/env bash
# Installs pinned h5py and numpy into target/h5py-venv (or $H5PY_VENV) for the test that reads
# our ptychodus product files back with them (`crates/ptycho-data/tests/product_files.rs`).
# Idempotent (see pinned-venv.sh). Prints the venv's python executable on its last line of stdout.
#
# Usage: scripts/h5py-venv.sh            (from anywhere; the venv goes under the workspace)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/pinned-venv.sh"

# Binary wheels of both exist for CPython 3.10 to 3.13 on Linux, macOS and Windows.
pinned_venv "${H5PY_VENV:-$here/../target/h5py-venv}" python "about 40 MB" \
    --only-binary=:all: h5py==3.14.0 numpy==2.2.6

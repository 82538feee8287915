#!/usr/bin/env bash
# Builds the `ptychopinn` wheel (crates/ptycho-py) with maturin, installs it into the virtual
# environment target/py-venv (or $PTYCHO_PY_VENV) and runs its pytest suite
# (crates/ptycho-py/tests). `cargo xtask ci` runs this after the Rust tests.
#
# The wheel is built with the workspace's dev profile into the workspace's target directory, so
# it reuses the Rust build's optimised dependencies (burn is not built a second time). The venv
# is made once and remade when crates/ptycho-py/tests/requirements*.txt change. Extra arguments
# go to pytest.
#
# Usage: scripts/python-test.sh [PYTEST_ARGS...]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tests=crates/ptycho-py/tests
venv="${PTYCHO_PY_VENV:-$root/target/py-venv}"
marker="$venv/requirements.installed"
wanted="$(cat "$tests/requirements.txt" "$tests/requirements-lock.txt")"

if [[ ! -x "$venv/bin/python" || ! -f "$marker" || "$(cat "$marker")" != "$wanted" ]]; then
    echo "creating $venv with the pinned maturin, pytest, numpy and ptychodus" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" || {
        echo "error: python3 -m venv $venv failed (is python3 with the venv module installed?)" >&2
        exit 1
    }
    start=$(date +%s)
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$tests/requirements.txt" -c "$tests/requirements-lock.txt"
    printf '%s' "$wanted" >"$marker"
    echo "installed in $(($(date +%s) - start)) s" >&2
fi

# The wheel reuses the workspace build's artifacts only where its dependencies resolve with the
# same features (crates/ptycho-py/Cargo.toml unifies them); name any crate that differs, since
# it and everything above it are compiled again for the wheel.
tree() { cargo tree "$@" -f '{p} {f}' --prefix none 2>/dev/null | sed 's/ (\*)$//' | sort -u; }
differ="$(comm -23 <(tree -p ptycho-py --features extension-module -e normal,build) \
    <(tree --workspace -e normal,build,dev) | grep -v -E '^(ptycho-py|pyo3[a-z-]*) ' || true)"
if [[ -n "$differ" ]]; then
    echo "warning: these dependencies of the wheel resolve with other features than in the workspace build, so they and their dependents are compiled twice (add them to the unification list in crates/ptycho-py/Cargo.toml):" >&2
    echo "$differ" >&2
fi

wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
start=$(date +%s)
"$venv/bin/maturin" build --profile dev --manifest-path crates/ptycho-py/Cargo.toml \
    --interpreter "$venv/bin/python" --out "$wheels"
echo "wheel built in $(($(date +%s) - start)) s" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps \
    "$wheels"/ptychopinn-*.whl
# No caches or bytecode in the source tree.
PYTHONDONTWRITEBYTECODE=1 exec "$venv/bin/python" -m pytest -p no:cacheprovider "$tests" "$@"

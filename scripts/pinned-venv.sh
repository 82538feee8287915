# Sourced by the scripts that give a test a pinned Python tool (h5py-venv.sh, mlflow-venv.sh):
# `pinned_venv VENV EXECUTABLE WHAT PIP_ARGS...` creates VENV once, installs PIP_ARGS into it,
# records them in a marker file so a rerun with the same pins only checks, and prints
# VENV/bin/EXECUTABLE as the last line of stdout. Everything else goes to stderr.
#
# Test processes (nextest runs each test in its own) may call it at the same time: one installs,
# the others wait on a lock and then find the marker.
pinned_venv() {
    local venv="$1" executable="$2" what="$3"
    shift 3
    local pins="$*" python="$venv/bin/python" marker="$venv/pins.installed"
    mkdir -p "$(dirname "$venv")"
    if command -v flock >/dev/null; then
        exec 9>"$venv.lock"
        flock 9
    fi
    if [[ -x "$venv/bin/$executable" && -f "$marker" && "$(cat "$marker")" == "$pins" ]]; then
        echo "$pins already installed in $venv" >&2
        echo "$venv/bin/$executable"
        return 0
    fi
    if [[ ! -x "$python" ]]; then
        echo "creating the virtual environment $venv" >&2
        python3 -m venv "$venv" >&2 || {
            echo "error: python3 -m venv $venv failed (is python3 with the venv module installed?)" >&2
            return 1
        }
    fi
    echo "installing $pins into $venv ($what, once)" >&2
    local start
    start=$(date +%s)
    "$python" -m pip install --quiet --disable-pip-version-check "$@" >&2
    echo "installed in $(( $(date +%s) - start )) s" >&2
    echo "$pins" > "$marker"
    echo "$venv/bin/$executable"
}

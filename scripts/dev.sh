#!/bin/sh
# One entry point for a fresh Debian 12 machine (root): installs what swarmdeck's lab and
# tests need (apt packages, a virtualenv with the package), then runs what was asked.
#   sh scripts/dev.sh demo    bring the demo lab up and run swarmdeck against it
#   sh scripts/dev.sh test    ruff, mypy, then every test (unit + integration on the real lab)
#   sh scripts/dev.sh setup   only install
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
APT_PACKAGES="docker.io openssh-server openssh-client docker-registry busybox-static iptables iproute2 util-linux procps"

if [ "$(id -u)" != 0 ]; then
    echo "swarmdeck: the lab needs root (namespaces, a bridge, one dockerd per node); re-running with sudo" >&2
    exec sudo sh "$0" "$@"
fi

setup() {
    missing=""
    for pkg in $APT_PACKAGES; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing="$missing python3-venv"
    if [ -n "$missing" ]; then
        echo "installing:$missing" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    if ! "$VENV/bin/python" -m pip install -q -e "$ROOT[test]" >"$VENV/pip.log" 2>&1; then
        cat "$VENV/pip.log" >&2
        echo "swarmdeck: installing the package failed (log above, also in $VENV/pip.log)" >&2
        exit 1
    fi
}

case "${1:-}" in
    setup)
        setup
        ;;
    demo)
        setup
        "$VENV/bin/swarmdeck" lab up
        CONFIG=$("$VENV/bin/swarmdeck" lab env | sed 's/^SWARMDECK_CONFIG=//')
        if [ -t 0 ] && [ -t 1 ]; then
            # the console, on the lab's two clusters (q quits, ? lists the keys)
            "$VENV/bin/swarmdeck" --config "$CONFIG"
        else
            for what in clusters nodes stacks services; do
                echo
                "$VENV/bin/swarmdeck" --config "$CONFIG" ls "$what"
            done
        fi
        echo
        echo "The lab stays up: $VENV/bin/swarmdeck --config $CONFIG     (or: ls tasks, ls nodes...)"
        echo "Remove it with:   $VENV/bin/swarmdeck lab down"
        ;;
    test)
        setup
        "$VENV/bin/ruff" check src tests bench
        "$VENV/bin/mypy"  # what it checks and how: [tool.mypy] in pyproject.toml
        # the 25 slowest listed at the end: where the run's time goes, to keep it short
        "$VENV/bin/python" -m pytest -q --durations=25 tests
        ;;
    *)
        echo "usage: sh scripts/dev.sh demo|test|setup" >&2
        exit 2
        ;;
esac

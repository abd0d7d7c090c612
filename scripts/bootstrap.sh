#!/usr/bin/env bash
# Create .venv with everything bpfjit needs, PeachPy included where it can be had.
#
# PyPI's "peachpy" is a Python-2 release that does not install; Debian's
# python3-peachpy works with Debian's own Python.  So the venv is built from
# /usr/bin/python3 when it exists, with --system-site-packages so that the
# apt-installed PeachPy is importable, and everything else comes from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=python3
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; fi

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if can_apt; then
        echo "bootstrap: installing python3-venv with apt"
        apt_install python3-venv
    else
        echo "bootstrap: $PY cannot create virtualenvs; install python3-venv" >&2
        exit 1
    fi
fi

if ! "$PY" -c 'import peachpy' >/dev/null 2>&1; then
    if can_apt; then
        echo "bootstrap: installing python3-peachpy with apt"
        apt_install python3-peachpy || echo "bootstrap: python3-peachpy could not be installed; the peachpy engine will be unavailable" >&2
    else
        echo "bootstrap: PeachPy is missing and apt is not usable here; the peachpy engine will be unavailable" >&2
    fi
fi

rm -rf .venv
"$PY" -m venv --system-site-packages .venv
.venv/bin/python -m pip install -q --upgrade "pip>=23"
.venv/bin/python -m pip install -q -e '.[test]'
# byte-compile bpfjit now: where PYTHONDONTWRITEBYTECODE is set (as in many containers)
# Python would otherwise compile every module from source in each new process, ~100 of
# the ~150 ms of `import bpfjit`, and the tests, the fuzzer and the llvm engine start
# processes (a module edited later is compiled in memory again until the next bootstrap)
.venv/bin/python -m compileall -q bpfjit backends >/dev/null
.venv/bin/python -c 'import bpfjit; print("bootstrap: bpfjit", bpfjit.__version__, "ready; engines:", ", ".join(bpfjit.engines()))'

#!/bin/sh
# The container's install steps, in one place: the Dockerfile runs them, and so does
# tests/e2e/test_wheel.py in a fresh virtualenv (the tested equivalent where no container
# engine runs).
#   sh deploy/install.sh wheels SOURCE WHEELHOUSE   build rallybot's wheel from SOURCE and fetch
#                                                   every locked dependency (requirements.txt)
#   sh deploy/install.sh install WHEELHOUSE VENV    a virtualenv with rallybot from the wheelhouse
#                                                   alone: exactly the locked versions, no index
# PYTHON names the interpreter (default python3).
set -eu
python="${PYTHON:-python3}"
case "${1:-}" in
  wheels)
    cd "$2"
    # requirements.txt pins every dependency and names rallybot itself as `.`: one resolution.
    "$python" -m pip wheel --quiet --wheel-dir "$3" --requirement requirements.txt
    ;;
  install)
    "$python" -m venv "$3"
    "$3/bin/pip" install --quiet --no-index --find-links "$2" rallybot
    ;;
  *)
    echo "usage: sh deploy/install.sh wheels SOURCE WHEELHOUSE | install WHEELHOUSE VENV" >&2
    exit 2
    ;;
esac

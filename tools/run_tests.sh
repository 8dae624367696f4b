#!/usr/bin/env bash
# The whole test suite on a fresh machine: sets up .venv, then runs pytest
# (the package's tests and research/'s) in two worker processes, a test
# file per worker at a time (pytest-xdist; one pytest process alone keeps
# one core of two busy on average).
#   bash tools/run_tests.sh [TEST_PATH ...] [pytest args]
# Without a test path first: tests/ and research/tests/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/setup_env.sh"
cd "$root"
paths=(tests research/tests)
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then paths=(); fi
exec "${PPDET_GHM_VENV:-$root/.venv}/bin/python" -m pytest -q -n 2 --dist loadfile "${paths[@]}" "$@"

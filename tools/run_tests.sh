#!/usr/bin/env bash
# The whole test suite on a fresh machine: sets up .venv, then runs pytest
# (the package's tests and research/'s).
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/setup_env.sh"
cd "$root"
exec "${PPDET_GHM_VENV:-$root/.venv}/bin/python" -m pytest -q tests research/tests "$@"

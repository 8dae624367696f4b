#!/usr/bin/env bash
# Create or refresh the project's virtual environment with the verified pins.
#   bash tools/setup_env.sh          -> .venv with paddlepaddle (CPU) + ppdet_ghm
#                                       (+ the test and deploy extras)
# Environment:
#   PPDET_GHM_VENV   where the environment lives (default: .venv in the repo)
#   PADDLE_PACKAGE   the Paddle build to install (default: paddlepaddle==3.3.1;
#                    "none" to keep an already installed paddlepaddle-gpu)
#   PYTHON           interpreter that creates the venv (default: python3)
# It reinstalls only when pyproject.toml, constraints.txt or PADDLE_PACKAGE change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PPDET_GHM_VENV:-$root/.venv}"
paddle_pkg="${PADDLE_PACKAGE:-paddlepaddle==3.3.1}"

# the pins (constraints.txt) were verified together on Python 3.11 only
version="$("${PYTHON:-python3}" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [ "$version" != 3.11 ]; then
  echo "[setup_env] warning: ${PYTHON:-python3} is Python ${version:-(not found)}; constraints.txt" \
       "was verified on 3.11 (set PYTHON=python3.11 if you have it)" >&2
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup_env] creating $venv" >&2
  "${PYTHON:-python3}" -m venv "$venv"
fi
stamp="$venv/.ppdet_ghm_installed"
want="$(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -c1-16) $paddle_pkg"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup_env] installing pinned dependencies into $venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=23"
  pkgs=()
  [ "$paddle_pkg" != none ] && pkgs+=("$paddle_pkg")
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$root/constraints.txt" "${pkgs[@]}" -e "$root[test,deploy]"
  if ! out="$("$venv/bin/python" -c "import paddle, ppdet, ppdet_ghm, onnxruntime, paddle2onnx" 2>&1)"; then
    echo "$out" >&2
    echo "[setup_env] ERROR: paddle/ppdet/ppdet_ghm/onnxruntime/paddle2onnx do not import in $venv" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

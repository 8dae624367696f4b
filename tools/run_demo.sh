#!/usr/bin/env bash
# The main job on a fresh machine: sets up .venv, then runs GHM-C / GHM-R
# forward+backward on 100,000 anchors x 80 classes next to PaddleDetection's
# FocalLoss / SmoothL1Loss and prints the timing table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/setup_env.sh"
cd "$root"
exec "${PPDET_GHM_VENV:-$root/.venv}/bin/python" tools/benchmark_losses.py \
  --anchors 100000 --repeats 3 "$@"

#!/usr/bin/env bash
# The main job on a fresh machine (CPU is enough):
#   1. set up .venv, 2. write the demo dataset (once), 3. train the GHM
#   RetinaNet with evaluation, 4. evaluate the final weights (COCO AP table),
#   5. draw val detections into a PNG, 6. plot its gradient-norm analysis,
#   7. plot loss curves and box AP against wall-clock minutes.
#   bash tools/run_demo.sh              # GHM-C + GHM-R
#   bash tools/run_demo.sh --baseline   # also Focal + SmoothL1 and
#                                       # PaddleDetection's own RetinaNet
# Logs and pictures go to logs/demo/; checkpoints to output/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/setup_env.sh"
cd "$root"
py="${PPDET_GHM_VENV:-$root/.venv}/bin/python"
out=logs/demo
mkdir -p "$out"
start=$(date +%s)

"$py" tools/make_demo_data.py --output_dir dataset/ghm_demo

run() {  # run NAME: train, evaluate, draw one demo config
  local name=$1 cfg=configs/demo/$1.yml
  echo "== training $name (progress below; log: $out/$name.train.log)"
  # One process per core (gloo), 4 images each: on this CPU one process
  # runs no faster with 2 threads than with 1 (docs/demo.md).
  "$py" -m paddle.distributed.launch --nproc_per_node 2 --log_dir "output/$name/launch" \
    tools/train.py -c "$cfg" --eval 2>&1 | grep --line-buffered -v -e 'Warning: Unable to use numba' \
    -e 'No ccache found' -e 'warnings.warn' -e '^LAUNCH INFO' | tee "$out/$name.train.log"
  echo "== evaluating output/$name/model_final"
  "$py" tools/eval.py -c "$cfg" -o weights=output/$name/model_final 2>&1 \
    | grep --line-buffered -e 'Average Precision' -e 'Average Recall' | tee "$out/$name.eval.txt"
  "$py" tools/draw_detections.py -c "$cfg" -o weights=output/$name/model_final \
    --num_images 8 --scale 2 --output "$out/$name.detections.png" 2>&1 | grep -e '^detections drawn'
  echo "== $name done, $(( $(date +%s) - start )) s after the start"
}

run retinanet_ghm_demo
echo "== gradient-norm analysis of the GHM model (first 100 val images)"
"$py" tools/analyze_gradients.py -c configs/demo/retinanet_ghm_demo.yml \
  -o weights=output/retinanet_ghm_demo/model_final --num_images 100 \
  --output_dir "$out/gradients" 2>&1 | grep -e '^analysed' -e '^entries with' -e '^wrote'
logs=("$out/retinanet_ghm_demo.train.log") labels=("GHM-C + GHM-R")
if [ "${1:-}" = "--baseline" ]; then
  run retinanet_fl_sl1_demo
  logs+=("$out/retinanet_fl_sl1_demo.train.log") labels+=("FL + SL1")
  run ppdet_retinanet_demo
  logs+=("$out/ppdet_retinanet_demo.train.log") labels+=("PaddleDetection RetinaNet")
fi
"$py" tools/plot_logs.py "${logs[@]}" --labels "${labels[@]}" \
  --output "$out/loss_curves.png" --ap_output "$out/ap_minutes.png" \
  --title "demo: 128x128 shapes, CSPResNet-0.25 FPN-64, 2-core CPU"
echo "== done in $(( $(date +%s) - start )) s; box AP (IoU .50:.95):"
grep -H 'IoU=0.50:0.95 | area=   all | maxDets=100' "$out"/*.eval.txt

#!/usr/bin/env bash
# The main job on a fresh machine (CPU is enough):
#   1. set up .venv, 2. write the demo dataset (once), 3. train the GHM
#   RetinaNet with evaluation, 4. evaluate the final weights (COCO AP table),
#   5. draw val detections into a PNG, 6. plot its gradient-norm analysis,
#   7. plot loss curves and box AP against wall-clock minutes from the runs'
#   records and print this run's box AP.
#
#   bash tools/run_demo.sh [--baseline] [--out DIR] [--data DIR]
#                          [--num_train N --num_val N] [-o KEY=VALUE ...]
#   --baseline   also FocalLoss + SmoothL1 and PaddleDetection's RetinaNet
#   --out DIR    pictures, tables, printed logs and a copy of each run's
#                records (default output/demo; logs/demo holds the committed
#                evidence and changes only when given as --out)
#   --data DIR   where the demo dataset is written and read (dataset/ghm_demo)
#   --num_train N, --num_val N   demo dataset size (3200 / 500)
#   -o ...       config options for every training and evaluation (last flag)
# Checkpoints and records go to save_dir (output/NAME/ unless -o save_dir=...).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
baseline=0 out=output/demo data=dataset/ghm_demo sizes=() options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline=1; shift ;;
    --out) out="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --num_train|--num_val) sizes+=("$1" "$2"); shift 2 ;;
    -o) shift; options=("$@"); break ;;
    *) echo "error: run_demo.sh: unknown argument '$1' (see the header of tools/run_demo.sh)" >&2; exit 2 ;;
  esac
done
bash "$root/tools/setup_env.sh"
cd "$root"
py="${PPDET_GHM_VENV:-$root/.venv}/bin/python"
mkdir -p "$out"
start=$(date +%s)

"$py" tools/make_demo_data.py --output_dir "$data" "${sizes[@]}"
options=("TrainDataset.dataset_dir=$data" "EvalDataset.dataset_dir=$data"
         "TestDataset.dataset_dir=$data" "${options[@]}")
save_dir=$("$py" -c 'import sys, yaml
opts = [o.split("=", 1) for o in sys.argv[1:]]
print(next((yaml.safe_load(v) for k, v in opts if k == "save_dir"), "output"))' "${options[@]}")

runs=() labels=()
run() {  # run NAME LABEL: train, evaluate, draw one demo config
  local name=$1 cfg=configs/demo/$1.yml weights=$save_dir/$1/model_final
  echo "== training $name (progress below; printed log: $out/$name.train.log)"
  # One process per core (gloo), 4 images each: on this CPU one process
  # runs no faster with 2 threads than with 1 (docs/demo.md).
  "$py" -m paddle.distributed.launch --nproc_per_node 2 --log_dir "$save_dir/$name/launch" \
    tools/train.py -c "$cfg" --eval -o "${options[@]}" 2>&1 | grep --line-buffered -v \
    -e 'Warning: Unable to use numba' -e 'No ccache found' -e 'warnings.warn' -e '^LAUNCH INFO' \
    | tee "$out/$name.train.log"
  echo "== evaluating $weights"
  "$py" tools/eval.py -c "$cfg" -o weights="$weights" "${options[@]}" 2>&1 \
    | grep --line-buffered -e 'Average Precision' -e 'Average Recall' -e '^error:' | tee "$out/$name.eval.txt"
  "$py" tools/draw_detections.py -c "$cfg" -o weights="$weights" "${options[@]}" \
    --num_images 8 --scale 2 --output "$out/$name.detections.png" 2>&1 | grep -e '^detections drawn' -e '^error:'
  # this run's records next to its pictures (the plots below read these)
  mkdir -p "$out/$name"
  cp "$save_dir/$name/loss_rank0.jsonl" "$save_dir/$name/eval_records.jsonl" "$out/$name/"
  runs+=("$out/$name") labels+=("$2")
  echo "== $name done, $(( $(date +%s) - start )) s after the start"
}

run retinanet_ghm_demo "GHM-C + GHM-R"
echo "== gradient-norm analysis of the GHM model (first 100 val images)"
"$py" tools/analyze_gradients.py -c configs/demo/retinanet_ghm_demo.yml \
  -o weights="$save_dir/retinanet_ghm_demo/model_final" "${options[@]}" --num_images 100 \
  --output_dir "$out/gradients" 2>&1 | grep -e '^analysed' -e '^entries with' -e '^wrote' -e '^error:'
if [ "$baseline" = 1 ]; then
  run retinanet_fl_sl1_demo "FL + SL1"
  run ppdet_retinanet_demo "PaddleDetection RetinaNet"
fi
echo "== done in $(( $(date +%s) - start )) s; this run's last evaluations:"
"$py" tools/plot_logs.py "${runs[@]}" --labels "${labels[@]}" \
  --output "$out/loss_curves.png" --ap_output "$out/ap_minutes.png" \
  --title "demo: 128x128 shapes, CSPResNet-0.25 FPN-64, 2-core CPU"

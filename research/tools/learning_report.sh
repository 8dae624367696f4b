#!/usr/bin/env bash
# The measurements of docs/learning.md: the memorization table (every row is
# one research/tools/memorize.py run: 4 demo images, train = eval, box AP from
# its evaluation records), then the per-level gradient probes (research/tools/analyze_learning.py) of
# GHM and FocalLoss under SGD and of GHM under AdamW.  ~10 minutes here.
#   bash research/tools/learning_report.sh [OUT_DIR]   (default output/learning;
#   logs/learning holds the committed tables)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
py="${PPDET_GHM_VENV:-$root/.venv}/bin/python"
out="${1:-output/learning}"
mkdir -p "$out"
table="$out/memorization.md"
echo '| case | optimizer, lr, steps | change | box AP | seconds |' > "$table"
echo '|---|---|---|---:|---:|' >> "$table"
row() {  # row CASE OPT LR STEPS CHANGE [-o KEY=VALUE...]
  local case=$1 opt=$2 lr=$3 steps=$4 change=$5; shift 5
  local name="${case}_${opt}_${lr}_${steps}${change:+_$change}" start=$(date +%s)
  local log="$out/$name.log" run="output/memorize/$name"
  rm -rf "$run"   # the run's records below are this row's only
  "$py" -m research.tools.memorize --case "$case" --optimizer "$opt" --lr "$lr" --steps "$steps" \
    --output_dir "$run" "$@" > "$log" 2>&1 || true
  local ap   # the last evaluation record the training wrote (none: failed)
  ap=$("$py" -c 'import sys
from ppdet_ghm.records import read_json_lines
evals = read_json_lines(sys.argv[1])
print("{:.3f}".format(evals[-1]["bbox"]["AP"]) if evals else "")' "$run/$case/eval_records.jsonl")
  echo "| $case | $opt, $lr, $steps | ${change:--} | ${ap:-failed} | $(( $(date +%s) - start )) |" | tee -a "$table"
}
row ghm_c+ghm_r adamw 0.0003 200 ''
row ghm_c+smooth_l1 adamw 0.002 100 ''
row focal+smooth_l1 adamw 0.002 100 ''
row ghm_c+ghm_r adamw 0.002 100 ''
row ghm_c+ghm_r adamw 0.002 100 'GHMRLoss.mu=0.2' -o GHMRLoss.mu=0.2
row ghm_c+ghm_r adamw 0.002 100 'GHMRLoss.momentum=0' -o GHMRLoss.momentum=0.0
row ghm_c+ghm_r adamw 0.002 100 'GHMCLoss.momentum=0' -o GHMCLoss.momentum=0.0
row ghm_c+ghm_r adamw 0.002 100 'loss_per_level=false' -o GHMRetinaHead.loss_per_level=false
row ghm_c+ghm_r sgd 0.01 200 ''
row ghm_c+smooth_l1 sgd 0.01 200 ''
row focal+smooth_l1 sgd 0.01 200 ''
echo "wrote $table"

probe() {  # probe NAME CASE OPTIMIZER LR STEPS: statistics at 0, STEPS/2, STEPS
  local config
  config=$("$py" -m research.tools.memorize --case "$2" --optimizer "$3" --lr "$4" --steps "$5" \
    --output_dir "output/probe/$1" --write_only | tail -n 1)  # ppdet prints notices first
  "$py" -m research.tools.analyze_learning -c "$config" --steps "$5" --output "$out/probe_$1.json" \
    2>&1 | sed -n '/^pre-clip/,$p' > "$out/probe_$1.txt"
  echo "wrote $out/probe_$1.txt"
}
probe ghm_sgd ghm_c+ghm_r sgd 0.01 200
probe focal_sgd focal+smooth_l1 sgd 0.01 200
probe ghm_adamw ghm_c+ghm_r adamw 0.002 100

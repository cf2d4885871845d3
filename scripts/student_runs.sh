#!/usr/bin/env bash
# The validation runs that chose the demo student and its recipe (docs/results.md,
# "Students that learn"). Each run trains once (seed 0, 1,500 steps, batch 32,
# 2 threads) and is judged on the VALIDATION split only (500 images, seed 2).
# Flags are spelled out, so the runs mean the same after defaults change.
#   scripts/student_runs.sh [NAME...]     (no name: all of them; ~3 min each)
set -euo pipefail
cd "$(dirname "$0")/.."
EKD=${EKD:-.build/release/ekd}
OUT=${OUT:-runs/exp}
old=(--mode baseline --steps 1500 --seed 0 --threads 2 --lr 2e-3 --warmup 0)
sets() {  # the on-disk sets of the first runs: 6,000 training images at 128²
  local views=$1 root=$2
  [ -f "$root/train/labels.json" ] || $EKD synth --out "$root/train" --count 6000 --size 128 --seed 1 --views "$views"
  [ -f "$root/val/labels.json" ] || $EKD synth --out "$root/val" --count 500 --size 128 --seed 2 --views "$views"
  [ -f "$root/bounds.json" ] || $EKD bounds --dataset synth --root "$root" --out "$root/bounds.json"
}
run() {
  local name=$1; shift
  [ -f "$OUT/$name/validation.json" ] && return
  $EKD train "$@" --out "$OUT/$name"
}
want() { [ $# -eq 0 ] || [[ " ${NAMES[*]} " == *" $1 "* ]]; }
NAMES=("$@")
# 1. The old student (tiny) on 6,000 pre-rendered hands; uniform views, then capture views.
#    (e1 was measured with the renderer before the viewpoint model, commit da1125b: no
#    forearm, old colours. Today's --views uniform adds the forearm and the new shading.)
if want e1-hm0 || want e1-hm1; then sets uniform runs/synth-uniform; fi
want e1-hm0 && run e1-hm0 --student tiny --dataset synth --root runs/synth-uniform --bounds runs/synth-uniform/bounds.json --lambda-heatmap 0 "${old[@]}"
want e1-hm1 && run e1-hm1 --student tiny --dataset synth --root runs/synth-uniform --bounds runs/synth-uniform/bounds.json --lambda-heatmap 1 "${old[@]}"
if want e2-hm0 || want e2-hm1 || want e3-small-hm1; then sets capture runs/synthc; fi
want e2-hm0 && run e2-hm0 --student tiny --dataset synth --root runs/synthc --bounds runs/synthc/bounds.json --lambda-heatmap 0 "${old[@]}"
want e2-hm1 && run e2-hm1 --student tiny --dataset synth --root runs/synthc --bounds runs/synthc/bounds.json --lambda-heatmap 1 "${old[@]}"
# 2. The small student.
want e3-small-hm1 && run e3-small-hm1 --student small --dataset synth --root runs/synthc --bounds runs/synthc/bounds.json --lambda-heatmap 1 "${old[@]}"
# 3. Fresh hands every step (no --root), capture views: the heatmap weight and σ, the learning rate.
want e4-A && run e4-A --student small --dataset synth --lambda-heatmap 1 "${old[@]}"
want e4-B && run e4-B --student small --dataset synth --lambda-heatmap 3 "${old[@]}"
want e4-C && run e4-C --student small --dataset synth --lambda-heatmap 1 --heatmap-sigma 1.5 "${old[@]}"
want e4-D && run e4-D --student small --dataset synth --lambda-heatmap 1 "${old[@]}" --warmup 100 --lr 3e-3
want e5-E && run e5-E --student small --dataset synth --lambda-heatmap 0.3 "${old[@]}"
# 4. The teacher's schedule (full EKD): on from the start, or from half-way with a ramp.
want e5-F0 && run e5-F0 --student small --dataset synth --lambda-heatmap 1 "${old[@]}" --mode full
want e5-F1 && run e5-F1 --student small --dataset synth --lambda-heatmap 1 "${old[@]}" --mode full --teacher-start 750 --teacher-ramp 300
# 5. The paper student as `make paper` trains it (ts500m at 64², 3,000 steps): its learning rate.
p6=(--student ts500m --input 64 --dataset synth --mode baseline --steps 3000 --batch 32 --seed 0 --threads "${THREADS:-2}" --warmup 100 --lambda-heatmap 1)
want e6-lr3e-3 && run e6-lr3e-3 "${p6[@]}" --lr 3e-3
want e6-lr1e-2 && run e6-lr1e-2 "${p6[@]}" --lr 1e-2
want e6-lr1e-3 && run e6-lr1e-3 "${p6[@]}" --lr 1e-3
want e6-lr3e-2 && run e6-lr3e-2 "${p6[@]}" --lr 3e-2
# 6. The paper student toward 0.80: higher rates, more steps, smaller batches (validation only).
want e7-lr6e-2 && run e7-lr6e-2 "${p6[@]}" --lr 6e-2
want e7-lr1e-1 && run e7-lr1e-1 "${p6[@]}" --lr 1e-1
want e7-s6000 && run e7-s6000 "${p6[@]}" --lr 3e-2 --steps 6000
want e7-b16-s6000 && run e7-b16-s6000 "${p6[@]}" --lr 3e-2 --steps 6000 --batch 16
want e7-b64 && run e7-b64 "${p6[@]}" --lr 3e-2 --batch 64
python3 - "$OUT" <<'PY'
import json, glob, os, sys
for d in sorted(glob.glob(os.path.join(sys.argv[1], 'e*', 'validation.json'))):
    m = json.load(open(d))['metrics']
    print(f"{d.split('/')[-2]:14s} val 3D AUC {m['auc_3d']:.3f}  EPE {m['epe_mean_mm']:5.1f} mm  2D AUC {m['auc_2d']:.3f}  V.F. {m['vf']:.4f}")
PY

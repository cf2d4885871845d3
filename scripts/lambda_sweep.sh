#!/usr/bin/env bash
# The λ investigation of docs/results.md: variants of the EKD weights, each
# trained once (seed 0, 1000 steps) and judged on the VALIDATION split only.
set -euo pipefail
EKD=${EKD:-.build/release/ekd}
ROOT=${ROOT:-runs/synth}
OUT=${OUT:-runs/lambda}
common=(--student tiny --dataset synth --root "$ROOT" --bounds "$ROOT/bounds.json" --steps 1000 --seed 0 --threads 2)
run() {  # name mode λ1 λ2 λ3
  "$EKD" train --mode "$2" --lambda-angle "$3" --lambda-offset "$4" --lambda-modified "$5" "${common[@]}" --out "$OUT/$1"
}
run full-l3-0.1        full  1   1 0.1
run full-l1-0.1-l3-0.1 full  0.1 1 0.1
run theta-l1-0.1       theta 0.1 1 1
run op-l3-0.1          op    1   1 0.1

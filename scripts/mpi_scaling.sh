#!/usr/bin/env bash
# Issue 11's measurement: training images/s of one process (THREADS threads) against
# `mpirun -np 2` (THREADS/2 threads per rank, so both use the same cores), and the
# gradient all-reduce's time per step, for each student given.
#   scripts/mpi_scaling.sh [STEPS] [STUDENT[@INPUT]...]
# Logs land in runs/mpi-scaling/; the summary lines are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
EKD=${EKD:-.build/release/ekd}
STEPS=${1:-200}; shift || true
STUDENTS=("$@")
[ ${#STUDENTS[@]} -gt 0 ] || STUDENTS=(small@64 ts500m@64 resnet50@128)
THREADS=${THREADS:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=runs/mpi-scaling
mkdir -p "$OUT"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $STEPS steps, global batch 32, baseline mode, in-memory synthetic hands"
for spec in "${STUDENTS[@]}"; do
  name=${spec%@*}; input=${spec#*@}
  common=(train --student "$name" --input "$input" --mode baseline --steps "$STEPS" --batch 32 --seed 0 --checkpoint-every 100000 --dataset synth)
  rm -rf "$OUT/$name-1" "$OUT/$name-2"
  "$EKD" "${common[@]}" --threads "$THREADS" --out "$OUT/$name-1" > "$OUT/$name-1.log" 2>&1
  mpirun -np 2 --oversubscribe --bind-to none "$EKD" "${common[@]}" --threads $((THREADS / 2 > 0 ? THREADS / 2 : 1)) --out "$OUT/$name-2" > "$OUT/$name-2.log" 2>&1
  one=$(grep -o 'trained [0-9]* images in [0-9.]* s: [0-9.]* img/s' "$OUT/$name-1.log" | grep -o '[0-9.]* img/s')
  two=$(grep -o 'trained [0-9]* images in [0-9.]* s: [0-9.]* img/s' "$OUT/$name-2.log" | grep -o '[0-9.]* img/s')
  ar=$(grep -o 'gradient all-reduce over 2 ranks: [0-9.]* ms per step, [0-9.]*%' "$OUT/$name-2.log" | sed 's/gradient all-reduce over 2 ranks: //')
  echo "$name@$input: 1 process × $THREADS threads $one; 2 ranks × $((THREADS / 2 > 0 ? THREADS / 2 : 1)) thread(s) $two; all-reduce $ar of the step"
done

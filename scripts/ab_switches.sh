#!/usr/bin/env bash
# A/B of this session's speed changes with the switches that turn each off
# (docs/performance.md): the same release binary, each configuration run twice in
# alternation, ours only (no PyTorch), 2 threads, median of 5 per figure.
#   scripts/ab_switches.sh pool-images   # EKD_AB_NO_POOL / EKD_AB_NO_IMAGES, all four combinations
#   scripts/ab_switches.sh thin          # EKD_AB_NO_THIN (per-layer times of the thin convs)
#   scripts/ab_switches.sh thin-only     # EKD_AB_THIN_ONLY: ThinGEMM on every forward GEMM (AVX-512) or on
#                                        # the thin ones only, one thread, squeezenet1_1 and resnet50
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=.build/release/EKDBench
run() { env "$@" $BENCH --suites students --students tiny,ts500m,squeezenet1_1 --threads 2 --repetitions 5 --python "" 2>/dev/null; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
case "${1:-pool-images}" in
pool-images)
  for pass in 1 2; do
    for cfg in X=1 EKD_AB_NO_IMAGES=1 EKD_AB_NO_POOL=1 "EKD_AB_NO_POOL=1 EKD_AB_NO_IMAGES=1"; do
      echo "== pass $pass: $cfg"
      # shellcheck disable=SC2086
      run $cfg | sed -n '/^student /,/^profile/p' | grep -Ev '^(profile|student)'
    done
  done ;;
thin)
  for pass in 1 2; do
    for cfg in X=1 EKD_AB_NO_THIN=1; do
      echo "== pass $pass: $cfg"
      run $cfg | grep -E '^(tiny|ts500m|squeezenet1_1) |conv1 |stage1.0|stage2.0|features.0 |r1.conv2|res.0.conv2'
    done
  done ;;
thin-only)
  for pass in 1 2; do
    for cfg in X=1 EKD_AB_THIN_ONLY=1; do
      echo "== pass $pass: $cfg"
      env $cfg $BENCH --suites students --students squeezenet1_1,resnet50 --threads 1 --repetitions 5 --python "" 2>/dev/null |
        grep -E '^(squeezenet1_1|resnet50) |inference, batch'
    done
  done ;;
*) echo "usage: $0 pool-images|thin|thin-only" >&2; exit 2 ;;
esac

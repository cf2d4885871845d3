#!/usr/bin/env bash
# Training throughput with on-the-fly rendering against pre-rendered images
# (issue: rendering must not become the bottleneck). Same student, same steps,
# same seed; prints the images/s of each and their ratio.
#   scripts/render_overhead.sh [STEPS] [STUDENT]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-300}; STUDENT=${2:-small}
EKD=.build/release/ekd
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
$EKD synth --out "$DIR/synth/train" --count $((STEPS * 32)) --size 128 --seed 1 --threads 2 > /dev/null 2>&1
$EKD synth --out "$DIR/synth/val" --count 32 --size 128 --seed 2 > /dev/null 2>&1
rate() { grep -o 'trained .* img/s' "$1" | grep -o '[0-9.]* img/s' | cut -d' ' -f1; }
$EKD train --student "$STUDENT" --mode baseline --dataset synth --root "$DIR/synth" --steps "$STEPS" --out "$DIR/disk" > /dev/null 2> "$DIR/disk.log"
$EKD train --student "$STUDENT" --mode baseline --dataset synth --steps "$STEPS" --out "$DIR/fresh" > /dev/null 2> "$DIR/fresh.log"
d=$(rate "$DIR/disk.log"); f=$(rate "$DIR/fresh.log")
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $STUDENT, $STEPS steps of 32, 2 threads"
echo "pre-rendered PNGs: $d img/s; rendered on the fly: $f img/s; ratio $(python3 -c "print(round($f/$d, 3))")"

#!/usr/bin/env bash
# Issue 13's latency target: `ekd predict` on one 640×480 JPEG with a box, tiny student,
# measured as whole-process time by hyperfine after warm-up runs.
#   scripts/predict_latency.sh [RUNS]
# The JPEG is a synthetic hand (`ekd synth`, 256²) pasted into a 640×480 frame and
# written by Pillow (libjpeg); the checkpoint is a tiny student trained for 50 steps
# (accuracy does not matter for timing). Writes runs/latency/hyperfine.json.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
EKD=.build/release/ekd
DIR=runs/latency
mkdir -p "$DIR"
SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
command -v hyperfine > /dev/null || { echo "installing hyperfine" >&2; $SUDO apt-get update -qq && $SUDO apt-get install -y -qq hyperfine > /dev/null; }
PY=.venv-onnx/bin/python
[ -x "$PY" ] || { python3 -m venv .venv-onnx; }
"$PY" -c "import PIL" 2> /dev/null || .venv-onnx/bin/pip install -q pillow
[ -f "$DIR/tiny/checkpoint.safetensors" ] || "$EKD" train --student tiny --mode baseline --steps 50 --batch 16 --out "$DIR/tiny" > "$DIR/train.log" 2>&1 \
  || { cat "$DIR/train.log" >&2; exit 1; }
"$EKD" synth --out "$DIR/synth" --count 1 --size 256 --seed 4 > /dev/null 2>&1
"$PY" - "$DIR" << 'PY'
import sys
from PIL import Image
d = sys.argv[1]
frame = Image.new("RGB", (640, 480), (96, 110, 124))
frame.paste(Image.open(f"{d}/synth/images/000000.png").convert("RGB"), (192, 112))
frame.save(f"{d}/hand-640x480.jpg", quality=90)
PY
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
hyperfine --warmup 3 --runs "$RUNS" --export-json "$DIR/hyperfine.json" \
  "$EKD predict --checkpoint $DIR/tiny --box 192,112,256,256 --threads 1 --out $DIR/out $DIR/hand-640x480.jpg"

#!/usr/bin/env bash
# Soak test (issue 12): run one long `ekd train` and sample its resident memory, to show that
# memory stays flat over hours of training. Usage:
#   scripts/soak.sh MINUTES OUT [ekd train options…]
# Writes OUT/rss.csv (seconds, VmRSS KiB, VmHWM KiB, last progress line) and OUT/soak.txt
# (the summary below). The run is stopped after MINUTES if it has not finished by then.
set -euo pipefail
minutes=${1:?minutes}; out=${2:?out directory}; shift 2
ekd=${EKD:-.build/release/ekd}
mkdir -p "$out"
"$ekd" train --out "$out" "$@" > "$out/train.log" 2>&1 &
pid=$!
start=$(date +%s)
echo "seconds,rss_kib,hwm_kib,progress" > "$out/rss.csv"
while kill -0 "$pid" 2>/dev/null; do
  now=$(date +%s); elapsed=$((now - start))
  if [ -r "/proc/$pid/status" ]; then
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    last=$(tr '\r' '\n' < "$out/train.log" | grep -E '^[a-z0-9_]+/[a-z]+: [0-9]+/' | tail -1 | cut -d' ' -f2 || true)
    [ -n "$rss" ] && echo "$elapsed,$rss,$hwm,$last" >> "$out/rss.csv"
  fi
  if [ "$elapsed" -ge $((minutes * 60)) ]; then kill "$pid" 2>/dev/null || true; break; fi
  sleep 10
done
wait "$pid" 2>/dev/null || true
python3 - "$out" <<'PY'
import csv, statistics, sys
out = sys.argv[1]
rows = [r for r in csv.DictReader(open(f"{out}/rss.csv")) if r["rss_kib"]]
t = [int(r["seconds"]) for r in rows]; rss = [int(r["rss_kib"]) / 1024 for r in rows]
def window(lo, hi):
    v = [m for s, m in zip(t, rss) if lo <= s < hi]
    return statistics.median(v) if v else float("nan")
end = t[-1]
early, late = window(300, 900), window(end - 600, end + 1)
n = len(t); mt, mr = sum(t) / n, sum(rss) / n
slope = sum((a - mt) * (b - mr) for a, b in zip(t[n // 10:], rss[n // 10:])) / max(1e-9, sum((a - mt) ** 2 for a in t[n // 10:]))
lines = [
    f"samples {n} over {end / 60:.1f} min, last step {rows[-1]['progress']}",
    f"RSS median minutes 5-15: {early:.1f} MiB; last 10 minutes: {late:.1f} MiB; max {max(rss):.1f} MiB",
    f"RSS slope after the first tenth: {slope * 3600:.2f} MiB/hour",
]
open(f"{out}/soak.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

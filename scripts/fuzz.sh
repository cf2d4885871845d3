#!/usr/bin/env bash
# make fuzz: build the libFuzzer harnesses of Fuzz/ and run each for N seconds on a
# copy of its seed corpus; print one table row per harness (executions, seconds,
# crashes). Crash inputs land in runs/fuzz/<harness>/crashes/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
PER=${1:-60}; shift || true
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(FuzzPickle FuzzMAT FuzzSafetensors FuzzImage FuzzSynthLabels FuzzFreiHAND FuzzLMJoints)
# SwiftPM names an executable's entry `<target>_main` and aliases `main` to it, which
# clashes with libFuzzer's own `main`: so the harnesses are built with AddressSanitizer and
# libFuzzer's coverage (inline 8-bit counters, PC table, comparisons) and link libFuzzer
# without its main; each harness's `<target>_main` calls LLVMFuzzerRunDriver (FuzzSupport).
NOMAIN=$(ls /opt/swift/usr/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | head -1)
[ -n "$NOMAIN" ] || NOMAIN=$(find "$(dirname "$(dirname "$(command -v swiftc)")")" -name 'libclang_rt.fuzzer_no_main-x86_64.a' | head -1)
FLAGS=(-c release -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp
  -Xswiftc -parse-as-library -Xcc -fsanitize=fuzzer-no-link,address -Xlinker "$NOMAIN" -Xlinker -lstdc++)
(cd Fuzz && swift build "${FLAGS[@]}" >&2)
BIN=$(cd Fuzz && swift build "${FLAGS[@]}" --show-bin-path)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| harness | executions | seconds | crashes |"
echo "|---|---|---|---|"
failed=0
for h in "${HARNESSES[@]}"; do
  work=runs/fuzz/$h
  rm -rf "$work"; mkdir -p "$work/corpus" "$work/crashes"
  cp Fuzz/Corpus/$h/* "$work/corpus/"
  # malloc_limit: no single allocation beyond 1 GiB (the dataset limits are far below it).
  ASAN_OPTIONS=detect_leaks=1 "$BIN/$h" "$work/corpus" -max_total_time="$PER" -timeout=10 -rss_limit_mb=3072 -malloc_limit_mb=1024 -detect_leaks=1 \
    -artifact_prefix="$work/crashes/" -print_final_stats=1 > "$work/log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "$work/crashes" -type f | wc -l)
  [ "$crashes" -eq 0 ] || failed=1
  echo "| $h | $execs | $PER | $crashes |"
done
exit $failed

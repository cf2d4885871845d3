#!/usr/bin/env bash
# ThinGEMM against single-threaded OpenBLAS on the students' conv GEMM shapes, on one
# thread, B out of cache ("cold") and in cache ("hot"): Benchmarks/micro/thin_gemm_bench.c.
#   scripts/thin_gemm_micro.sh [isa]   isa: 2 AVX-512 (default), 1 AVX2, 0 portable
# OPENBLAS_CORETYPE=Haswell makes OpenBLAS run its AVX2 kernels, as on the Zen 3. Built with
# clang, as SwiftPM builds CKernels (GCC does not keep the register blocks in registers).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/thin_gemm_bench
mkdir -p .build
clang -O2 -ISources/CKernels/include -ISources/CKernels -I/usr/include/x86_64-linux-gnu/openblas-pthread \
  Benchmarks/micro/thin_gemm_bench.c Sources/CKernels/thin_gemm.c -lopenblas -o "$out"
echo "cpu: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs), $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2)"
OPENBLAS_NUM_THREADS=1 "$out" "${1:-2}"

#!/usr/bin/env python3
"""Summarise several EKDBench JSON reports: per layer, the median over runs of
each run's ratio (ours / raw sgemm measured in the same run), with min and max.

Usage: python3 scripts/bench_summary.py bench-results/gemm-t2-*.json
"""
import json
import statistics
import sys

runs = [json.load(open(p)) for p in sys.argv[1:]]
if not runs:
    sys.exit("usage: bench_summary.py REPORT.json ...")
threads = {r["threads"] for r in runs}
print(f"{len(runs)} runs, threads {sorted(threads)}, batch {runs[0]['batch']}, "
      f"median of {runs[0]['repetitions']} per run")
peaks = [r["sgemm_peak_gflops"] for r in runs]
print(f"sgemm 2048^3: median {statistics.median(peaks):.1f} GFLOP/s (runs: {', '.join(f'{p:.0f}' for p in peaks)})")
print(f"{'layer':34} {'fwd ratio':>18} {'bwd ratio':>18} {'conv fwd GF/s':>14} {'conv bwd GF/s':>14}")
for i, row in enumerate(runs[0]["conv"]):
    f = [r["conv"][i]["forward_ratio"] for r in runs]
    b = [r["conv"][i]["backward_ratio"] for r in runs]
    cf = statistics.median(r["conv"][i]["conv_forward_gflops"] for r in runs)
    cb = statistics.median(r["conv"][i]["conv_backward_gflops"] for r in runs)
    fmt = lambda v: f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"
    print(f"{row['name']:34} {fmt(f):>18} {fmt(b):>18} {cf:14.1f} {cb:14.1f}")
pools = [r["pool"] for r in runs if "pool" in r]
if pools:
    on = statistics.median(p["step_ms_pool"] for p in pools)
    off = statistics.median(p["step_ms_no_pool"] for p in pools)
    fon = statistics.median(p["faults_per_step_pool"] for p in pools)
    foff = statistics.median(p["faults_per_step_no_pool"] for p in pools)
    print(f"conv/BN/ReLU training step: {on:.0f} ms with the pool ({fon:.0f} faults/step), "
          f"{off:.0f} ms without ({foff:.0f} faults/step)")

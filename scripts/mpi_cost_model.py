#!/usr/bin/env python3
"""Scale-out cost model for data-parallel EKD training over MPI (issue 11).

    mpi_cost_model.py BENCH.json [--allreduce-json RUN.json]

BENCH.json is `make bench`'s output (per student: parameters, training images/s at
batch B on this machine's THREADS threads). The model, per step, for N ranks that
each hold a batch of B (weak scaling: the global batch grows with N):

  gradient bytes  G = 4 · trainable parameters (float32), plus the offset network's
  compute         T_c = B / (training images/s of one process)
  ring all-reduce T_ar(N) = 2 (N−1)/N · G / bandwidth + 2 (N−1) · latency
  step            T(N) = T_c + T_ar(N)        (no overlap of communication and backward)
  efficiency      T_c / T(N);  images/s = N · B / T(N)

for 10 and 25 Gbit/s Ethernet (1.25e9 and 3.125e9 bytes/s) and a per-message latency
of 30 µs. Communication dominates where T_ar > T_c: the model prints the first N
where that happens (or "never" up to 64). A real network adds contention and MPI
overheads, so these are upper bounds on efficiency.
"""
import json
import sys

OFFSET_NETWORK_PARAMETERS = 127 * 256 + 256 + 256 * 256 + 256 + 256 * 63 + 63  # fc1..fc3 of the teacher's offset network (tiny's 64 features; ±wider students add a little)
LATENCY = 30e-6
NETWORKS = {"10 Gbit/s": 1.25e9, "25 Gbit/s": 3.125e9}
RANKS = [2, 4, 8, 16, 32, 64]

bench = json.load(open(sys.argv[1]))
batch = bench["batch"]
print(f"per-rank batch {batch}; compute from {sys.argv[1]} ({bench.get('blas', '')[:60]}…), {bench['threads']} threads per rank")
print()
header = f"{'student':<14} {'grad MB':>8} {'T_c ms':>8} " + " ".join(f"{'N=' + str(n):>7}" for n in RANKS) + "   communication dominates from"
for name, bandwidth in NETWORKS.items():
    print(f"efficiency T_c / (T_c + T_ar) on {name}, latency {LATENCY * 1e6:.0f} µs:")
    print(header)
    for s in bench["students"]:
        g = 4 * (s["params"] + OFFSET_NETWORK_PARAMETERS)
        tc = batch / s["train_ips"]
        cells, dominated = [], None
        for n in range(2, 65):
            tar = 2 * (n - 1) / n * g / bandwidth + 2 * (n - 1) * LATENCY
            if n in RANKS:
                cells.append(f"{tc / (tc + tar):7.2f}")
            if dominated is None and tar > tc:
                dominated = n
        print(f"{s['name']:<14} {g / 1e6:8.1f} {1000 * tc:8.1f} " + " ".join(cells) + f"   {'N = ' + str(dominated) if dominated else 'never (N ≤ 64)'}")
    print()

#!/usr/bin/env python3
"""Scale-out cost model for data-parallel EKD training over MPI (issue 11).

    mpi_cost_model.py BENCH.json [EKD_BINARY]

BENCH.json is `make bench`'s output (per student: parameters, training images/s at
batch B with THREADS threads, on this machine). `ekd info --json` (EKD_BINARY,
default .build/release/ekd) counts each student's batch-norm layers.

Weak scaling: every rank keeps a shard of B images, so `--batch` is N·B. Per step:

  gradient bytes  G = 4 · (student parameters + the offset network's)
  compute         T_c = B / (one process's training images/s)
  gradients       ring all-reduce in 4 MiB buckets:
                  2 (N−1)/N · G / bandwidth + buckets · 2 (N−1) · latency
  synchronised BN 3 small all-reduces per BN layer (sums and squares forward,
                  Σdy and Σdy·x̂ backward), latency-bound: 3 · BN · 2 ⌈log2 N⌉ · latency
  step            T(N) = T_c + T_comm(N)   (communication does not overlap backward)
  efficiency      T_c / T(N);  images/s = N · B / T(N)

on 10 and 25 Gbit/s Ethernet (1.25e9 and 3.125e9 bytes/s), latency 30 µs per
message. Communication dominates from the first N where T_comm > T_c. A real
network adds contention and MPI overheads: these are upper bounds on efficiency.

Strong scaling, the second table: the global batch stays 32 (`ekd train`'s default),
so each rank holds 32/N images and T_c = (32/N) / images/s, assuming a step's cost
is proportional to its images (optimistic for small shards); N stops at 32.
"""
import json
import math
import subprocess
import sys

OFFSET_NETWORK = 127 * 256 + 256 + 256 * 256 + 256 + 256 * 63 + 63  # the teacher's fc1..fc3 (64 features; wider students add a little)
LATENCY = 30e-6
BUCKET = 4 << 20
NETWORKS = {"10 Gbit/s": 1.25e9, "25 Gbit/s": 3.125e9}
RANKS = [2, 4, 8, 16, 32, 64]

bench = json.load(open(sys.argv[1]))
ekd = sys.argv[2] if len(sys.argv) > 2 else ".build/release/ekd"
batch = bench["batch"]


def batch_norms(name, size):
    info = json.loads(subprocess.run([ekd, "info", name, "--input", str(size), "--json"], capture_output=True, text=True, check=True).stdout)
    return sum(1 for layer in info["layers"] if layer["kind"].startswith("BatchNorm"))


def communication(n, g, bns, bandwidth):
    buckets = math.ceil(g / BUCKET)
    ring = 2 * (n - 1) / n * g / bandwidth + buckets * 2 * (n - 1) * LATENCY
    return ring + 3 * bns * 2 * math.ceil(math.log2(n)) * LATENCY


print(f"shard of {batch} images per rank (--batch {batch}·N); compute measured in {sys.argv[1]} with {bench['threads']} threads per rank")
print()
for label, bandwidth in NETWORKS.items():
    print(f"efficiency T_c / (T_c + T_comm) on {label}, latency {LATENCY * 1e6:.0f} µs per message:")
    print(f"{'student':<14} {'grad MB':>8} {'BN':>4} {'T_c ms':>8} " + " ".join(f"{'N=' + str(n):>7}" for n in RANKS) + "   communication dominates from")
    for s in bench["students"]:
        g = 4 * (s["params"] + OFFSET_NETWORK)
        bns = batch_norms(s["name"], s["input"])
        tc = batch / s["train_ips"]
        cells = [f"{tc / (tc + communication(n, g, bns, bandwidth)):7.2f}" for n in RANKS]
        dominated = next((n for n in range(2, 65) if communication(n, g, bns, bandwidth) > tc), None)
        print(f"{s['name']:<14} {g / 1e6:8.1f} {bns:4d} {1000 * tc:8.1f} " + " ".join(cells) + f"   {'N = ' + str(dominated) if dominated else 'never (N ≤ 64)'}")
    print()

GLOBAL = 32
print(f"strong scaling: global batch {GLOBAL} split over N ranks (N ≤ {GLOBAL}), step time T_c + T_comm, and speed-up over one rank:")
for label, bandwidth in NETWORKS.items():
    print(f"on {label}:")
    print(f"{'student':<14} " + " ".join(f"{'N=' + str(n):>14}" for n in [1] + [n for n in RANKS if n <= GLOBAL]) + "   communication dominates from")
    for s in bench["students"]:
        g = 4 * (s["params"] + OFFSET_NETWORK)
        bns = batch_norms(s["name"], s["input"])
        one = GLOBAL / s["train_ips"]
        cells, dominated = [f"{1000 * one:9.0f} ms 1.0×"], None
        for n in range(2, GLOBAL + 1):
            tc = GLOBAL / n / s["train_ips"]
            t = tc + communication(n, g, bns, bandwidth)
            if n in RANKS:
                cells.append(f"{1000 * t:6.0f} ms {one / t:4.1f}×")
            if dominated is None and communication(n, g, bns, bandwidth) > tc:
                dominated = n
        print(f"{s['name']:<14} " + " ".join(f"{c:>14}" for c in cells) + f"   {'N = ' + str(dominated) if dominated else 'never (N ≤ 32)'}")
    print()


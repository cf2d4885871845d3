#!/usr/bin/env python3
"""Where ONNX Runtime's time goes, node by node, on a student's PyTorch twin: the peer
that `make bench` compares our inference with (Benchmarks/peers/torch_students.py).

Exports the twin as the peer script does (opset 17), runs it with the same session
options (intra-op threads, sequential execution) and ONNX Runtime's own profiler, and
prints the median time of each node over the profiled runs, costliest first, beside the
run's wall time. Our side of the comparison is EKDBench's per-node profile
(`inference_profile_b1` / `inference_profile` in its JSON).

    .venv-peers/bin/python scripts/ort_profile.py --student squeezenet1_1 --size 224 --batch 1
"""
import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Benchmarks", "peers"))
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch_students  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--student", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="ort-profile-")
    path = os.path.join(workdir, f"twin-{args.student}.onnx")
    torch_students.export_twin(torch_students.build(args.student), args.size, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(workdir, "profile")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.randn(args.batch, 3, args.size, args.size).astype(np.float32)
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:  # warm up, as the peer script does (and longer)
        session.run(None, {name: x})
    t0 = time.perf_counter()
    for _ in range(args.runs):
        session.run(None, {name: x})
    wall = (time.perf_counter() - t0) / args.runs
    with open(session.end_profiling()) as f:
        events = json.load(f)
    times = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            times[(e["name"][: -len("_kernel_time")], e["args"].get("op_name", "?"))].append(e["dur"])
    medians = sorted(((statistics.median(v) / 1000, k) for k, v in times.items()), reverse=True)
    print(f"{args.student} @{args.size}, batch {args.batch}, {args.threads} threads: "
          f"{wall * 1000:.3f} ms a run (profiler on), nodes' medians sum to {sum(m for m, _ in medians):.3f} ms")
    for ms, (node, op) in medians[: args.top]:
        print(f"  {op:<14} {ms:8.3f} ms  {node}")


if __name__ == "__main__":
    main()

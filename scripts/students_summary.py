#!/usr/bin/env python3
"""Summarise the students suite of several EKDBench JSON reports (`make bench` runs):
per student, the median over runs of each figure, and of each run's ratio ours / peer
(measured side by side in that run), with min and max.

Usage: python3 scripts/students_summary.py runs/bench/make-bench-*.json
"""
import json
import statistics
import sys

runs = [json.load(open(p)) for p in sys.argv[1:]]
if not runs:
    sys.exit("usage: students_summary.py REPORT.json ...")
print(f"{len(runs)} runs, threads {sorted({r['threads'] for r in runs})}, batch {runs[0]['batch']}, "
      f"median of {runs[0]['repetitions']} per run; {runs[0]['blas']}")
print("sgemm peak GFLOP/s per run: " + ", ".join(f"{r['sgemm_peak_gflops']:.0f}" for r in runs))


def fmt(values, digits):
    m = statistics.median(values)
    return f"{m:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})" if len(values) > 1 else f"{m:.{digits}f}"


def figure(name, get, digits=2):
    values = []
    for r in runs:
        s = next((s for s in r.get("students", []) if s["name"] == name), None)
        try:
            v = get(s)
        except (KeyError, TypeError, ZeroDivisionError):
            continue
        if v is not None:
            values.append(v)
    return fmt(values, digits) if values else "-"


names = [s["name"] for s in runs[0].get("students", [])]
columns = [
    ("ours b1", lambda s: s["infer_b1_ips"], 1),
    ("ORT b1", lambda s: s["torch"]["ort_b1_ips"], 1),
    ("ours/ORT b1", lambda s: s["infer_b1_ips"] / s["torch"]["ort_b1_ips"], 2),
    ("ours/torch b1", lambda s: s["infer_b1_ips"] / s["torch"]["infer_b1_ips"], 2),
    ("ours b8", lambda s: s["infer_b8_ips"], 1),
    ("ORT b8", lambda s: s["torch"]["ort_b8_ips"], 1),
    ("ours/ORT b8", lambda s: s["infer_b8_ips"] / s["torch"]["ort_b8_ips"], 2),
    ("ours/torch b8", lambda s: s["infer_b8_ips"] / s["torch"]["infer_b8_ips"], 2),
    ("train ours", lambda s: s["train_ips"], 2),
    ("train workers", lambda s: s["train_replicas_ips"], 2),
    ("train torch", lambda s: s["torch"]["train_ips"], 2),
    ("train/torch", lambda s: s["train_ips"] / s["torch"]["train_ips"], 2),
    ("workers/torch", lambda s: s["train_replicas_ips"] / s["torch"]["train_ips"], 2),
    ("RSS MiB", lambda s: s["peak_rss_mib"], 0),
    ("workers RSS", lambda s: s["train_replicas_peak_rss_mib"], 0),
    ("torch RSS", lambda s: s["torch"]["peak_rss_mib"], 0),
]
print("| student | " + " | ".join(c[0] for c in columns) + " |")
print("|---" * (len(columns) + 1) + "|")
for name in names:
    print(f"| {name} | " + " | ".join(figure(name, get, d) for _, get, d in columns) + " |")

#!/usr/bin/env python3
"""Markdown tables for docs/results.md from the runs' JSON reports.

Usage: python3 scripts/results_table.py runs/ablation runs/lambda
  - runs/ablation/ablation.json (from `ekd ablation`): test split, mean ± std per mode,
    and each run's validation metrics (runs/ablation/<mode>-seed<k>/validation.json);
  - runs/lambda/<variant>/validation.json (from scripts/lambda_sweep.sh): validation split.
"""
import json
import os
import statistics
import sys

ablation_dir = sys.argv[1]
a = json.load(open(os.path.join(ablation_dir, "ablation.json")))
print(f"Test split, {a['seeds']} seeds per mode, {a['steps']} steps, student {a['student']}:\n")
print("| mode | 3D AUC | V.F. | EPE mean (mm) | invalid samples |")
print("|---|---|---|---|---|")
for row in a["table"]:
    runs = [r["test"] for r in a["runs"] if r["mode"] == row["mode"]]
    inv = [r["vf_samples"] for r in runs]
    sd = statistics.stdev(inv) if len(inv) > 1 else 0
    print(f"| {row['mode']} | {row['auc_3d_mean']:.3f} ± {row['auc_3d_std']:.3f} | {row['vf_mean']:.4f} ± {row['vf_std']:.4f} "
          f"| {row['epe_mean_mm']:.1f} ± {row['epe_std_mm']:.1f} | {statistics.mean(inv):.3f} ± {sd:.3f} |")

print("\nValidation split, the same runs:\n")
print("| mode | 3D AUC | V.F. |")
print("|---|---|---|")
for row in a["table"]:
    vals = []
    for r in a["runs"]:
        if r["mode"] != row["mode"]:
            continue
        p = os.path.join(ablation_dir, f"{r['mode']}-seed{r['seed']}", "validation.json")
        vals.append(json.load(open(p))["metrics"])
    au = [v["auc_3d"] for v in vals]
    vf = [v["vf"] for v in vals]
    print(f"| {row['mode']} | {statistics.mean(au):.3f} ± {statistics.stdev(au) if len(au) > 1 else 0:.3f} "
          f"| {statistics.mean(vf):.4f} ± {statistics.stdev(vf) if len(vf) > 1 else 0:.4f} |")

if len(sys.argv) > 2:
    lam = sys.argv[2]
    print("\nλ variants, seed 0, validation split only:\n")
    print("| variant | 3D AUC | V.F. | EPE mean (mm) |")
    print("|---|---|---|---|")
    for name in sorted(os.listdir(lam)):
        p = os.path.join(lam, name, "validation.json")
        if os.path.exists(p):
            m = json.load(open(p))["metrics"]
            print(f"| {name} | {m['auc_3d']:.3f} | {m['vf']:.4f} | {m['epe_mean_mm']:.1f} |")

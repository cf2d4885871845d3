#!/usr/bin/env python3
"""The paper's Table 1 layout (docs/results.md) from the cells of an `ekd ablation` directory.

Usage: python3 scripts/paper_table.py runs/paper-capture-lr3e-2-s8000

Reads OUT/<mode>-seed<k>/test.json and validation.json of every finished cell (a
cell without test.json is still training and is left out, so a partial grid prints
what it has, saying how many seeds each row holds). Prints mean ± std over seeds
(sample std), the per-seed paired difference to the baseline's AUC, the share of
test hands with any violated angle, and the validation AUC.
"""
import glob
import json
import os
import re
import statistics
import sys

MODES = [("baseline", "baseline"), ("theta", "theta (+Loss_θ)"), ("op", "op (+Loss_off, Loss_pos_mod)"), ("full", "full (EKD)")]


def cells(root):
    out = {}
    for d in glob.glob(os.path.join(root, "*-seed*")):
        m = re.match(r"(\w+)-seed(\d+)$", os.path.basename(d))
        test, val = os.path.join(d, "test.json"), os.path.join(d, "validation.json")
        if m and os.path.exists(test):
            out[(m.group(1), int(m.group(2)))] = (json.load(open(test))["metrics"], json.load(open(val))["metrics"])
    return out


def ms(xs, digits):
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.{digits}f} ± {sd:.{digits}f}"


def main():
    got = cells(sys.argv[1])
    base = {s: t["auc_3d"] for (m, s), (t, _) in got.items() if m == "baseline"}
    print("| mode | seeds | 3D AUC | V.F. | EPE mean (mm) | ΔAUC vs baseline, paired by seed | samples with a violation | val 3D AUC |")
    print("|---|---|---|---|---|---|---|---|")
    for key, label in MODES:
        seeds = sorted(s for (m, s) in got if m == key)
        if not seeds:
            continue
        t = [got[(key, s)][0] for s in seeds]
        v = [got[(key, s)][1] for s in seeds]
        paired = [got[(key, s)][0]["auc_3d"] - base[s] for s in seeds if s in base]
        delta = "–" if key == "baseline" or not paired else ms(paired, 3) + f" (n={len(paired)})"
        print(
            f"| {label} | {','.join(map(str, seeds))} | {ms([x['auc_3d'] for x in t], 3)} | {ms([x['vf'] for x in t], 4)} "
            f"| {ms([x['epe_mean_mm'] for x in t], 1)} | {delta} | {statistics.mean(x['vf_samples'] for x in t):.3f} "
            f"| {ms([x['auc_3d'] for x in v], 3)} |"
        )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Compares two EKD checkpoints tensor by tensor (issue 11's equivalence contract).

    compare_checkpoints.py A/checkpoint.safetensors B/checkpoint.safetensors [TOLERANCE]

For every student.* and teacher.offset.* float tensor: max |a - b| / max |b|.
Prints the worst tensors and exits 1 when any exceeds TOLERANCE (default 1e-4).
"""
import sys

from safetensors.numpy import load_file

a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
names = sorted(k for k in b if k.startswith(("student.", "teacher.offset.")) and b[k].dtype.kind == "f")
assert names and set(names) <= set(a), "the checkpoints hold different tensors"
errors = {k: float(abs(a[k] - b[k]).max() / max(abs(b[k]).max(), 1e-30)) for k in names}
worst = sorted(errors.items(), key=lambda kv: -kv[1])
for k, e in worst[:5]:
    print(f"{e:.3e}  {k}")
print(f"{len(names)} tensors, worst relative difference {worst[0][1]:.3e} (tolerance {tolerance:g})")
sys.exit(0 if worst[0][1] <= tolerance else 1)

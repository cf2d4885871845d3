#!/usr/bin/env python3
"""Loads a safetensors file with the reference implementation and prints a JSON
summary (name -> dtype, shape, flat values) on stdout. Used by the Swift tests to
prove that files EKD writes load in Python.

Usage: python3 read_safetensors.py FILE
"""
import json
import sys

from safetensors import safe_open

out = {"tensors": {}, "metadata": None}
with safe_open(sys.argv[1], framework="numpy") as f:
    out["metadata"] = f.metadata()
    for name in f.keys():
        t = f.get_tensor(name)
        out["tensors"][name] = {"dtype": str(t.dtype), "shape": list(t.shape), "values": t.reshape(-1).tolist()}
json.dump(out, sys.stdout)

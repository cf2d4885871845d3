#!/usr/bin/env python3
"""Writes the safetensors fixture that EKDLayersTests reads.

Run from this directory: python3 make_fixtures.py   (needs numpy and safetensors)
The values are closed-form so the Swift test can check them without this script.
"""
import numpy as np
from safetensors.numpy import save_file

tensors = {
    # A conv weight [O, C, kh, kw] with value 0.5*i - 3 at flat index i.
    "layer1.0.conv1.weight": (np.arange(2 * 3 * 2 * 2, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 2, 2),
    # Double precision: value i / 7 (the reader converts to Float32).
    "layer1.0.bn1.running_var": np.arange(5, dtype=np.float64) / 7.0,
    # Half precision: value 0.25 * i.
    "head.bias": (np.arange(4, dtype=np.float16) * np.float16(0.25)),
    # PyTorch stores num_batches_tracked as int64.
    "layer1.0.bn1.num_batches_tracked": np.array(12345, dtype=np.int64),
}
save_file(tensors, "python_written.safetensors", metadata={"producer": "make_fixtures.py", "format": "pt"})

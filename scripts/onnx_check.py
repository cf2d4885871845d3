#!/usr/bin/env python3
"""Checks an `ekd export` file in the real runtime (issue 13).

    onnx_check.py MODEL.onnx CROPS.f32 EXPECTED.f32 [THREADS]

CROPS.f32 holds float32 crops [N, 3, S, S] (N and S from the model's input and the
file size); EXPECTED.f32 holds EKD's own uvz [N, 21, 3] for them. The script runs
onnx.checker.check_model, then ONNX Runtime, and compares each of u, v and z:
max |ort - ekd| / max |ekd| must be at most 1e-4. Prints one JSON line; exit 1 on
a mismatch.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

model_path, crops_path, expected_path = sys.argv[1:4]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
model = onnx.load(model_path)
onnx.checker.check_model(model, full_check=True)
opset = {o.domain: o.version for o in model.opset_import}[""]
dims = model.graph.input[0].type.tensor_type.shape.dim
c, s = dims[1].dim_value, dims[2].dim_value
crops = np.fromfile(crops_path, dtype=np.float32).reshape(-1, c, s, s)
expected = np.fromfile(expected_path, dtype=np.float32).reshape(crops.shape[0], -1, 3)
options = ort.SessionOptions()
options.intra_op_num_threads = threads
session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
(got,) = session.run(["uvz"], {"crops": crops})
errors = [float(np.abs(got[..., k] - expected[..., k]).max() / max(np.abs(expected[..., k]).max(), 1e-12)) for k in range(3)]
report = {"model": model_path, "opset": opset, "batch": int(crops.shape[0]), "relative_error_u_v_z": errors,
          "nodes": len(model.graph.node), "ops": sorted({n.op_type for n in model.graph.node})}
print(json.dumps(report))
sys.exit(0 if max(errors) <= 1e-4 else 1)

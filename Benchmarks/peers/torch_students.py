#!/usr/bin/env python3
"""PyTorch twins of EKD's students, timed the way EKDBench times ours.

The architectures are built layer for layer as in Sources/EKDModels (same widths,
kernels, strides, padding, bias flags, ceil-mode pooling, nearest upsampling), so
the MAC counts agree exactly; fvcore's count is reported next to ours as a check.

Timing, with torch.set_num_threads(THREADS) and the same batch and input size:
- inference: model.eval(), torch.no_grad(), images/s at batch 1 and at BATCH;
- training step: model.train(), forward, 2.5D decode (spatial softmax + expected
  (u, v) and z), L1 loss on (u/W, v/H, z), backward, Adam step — EKD's baseline
  step. (The EKD teacher's angle loss is not reproduced in PyTorch.)
Medians of REPS runs after one warm-up.

ONNX Runtime (CPU provider, THREADS intra-op threads, sequential execution), at
batch 1 and BATCH, on two files per student:
- the PyTorch twin exported with torch.onnx.export (opset 17, dynamic batch):
  the fastest CPU engine on the same architecture;
- with --ekd-onnx name=FILE,…, EKD's own `ekd export` of the student (BN folded,
  2.5D decode included): the fastest CPU engine on our very graph and weights.

Usage: python torch_students.py --students tiny,resnet50 --sizes tiny=64,resnet50=224 \
         --threads 2 --batch 8 --reps 5 --out results.json
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

J = 21


class Residual(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        mid = max(cout // 2, 1)
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, cout, 1)
        self.skip = None if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + (x if self.skip is None else self.skip(x))


class Hourglass(nn.Module):
    def __init__(self, depth, f):
        super().__init__()
        self.up1, self.low1, self.low3 = Residual(f, f), Residual(f, f), Residual(f, f)
        self.low2 = Hourglass(depth - 1, f) if depth > 1 else Residual(f, f)

    def forward(self, x):
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2, 2))))
        return self.up1(x) + F.interpolate(low, scale_factor=2, mode="nearest")


class StackedHourglass(nn.Module):
    def __init__(self, stacks, f, stem=(64, 128), depth=4):
        super().__init__()
        o = 2 * J
        self.stacks = stacks
        self.conv1, self.bn1 = nn.Conv2d(3, stem[0], 7, stride=2, padding=3), nn.BatchNorm2d(stem[0])
        self.r1, self.r4, self.r5 = Residual(stem[0], stem[1]), Residual(stem[1], stem[1]), Residual(stem[1], f)
        self.hg = nn.ModuleList([Hourglass(depth, f) for _ in range(stacks)])
        self.res = nn.ModuleList([Residual(f, f) for _ in range(stacks)])
        self.lin = nn.ModuleList([nn.Sequential(nn.Conv2d(f, f, 1), nn.BatchNorm2d(f), nn.ReLU()) for _ in range(stacks)])
        self.out = nn.ModuleList([nn.Conv2d(f, o, 1) for _ in range(stacks)])
        self.ll_ = nn.ModuleList([nn.Conv2d(f, f, 1) for _ in range(stacks - 1)])
        self.out_ = nn.ModuleList([nn.Conv2d(o, f, 1) for _ in range(stacks - 1)])

    def forward(self, x):
        x = self.r5(self.r4(F.max_pool2d(self.r1(F.relu(self.bn1(self.conv1(x)))), 2, 2)))
        outs = []
        for i in range(self.stacks):
            y = self.lin[i](self.res[i](self.hg[i](x)))
            o = self.out[i](y)
            outs.append(o)
            if i < self.stacks - 1:
                x = x + self.ll_[i](y) + self.out_[i](o)
        return outs


class Head25D(nn.Module):
    def __init__(self, cin, width, ups):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.up = nn.ModuleList([nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                               nn.Conv2d(width, width, 3, padding=1, bias=False),
                                               nn.BatchNorm2d(width), nn.ReLU()) for _ in range(ups)])
        self.out = nn.Conv2d(width, 2 * J, 1)

    def forward(self, x):
        x = self.reduce(x)
        for u in self.up:
            x = u(x)
        return self.out(x)


class Backbone(nn.Module):
    def __init__(self, body, head):
        super().__init__()
        self.body, self.head = body, head

    def forward(self, x):
        return [self.head(self.body(x))]


def block(i, o, s):
    return nn.Sequential(nn.Conv2d(i, o, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())


class Tiny(nn.Module):
    def __init__(self, w=16):
        super().__init__()
        self.stage1, self.stage2, self.stage3 = block(3, w, 2), block(w, 2 * w, 2), block(2 * w, 4 * w, 2)
        self.context, self.fuse = block(4 * w, 4 * w, 1), block(6 * w, 4 * w, 1)
        self.out = nn.Conv2d(4 * w, 2 * J, 1)

    def forward(self, x):
        s2 = self.stage2(self.stage1(x))
        c = F.interpolate(self.context(self.stage3(s2)), scale_factor=2, mode="nearest")
        return [self.out(self.fuse(torch.cat([s2, c], 1)))]


def build(name):
    torch.manual_seed(0)
    if name == "ts120g":
        return StackedHourglass(2, 512)
    if name == "ts20g":
        return StackedHourglass(1, 256)
    if name == "ts500m":
        return StackedHourglass(1, 38, stem=(8, 16))
    if name == "tiny":
        return Tiny()
    if name == "resnet50":
        r = torchvision.models.resnet50(weights=None)
        return Backbone(nn.Sequential(*list(r.children())[:-2]), Head25D(2048, 128, 2))
    if name in ("squeezenet1_0", "squeezenet1_1"):
        s = getattr(torchvision.models, name)(weights=None)
        return Backbone(s.features, Head25D(512, 64, 1))
    raise ValueError(name)


def decode(out, size):
    b, c, h, w = out.shape
    p = F.softmax(out[:, :J].reshape(b, J, h * w), dim=-1)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    gx = ((xs.reshape(-1).float() + 0.5) * size / w - 0.5)
    gy = ((ys.reshape(-1).float() + 0.5) * size / h - 0.5)
    u, v = (p * gx).sum(-1), (p * gy).sum(-1)
    z = (p * out[:, J:].reshape(b, J, h * w)).sum(-1)
    return torch.stack([u, v, z], -1)


def median_time(fn, reps, minimum_seconds=0.025, warmup_seconds=0.25):
    """Seconds of one call: median of `reps` repetitions after a warm-up of one call and
    more until `warmup_seconds` have passed, each repetition as many back-to-back calls
    as fill `minimum_seconds`, divided out (EKDBench's Harness.median does the same for ours)."""
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        last = time.perf_counter() - t0
        if time.perf_counter() - start >= warmup_seconds:
            break
    calls = max(1, min(1000, int(minimum_seconds / max(last, 1e-9))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


def ort_ips(path, size, batches, threads, reps):
    import numpy as np
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = {}
    for b in batches:
        x = np.random.randn(b, 3, size, size).astype(np.float32)
        out[b] = b / median_time(lambda: session.run(None, {name: x}), reps)
    return out


def export_twin(model, size, path):
    kwargs = dict(opset_version=17, input_names=["crops"], dynamic_axes={"crops": {0: "batch"}})
    x = torch.randn(1, 3, size, size)
    try:
        torch.onnx.export(model.eval(), (x,), path, dynamo=False, **kwargs)
    except TypeError:  # torch without the dynamo switch
        torch.onnx.export(model.eval(), (x,), path, **kwargs)


def fvcore_macs(model, size):
    try:
        from fvcore.nn import FlopCountAnalysis
        fca = FlopCountAnalysis(model.eval(), torch.randn(1, 3, size, size))
        fca.unsupported_ops_warnings(False)
        fca.uncalled_modules_warnings(False)
        return int(fca.total())
    except Exception as e:  # fvcore missing or failing: report, do not fail the run
        return f"unavailable: {e}"


def reset_peak_rss():
    """Resets the kernel's high-water mark of this process's RSS (Linux), as EKDBench does for itself."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", required=True)
    ap.add_argument("--sizes", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ekd-onnx", default="", help="name=FILE,… from `ekd export`, timed in ONNX Runtime")
    ap.add_argument("--workdir", default="/tmp")
    args = ap.parse_args()
    ekd_files = dict(kv.split("=", 1) for kv in args.ekd_onnx.split(",") if kv)
    torch.set_num_threads(args.threads)
    sizes = dict(kv.split("=") for kv in args.sizes.split(",") if kv)
    results = {"torch": torch.__version__, "threads": args.threads, "batch": args.batch, "students": {}}
    for name in args.students.split(","):
        size = int(sizes.get(name, 224))
        reset_peak_rss()  # from here to the training step's end: this student's peak, as EKDBench measures ours
        model = build(name)
        r = {"input": size, "fvcore_macs": fvcore_macs(model, size)}
        model.eval()
        with torch.no_grad():
            for b in (1, args.batch):
                x = torch.randn(b, 3, size, size)
                r[f"infer_b{b}_ips"] = b / median_time(lambda: model(x), args.reps)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randn(args.batch, 3, size, size)
        target = torch.rand(args.batch, J, 3) * size

        def step():
            opt.zero_grad()
            outs = model(x)
            loss = sum(((decode(o, size) - target).abs() / torch.tensor([size, size, 1.0])).sum() for o in outs) / args.batch
            loss.backward()
            opt.step()
        r["train_ips"] = args.batch / median_time(step, args.reps)
        r["peak_rss_mib"] = peak_rss_mib()
        try:
            twin = f"{args.workdir}/twin-{name}.onnx"
            export_twin(model, size, twin)
            for b, ips in ort_ips(twin, size, (1, args.batch), args.threads, args.reps).items():
                r[f"ort_b{b}_ips"] = ips
        except Exception as e:  # report, do not lose the PyTorch figures
            r["ort_error"] = repr(e)
        if name in ekd_files:
            try:
                for b, ips in ort_ips(ekd_files[name], size, (1, args.batch), args.threads, args.reps).items():
                    r[f"ort_ekd_b{b}_ips"] = ips
            except Exception as e:
                r["ort_ekd_error"] = repr(e)
        results["students"][name] = r
        print(name, r, flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

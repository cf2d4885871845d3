#!/usr/bin/env python3
"""Writes tiny fixtures in the real datasets' on-disk layouts, with the tools
that wrote the real files: Python's pickle with NumPy arrays (RHD, LM),
SciPy's savemat (STB), json (FreiHAND), Pillow for PNG/JPEG images.

Run from this directory: python3 make_fixtures.py  (numpy, scipy, pillow).
`python3 make_fixtures.py invalid` rewrites only invalid/ (numpy, scipy): files
each reader must refuse with an error, one defect apiece.

Every joint's coordinates encode the *canonical* index it must land on, worked
out here from the joint NAMES of each dataset's documentation (not from EKD's
gather tables), so the Swift tests check the tables joint by joint.
"""
import io
import json
import os
import pickle
import shutil
import struct
import sys
import zlib

import numpy as np
import scipy.io

CANONICAL = ["wrist", "thumb1", "thumb2", "thumb3", "thumb4", "index1", "index2", "index3", "index4",
             "middle1", "middle2", "middle3", "middle4", "ring1", "ring2", "ring3", "ring4",
             "little1", "little2", "little3", "little4"]  # 1 = base ... 4 = tip
FINGERS = ["thumb", "index", "middle", "ring", "little"]


def canon(name):
    return CANONICAL.index(name)


def image(path, size, colour, fmt):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = Image.new("RGB", size, colour)
    for x in range(0, size[0], 56):  # a few stripes, so decoding is not trivially flat
        for y in range(size[1]):
            img.putpixel((x, y), (255 - colour[0], colour[1], 255 - colour[2]))
    img.save(path, fmt, **({"quality": 75} if fmt == "JPEG" else {}))


def fresh(d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)


def invalid_fixtures():
    """Label files with one defect each; the Swift tests copy in any images they need."""
    fresh("invalid")
    # RHD, protocol 2 (Python 3 writes array data through _codecs.encode): one sample, id 0,
    # whose left hand (the one with visible keypoints, so the one taken) has u = 1e20 at
    # README row 1, thumb tip.
    xyz = np.zeros((42, 3))
    uv = np.zeros((42, 3))
    for hand in range(2):
        for j in range(21):
            xyz[21 * hand + j] = [0.001 * j + 0.1 * hand, 0.002 * j, 0.5 + 0.001 * j]
            uv[21 * hand + j] = [100 + j + 50 * hand, 120 + j, 1.0 if hand == 0 else 0.0]
    uv[1, 0] = 1e20
    k = np.array([[283.1, 0, 160], [0, 283.1, 160], [0, 0, 1]])
    with open("invalid/rhd_uv_1e20.pickle", "wb") as f:
        pickle.dump({0: {"xyz": xyz, "uv_vis": uv, "K": k}}, f, protocol=2)
    # STB: one frame whose handPara joint 17 (canonical thumb_cmc) lies 100 mm behind the camera.
    para = np.zeros((3, 21, 1))
    for j in range(21):
        para[:, j, 0] = [10.0 * j, 20.0 + j, 500.0 + j]
    para[2, 17, 0] = -100.0
    os.makedirs("invalid/stb_behind_camera/labels")
    scipy.io.savemat("invalid/stb_behind_camera/labels/B1Counting_SK.mat", {"handPara": para})
    # STB: handPara of dimensions [3, 21, 2, 0]: two frames announced, no values.
    os.makedirs("invalid/stb_dims/labels")
    scipy.io.savemat("invalid/stb_dims/labels/B1Counting_SK.mat", {"handPara": np.zeros((3, 21, 2, 0))})
    # MAT: a miCOMPRESSED element whose stream holds a 1×1 double 'x' and then 1 MiB more
    # than the inner tag declares.
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"x": np.array([[1.0]])}, do_compression=False)
    raw = buf.getvalue()
    z = zlib.compress(raw[128:] + bytes(1 << 20), 9)
    with open("invalid/mat_inflates_past_tag.mat", "wb") as f:
        f.write(raw[:128] + struct.pack("<II", 15, len(z)) + z)
    # MAT: a miCOMPRESSED element whose inner tag declares a 1 GiB miMATRIX from a few bytes.
    z = zlib.compress(struct.pack("<II", 14, 1 << 30), 9)
    with open("invalid/mat_declares_1gib.mat", "wb") as f:
        f.write(raw[:128] + struct.pack("<II", 15, len(z)) + z)


if sys.argv[1:] == ["invalid"]:
    invalid_fixtures()
    print("invalid fixtures written")
    sys.exit(0)

from PIL import Image  # noqa: E402 (only the valid fixtures need Pillow)


# ---- RHD: one hand's README order is wrist, then per finger tip → base.
rhd_names = ["wrist"] + [f"{f}{k}" for f in FINGERS for k in (4, 3, 2, 1)]
fresh("rhd")
for split, proto, dtype in (("training", 3, np.float32), ("evaluation", 2, np.float64)):
    anno = {}
    for sid in range(2):
        xyz = np.zeros((42, 3), dtype)
        uv = np.zeros((42, 3), dtype)
        for hand in range(2):  # 0: left hand (0..20), 1: right (21..41)
            for j, name in enumerate(rhd_names):
                c = canon(name)
                xyz[21 * hand + j] = [0.001 * c + 0.1 * hand, 0.002 * c, 0.5 + 0.001 * c]  # metres
                uv[21 * hand + j] = [100 + c + 50 * hand, 120 + c, 1.0 if hand == sid else 0.0]
        anno[sid] = {"xyz": xyz, "uv_vis": uv, "K": np.array([[283.1, 0, 160], [0, 283.1, 160], [0, 0, 1]], dtype)}
        image(f"rhd/RHD_published_v2/{split}/color/{sid:05d}.png", (320, 320), (40 + 100 * sid, 90, 200), "PNG")
        # Mask: sample 0 has more left-hand pixels (class 5), sample 1 more right-hand (class 22).
        mask = np.zeros((320, 320), np.uint8)
        mask[:40, :40] = 5 if sid == 0 else 22
        mask[300:, 300:] = 22 if sid == 0 else 5
        Image.fromarray(mask, "L").save(f"rhd/RHD_published_v2/{split}/mask/{sid:05d}.png") if os.makedirs(
            f"rhd/RHD_published_v2/{split}/mask", exist_ok=True) is None else None
    with open(f"rhd/RHD_published_v2/{split}/anno_{split}.pickle", "wb") as f:
        pickle.dump(anno, f, protocol=proto)

# ---- STB: handPara joint axis is palm, then little, ring, middle, index, thumb, each base → tip.
stb_names = ["wrist"] + [f"{f}{k}" for f in reversed(FINGERS) for k in (1, 2, 3, 4)]  # slot 0 holds the palm centre
fresh("stb")
for seq, compress in (("B1Counting", True), ("B2Random", False)):
    frames = 3
    para = np.zeros((3, 21, frames))
    for j, name in enumerate(stb_names):
        c = canon(name)
        for f in range(frames):
            para[:, j, f] = [10.0 * c + f, 20.0 + c, 500.0 + c]  # mm, depth-camera frame
    scipy.io.savemat(f"stb/labels/{seq}_SK.mat" if os.makedirs("stb/labels", exist_ok=True) is None else "",
                     {"handPara": para}, do_compression=compress)
    for f in range(frames):
        image(f"stb/images/{seq}/SK_color_{f}.png", (64, 48), (30 * f, 100, 150), "PNG")

# ---- LM: _joints.txt rows by name; the 22nd row (PALM_NORMAL) is a direction.
lm_rows = [("F4_KNU1_A", "index2"), ("F4_KNU1_B", "index1"), ("F4_KNU2_A", "index3"), ("F4_KNU3_A", "index4"),
           ("F3_KNU1_A", "middle2"), ("F3_KNU1_B", "middle1"), ("F3_KNU2_A", "middle3"), ("F3_KNU3_A", "middle4"),
           ("F1_KNU1_A", "little2"), ("F1_KNU1_B", "little1"), ("F1_KNU2_A", "little3"), ("F1_KNU3_A", "little4"),
           ("F2_KNU1_A", "ring2"), ("F2_KNU1_B", "ring1"), ("F2_KNU2_A", "ring3"), ("F2_KNU3_A", "ring4"),
           ("TH_KNU1_A", "thumb2"), ("TH_KNU1_B", "thumb1"), ("TH_KNU2_A", "thumb3"), ("TH_KNU3_A", "thumb4"),
           ("PALM_POSITION", "wrist")]
fresh("lm")
for f in range(5):
    d = "lm/annotated_frames/data_1"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/{f}_joints.txt", "w") as out:
        for name, joint in lm_rows:
            c = canon(joint)
            out.write(f"{name} {10.0 * c + f} {-5.0 * c} {0.5 * c}\n")
        out.write("PALM_NORMAL 0.1 -0.9 0.2\n")
    image(f"{d}/{f}_webcam_1.jpg", (64, 48), (200, 50 * f, 80), "JPEG")
cal = "lm/calibrations/data_1/webcam_1"
os.makedirs(cal)
# rvec: a 90° turn about z; written by Python 3 in protocol 0 (text opcodes).
with open(f"{cal}/rvec.pkl", "wb") as out:
    pickle.dump(np.array([[0.0], [0.0], [np.pi / 2]]), out, protocol=0)
# tvec: what Python 2's cPickle.dump(arr) (protocol 0) writes, byte for byte: the
# array data is a py2 str, i.e. a STRING opcode with a repr-escaped payload.
raw = np.array([[10.0], [-20.0], [400.0]]).tobytes()
payload = "".join("\\x%02x" % b for b in raw)
tvec = ("cnumpy.core.multiarray\n_reconstruct\np0\n(cnumpy\nndarray\np1\n(I0\ntp2\nS'b'\np3\ntp4\nRp5\n"
        "(I1\n(L3L\nL1L\ntp6\ncnumpy\ndtype\np7\n(S'f8'\np8\nI0\nI1\ntp9\nRp10\n"
        "(I3\nS'<'\np11\nNNNI-1\nI-1\nI0\ntp12\nbI00\nS'" + payload + "'\np13\ntp14\nb.")
with open(f"{cal}/tvec.pkl", "wb") as out:
    out.write(tvec.encode("latin-1"))

# ---- FreiHAND: JSON lists, canonical order already, metres.
fresh("freihand")
for split, n in (("training", 3), ("evaluation", 1)):
    ks = [[[500.0 + i, 0, 112], [0, 500.0 + i, 112], [0, 0, 1]] for i in range(n)]
    xyz = [[[0.001 * c + 0.01 * i, 0.002 * c, 0.4 + 0.001 * c] for c in range(21)] for i in range(n)]
    json.dump(ks, open(f"freihand/{split}_K.json", "w"))
    json.dump(xyz, open(f"freihand/{split}_xyz.json", "w"))
    for i in range(n):
        image(f"freihand/{split}/rgb/{i:08d}.jpg", (224, 224), (90, 60 + 40 * i, 30), "JPEG")
invalid_fixtures()
print("fixtures written")

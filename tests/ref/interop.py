#!/usr/bin/env python3
"""numpy side of tests/test_interop.c.

Values follow one formula on both sides, v(i) = ((i * 37) % 101) - 50 for
signed types, divided by 4 for floating types (exact in float16 and
bfloat16), and (i * 37) % 101 for uint8; i is the flat C-order index.

  interop.py check-npy DIR     check the .npy files strata wrote (listed in
                               DIR/manifest.txt: name dtype d0[,d1])
  interop.py write-npy DIR     write .npy files for strata to read
  interop.py check-st FILE     parse a strata safetensors file by hand
  interop.py write-st FILE     write a safetensors file by hand
Prints "ok" and exits 0 when every check passes.
"""
import json
import struct
import sys

import numpy as np

DT = {"f32": np.float32, "f16": np.float16, "i32": np.int32, "i64": np.int64, "u8": np.uint8}


def values(dt, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.int64)
    if dt == "u8":
        v = (i * 37) % 101
    else:
        v = ((i * 37) % 101) - 50
    v = v.astype(np.float64)
    if dt in ("f32", "f16", "bf16"):
        v = v / 4.0
    if dt == "bf16":
        return v.astype(np.float32).reshape(shape)
    return v.astype(DT[dt]).reshape(shape)


def check_npy(d):
    n = 0
    for line in open(f"{d}/manifest.txt"):
        name, dt, shp = line.split()
        shape = tuple(int(x) for x in shp.split(","))
        a = np.load(f"{d}/{name}")
        want = values(dt, shape)
        assert a.dtype == want.dtype, (name, a.dtype, want.dtype)
        assert a.shape == shape, (name, a.shape, shape)
        assert a.flags["C_CONTIGUOUS"]
        assert np.array_equal(a, want), name
        n += 1
    print(f"ok {n}")


def write_npy(d):
    for dt in DT:
        np.save(f"{d}/np_{dt}_2d.npy", values(dt, (5, 3)))
        np.save(f"{d}/np_{dt}_1d.npy", values(dt, (7,)))
    np.save(f"{d}/np_f32_empty.npy", np.zeros((0, 4), np.float32))
    with open(f"{d}/np_v2.npy", "wb") as f:
        np.lib.format.write_array(f, values("f32", (4, 6)), version=(2, 0))
    np.save(f"{d}/np_fortran.npy", np.asfortranarray(values("f32", (3, 4))))
    assert np.load(f"{d}/np_fortran.npy").flags["F_CONTIGUOUS"]
    # shape disagrees with size: header says 5 rows, data holds 4
    a = values("f32", (4, 3))
    with open(f"{d}/np_short.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (5, 3)})
        f.write(a.tobytes())
    print("ok")


def read_st(path):
    raw = open(path, "rb").read()
    (hl,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hl])
    data = raw[8 + hl:]
    return header, data


def check_st(path):
    header, data = read_st(path)
    assert header["__metadata__"] == {"format": "pt", "who": "strata"}, header
    want = {"w.f32": ("F32", (3, 5)), "w.f16": ("F16", (4,)), "w.bf16": ("BF16", (2, 3)),
            "w.i64": ("I64", (6,))}
    assert set(k for k in header if k != "__metadata__") == set(want), header.keys()
    for name, (dt, shape) in want.items():
        h = header[name]
        assert h["dtype"] == dt and tuple(h["shape"]) == shape, (name, h)
        b, e = h["data_offsets"]
        buf = data[b:e]
        if dt == "F32":
            a = np.frombuffer(buf, "<f4")
            ref = values("f32", shape)
        elif dt == "F16":
            a = np.frombuffer(buf, "<f2")
            ref = values("f16", shape)
        elif dt == "BF16":
            a = (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32)
            ref = values("bf16", shape)
        else:
            a = np.frombuffer(buf, "<i8")
            ref = values("i64", shape)
        assert a.size == int(np.prod(shape)), name
        assert np.array_equal(a.reshape(shape), ref), name
    print("ok")


def write_st(path, bad=False):
    tensors = {"x.f32": values("f32", (2, 7)),
               "x.f16": values("f16", (3, 3)),
               "x.bf16": (values("bf16", (5,)).view(np.uint32) >> 16).astype("<u2"),
               "x.i32": values("i32", (4,))}
    dtypes = {"x.f32": "F32", "x.f16": "F16", "x.bf16": "BF16", "x.i32": "I32"}
    header, blobs, off = {"__metadata__": {"format": "np"}}, [], 0
    for name, a in tensors.items():
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[name], "shape": [5] if name == "x.bf16" else list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if bad:  # last tensor claims bytes past the end of the file
        header["x.i32"]["data_offsets"] = [off - 16, off + 400]
        header["x.i32"]["shape"] = [104]
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    print("ok")


cmd, arg = sys.argv[1], sys.argv[2]
{"check-npy": check_npy, "write-npy": write_npy, "check-st": check_st,
 "write-st": write_st, "write-st-bad": lambda p: write_st(p, bad=True)}[cmd](arg)

#!/usr/bin/env python3
"""Convert a PyTorch `pytorch_model.bin` (a state dict) into
`model.safetensors` (F32, names unchanged) so `strata embed` can load it.

usage: /usr/bin/python3 tests/ref/encoder_convert.py MODEL_DIR

Needs only torch (Debian's python3-torch with its matching numpy); writes
the safetensors format by hand: 8-byte little-endian header length, a JSON
header {name: {dtype, shape, data_offsets}}, then the raw little-endian
data, 8-byte aligned.
"""
import json
import os
import struct
import sys

import torch


def main():
    d = sys.argv[1]
    sd = torch.load(os.path.join(d, "pytorch_model.bin"), map_location="cpu")
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(sd):
        t = sd[name]
        if not torch.is_tensor(t):
            continue
        if t.dtype in (torch.float16, torch.bfloat16, torch.float64):
            t = t.to(torch.float32)
        dt = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}.get(t.dtype)
        if dt is None:
            continue
        raw = t.contiguous().numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = os.path.join(d, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, os.path.join(d, "model.safetensors"))


if __name__ == "__main__":
    main()

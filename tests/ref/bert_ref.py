#!/usr/bin/env python3
"""Independent reference BERT encoder in PyTorch (no transformers library).

usage: bert_ref.py MODEL_DIR TEXTS_JSONL OUT_NPY [--max-len 128]
                   [--batch-size 64] [--threads N] [--pool auto|cls|mean]
                   [--normalize auto|yes|no] [--time]

Reads model.safetensors by hand (8-byte header length, JSON header, raw
little-endian data), config.json, and the sentence-transformers files
(1_Pooling/config.json, modules.json with a Normalize module). Tokenizes
with Hugging Face `tokenizers` from tokenizer.json (or vocab.txt through
BertWordPieceTokenizer), truncating to --max-len tokens including [CLS] and
[SEP]. Runs a straightforward post-LN BERT forward in float32 under
torch.inference_mode(): embeddings (token type 0) + LayerNorm; per layer
multi-head self-attention with an additive mask on padded keys, dense,
residual + LayerNorm, exact-erf GELU feed-forward, residual + LayerNorm;
then CLS or masked-mean pooling and optional L2 normalization.

Batches: texts sorted by token count (longest first, ties by input index)
inside chunks of 8192 texts, cut into --batch-size batches padded to the
longest text of each batch — the same batches the C encoder forms. With
--time, prints "texts/s N" and "seconds S" for the forward passes
(tokenization excluded).
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

DT = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64,
      "I32": np.int32, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[a:b]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(DT[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(info["shape"])
    return out


def to_torch(arr):
    """numpy float array -> torch float32 tensor through bytes (works even
    when the venv's numpy is newer than the one torch was built against)."""
    a = np.ascontiguousarray(arr, dtype="<f4")
    return torch.frombuffer(bytearray(a.tobytes()), dtype=torch.float32).reshape(a.shape)


def to_numpy(t):
    """torch float32 tensor -> numpy array through Python floats (exact)."""
    return np.array(t.to(torch.float32).tolist(), dtype=np.float32)


def load_model(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    raw = read_safetensors(os.path.join(d, "model.safetensors"))
    w = {}
    for k, v in raw.items():
        k = k[5:] if k.startswith("bert.") else k
        k = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if v.dtype == np.int64:
            continue  # embeddings.position_ids buffer
        w[k] = to_torch(v)
    pool, normalize = "mean", False
    pc = os.path.join(d, "1_Pooling", "config.json")
    if os.path.exists(pc):
        p = json.load(open(pc))
        pool = "cls" if p.get("pooling_mode_cls_token") else "mean"
    mj = os.path.join(d, "modules.json")
    if os.path.exists(mj):
        normalize = any("Normalize" in m.get("type", "") for m in json.load(open(mj)))
    return cfg, w, pool, normalize


def tokenizer_for(d):
    from tokenizers import Tokenizer
    tj = os.path.join(d, "tokenizer.json")
    if os.path.exists(tj):
        tok = Tokenizer.from_file(tj)
    else:
        from tokenizers import BertWordPieceTokenizer
        lc = True
        tc = os.path.join(d, "tokenizer_config.json")
        if os.path.exists(tc):
            lc = json.load(open(tc)).get("do_lower_case", True)
        tok = BertWordPieceTokenizer(os.path.join(d, "vocab.txt"), lowercase=lc)
    tok.no_padding()
    return tok


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def bert_forward(cfg, w, ids, mask, pool, normalize):
    """ids, mask: int64 [B, T]. Returns [B, C] float32."""
    B, T = ids.shape
    C = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    hs = C // H
    eps = cfg.get("layer_norm_eps", 1e-12)
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:T][None]
         + w["embeddings.token_type_embeddings.weight"][0][None, None])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    add = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
    lin = torch.nn.functional.linear
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l

        def heads(t):
            return t.view(B, T, H, hs).permute(0, 2, 1, 3)

        q = heads(lin(x, w[p + "attention.self.query.weight"], w[p + "attention.self.query.bias"]))
        k = heads(lin(x, w[p + "attention.self.key.weight"], w[p + "attention.self.key.bias"]))
        v = heads(lin(x, w[p + "attention.self.value.weight"], w[p + "attention.self.value.bias"]))
        s = torch.matmul(q, k.transpose(-1, -2)) / (hs ** 0.5) + add
        a = torch.softmax(s, dim=-1)
        ctx = torch.matmul(a, v).permute(0, 2, 1, 3).reshape(B, T, C)
        h = lin(ctx, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"])
        x = layer_norm(h + x, w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"], eps)
        f = torch.nn.functional.gelu(lin(x, w[p + "intermediate.dense.weight"],
                                         w[p + "intermediate.dense.bias"]))
        h = lin(f, w[p + "output.dense.weight"], w[p + "output.dense.bias"])
        x = layer_norm(h + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    if pool == "cls":
        out = x[:, 0]
    else:
        m = mask[:, :, None].to(torch.float32)
        out = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if normalize:
        out = torch.nn.functional.normalize(out, p=2, dim=1)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("texts")
    ap.add_argument("out")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--pool", default="auto")
    ap.add_argument("--normalize", default="auto")
    ap.add_argument("--time", action="store_true")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    cfg, w, pool, normalize = load_model(a.model)
    if a.pool != "auto":
        pool = a.pool
    if a.normalize != "auto":
        normalize = a.normalize == "yes"
    texts = []
    with open(a.texts, encoding="utf-8") as f:
        for line in f:
            v = json.loads(line)
            texts.append(v["text"] if isinstance(v, dict) else v)
    tok = tokenizer_for(a.model)
    tok.enable_truncation(max_length=min(a.max_len, cfg["max_position_embeddings"]))
    encs = [e.ids for e in tok.encode_batch(texts)]
    n = len(encs)
    out = np.zeros((n, cfg["hidden_size"]), dtype=np.float32)
    batches = []
    for c0 in range(0, n, 8192):
        idx = list(range(c0, min(n, c0 + 8192)))
        idx.sort(key=lambda i: (-len(encs[i]), i))
        for b0 in range(0, len(idx), a.batch_size):
            bi = idx[b0:b0 + a.batch_size]
            T = len(encs[bi[0]])
            ids = torch.zeros((len(bi), T), dtype=torch.int64)
            mask = torch.zeros((len(bi), T), dtype=torch.int64)
            for r, i in enumerate(bi):
                ids[r, :len(encs[i])] = torch.tensor(encs[i])
                mask[r, :len(encs[i])] = 1
            batches.append((bi, ids, mask))
    t0 = time.perf_counter()
    with torch.inference_mode():
        for bi, ids, mask in batches:
            out[bi] = to_numpy(bert_forward(cfg, w, ids, mask, pool, normalize))
    dt = time.perf_counter() - t0
    np.save(a.out, out)
    if a.time:
        print("texts/s %.2f" % (n / dt))
        print("seconds %.4f" % dt)


if __name__ == "__main__":
    sys.exit(main())

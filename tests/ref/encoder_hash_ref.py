#!/usr/bin/env python3
"""Independent numpy implementation of Strata's hashed TF-IDF embedder
(definition in include/strata/embed.h).

usage: encoder_hash_ref.py FIT_JSONL EMBED_JSONL OUT_NPY [--dim 256]
                           [--nnz 4] [--seed 1] [--bigrams]

FIT_JSONL: texts the IDF is fitted on; EMBED_JSONL: texts to embed (each
line a JSON string). Words come from Hugging Face `tokenizers`'
BertNormalizer (lowercase, strip accents, clean text, CJK) and
BertPreTokenizer — not from Strata's tokenizer.
"""
import argparse
import json
import math

import numpy as np
from tokenizers import normalizers, pre_tokenizers

M64 = (1 << 64) - 1
BUCKETS = 1 << 20


def hash64(data, seed):
    """strata_hash64: FNV-1a over the bytes, then a splitmix64 finalizer."""
    h = (0xCBF29CE484222325 ^ seed) & M64
    for c in data:
        h ^= c
        h = (h * 0x100000001B3) & M64
    z = (h + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


NORM = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                  strip_accents=True, lowercase=True)
PRE = pre_tokenizers.BertPreTokenizer()


def buckets(text, bigrams):
    words = [w for w, _ in PRE.pre_tokenize_str(NORM.normalize_str(text))]
    out = [hash64(w.encode(), 1) % BUCKETS for w in words]
    if bigrams:
        out += [hash64((a + " " + b).encode(), 2) % BUCKETS
                for a, b in zip(words, words[1:])]
    return out


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fit")
    ap.add_argument("embed")
    ap.add_argument("out")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--nnz", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bigrams", action="store_true")
    a = ap.parse_args()
    fit = read(a.fit)
    df = np.zeros(BUCKETS, dtype=np.int64)
    for t in fit:
        for b in set(buckets(t, a.bigrams)):
            df[b] += 1
    # float32 idf, as the C table stores it
    idf = (np.log((1.0 + len(fit)) / (1.0 + df)) + 1.0).astype(np.float32)
    texts = read(a.embed)
    out = np.zeros((len(texts), a.dim), dtype=np.float64)
    proj = {}
    for i, t in enumerate(texts):
        bs, tf = np.unique(np.array(buckets(t, a.bigrams), dtype=np.int64), return_counts=True)
        for b, c in zip(bs.tolist(), tf.tolist()):
            x = (1.0 + math.log(c)) * float(idf[b]) / math.sqrt(a.nnz)
            if b not in proj:
                le = int(b).to_bytes(8, "little")
                proj[b] = [hash64(le, a.seed ^ (((j + 1) * 0x9E3779B97F4A7C15) & M64))
                           for j in range(a.nnz)]
            for r in proj[b]:
                out[i, (r >> 1) % a.dim] += x if r & 1 else -x
        n = np.linalg.norm(out[i])
        if n > 0:
            out[i] /= n
    np.save(a.out, out.astype(np.float32))


if __name__ == "__main__":
    main()
